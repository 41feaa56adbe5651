"""The straightforward pix2pix training step, as the TensorFlow pix2pix tutorial writes it.

Both tapes record the whole forward pass, the discriminator judges real and fake in two
calls, and Keras' Adam updates both networks. The one change from the tutorial is the
discriminator loss, halved as pix2pix (and Irodori) do, so that it computes exactly what
model.pix2pix.Pix2Pix.train_step computes. Used by the tests (same updates) and by
benchmarks/train_step.py (the baseline time).
"""

import keras
import tensorflow as tf


def make_reference_step(generator, discriminator, g_optimizer, d_optimizer, l1_weight=100.0):
    """A tf.function(condition, target) -> (g_total, d_loss) that trains both networks once."""
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(condition, target):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake = generator(condition, training=True)
            real_logits = discriminator([condition, target], training=True)
            fake_logits = discriminator([condition, fake], training=True)
            gen_gan = bce(tf.ones_like(fake_logits), fake_logits)
            gen_l1 = tf.reduce_mean(tf.abs(target - fake))
            gen_total = gen_gan + l1_weight * gen_l1
            disc_loss = 0.5 * (bce(tf.ones_like(real_logits), real_logits)
                               + bce(tf.zeros_like(fake_logits), fake_logits))
        gen_grads = gen_tape.gradient(gen_total, generator.trainable_variables)
        disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        g_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        d_optimizer.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
        return gen_total, disc_loss

    return train_step
