"""Pix2Pix: the conditional GAN training model that `model.fit` drives."""

import keras
import tensorflow as tf
from keras import ops

from model import losses


class Pix2Pix(keras.Model):
    """Trains a generator against a conditional discriminator (Isola et al., 2017).

    Data: (condition, target) batches, e.g. (L, ab) in [-1, 1]. Each train step:
      1. the generator colours the batch once;
      2. the discriminator is updated on real and (gradient-stopped) fake pairs,
         n_critic times for "wgangp" with a gradient penalty;
      3. the generator is updated on the adversarial loss against the updated
         discriminator plus l1_weight * L1 to the target, reusing the fake from step 1.
    With adversarial=False (L1 pretraining) only the generator learns, on L1 alone.

    Metrics are epoch means: d_loss, g_gan, g_l1, g_total (val_* from test_step).
    Calling the model runs the generator; export the generator itself, not this wrapper.
    """

    def __init__(self, generator, discriminator, name="pix2pix", **kwargs):
        super().__init__(name=name, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_gan_tracker = keras.metrics.Mean(name="g_gan")
        self.g_l1_tracker = keras.metrics.Mean(name="g_l1")
        self.g_total_tracker = keras.metrics.Mean(name="g_total")
        self.seed_generator = keras.random.SeedGenerator(0)

    def compile(self, g_optimizer, d_optimizer, gan_mode="vanilla", l1_weight=100.0, gp_weight=10.0,
                n_critic=None, label_smoothing=0.0, adversarial=True, **kwargs):
        """Set optimizers and losses.

        n_critic: discriminator steps per generator step; None means 5 for "wgangp"
        (Gulrajani et al.) and 1 otherwise.
        label_smoothing: one-sided; real pairs are labelled 1 - label_smoothing.
        adversarial: False trains the generator on L1 alone (pretraining phase).
        """
        super().compile(**kwargs)
        if gan_mode not in losses.GAN_MODES:
            raise ValueError(f"gan_mode must be one of {losses.GAN_MODES}; received gan_mode={gan_mode!r}")
        if not 0.0 <= label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5); received label_smoothing={label_smoothing}")
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.gan_mode = gan_mode
        self.l1_weight = float(l1_weight)
        self.gp_weight = float(gp_weight)
        self.n_critic = int(n_critic if n_critic is not None else (5 if gan_mode == "wgangp" else 1))
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1; received n_critic={self.n_critic}")
        self.real_label = 1.0 - float(label_smoothing)
        self.adversarial = bool(adversarial)
        # Create the optimizer slots now, outside any tf.function, so a checkpoint can
        # restore them before the first step.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_gan_tracker, self.g_l1_tracker, self.g_total_tracker]

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def _discriminator_loss(self, condition, target, fake, training):
        real_logits = self.discriminator([condition, target], training=training)
        fake_logits = self.discriminator([condition, fake], training=training)
        return losses.discriminator_loss(real_logits, fake_logits, self.gan_mode, self.real_label)

    def _generator_losses(self, condition, target, fake, training):
        if self.adversarial:
            fake_logits = self.discriminator([condition, fake], training=training)
            g_gan = losses.generator_adversarial_loss(fake_logits, self.gan_mode)
        else:
            g_gan = ops.zeros((), dtype="float32")
        g_l1 = losses.l1_loss(target, fake)
        return g_gan, g_l1, g_gan + self.l1_weight * g_l1

    def _gradient_penalty(self, condition, target, fake):
        """WGAN-GP: (||grad D(x_hat)|| - 1)^2 on random points between real and fake."""
        batch = ops.shape(target)[0]
        alpha = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        mixed = alpha * target + (1.0 - alpha) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            logits = self.discriminator([condition, mixed], training=True)
        grads = tape.gradient(logits, mixed)
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3]) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def _update_trackers(self, d_loss, g_gan, g_l1, g_total):
        if d_loss is not None:
            self.d_loss_tracker.update_state(d_loss)
            self.g_gan_tracker.update_state(g_gan)
        self.g_l1_tracker.update_state(g_l1)
        self.g_total_tracker.update_state(g_total)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        condition, target = data
        with tf.GradientTape() as g_tape:
            fake = self.generator(condition, training=True)

        d_loss = None
        if self.adversarial:
            fixed_fake = tf.stop_gradient(fake)
            for _ in range(self.n_critic):
                with tf.GradientTape() as d_tape:
                    d_loss = self._discriminator_loss(condition, target, fixed_fake, training=True)
                    if self.gan_mode == "wgangp":
                        d_loss += self.gp_weight * self._gradient_penalty(condition, target, fixed_fake)
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply(d_tape.gradient(d_loss, d_vars), d_vars)

        # Resume recording on the generator's tape: the fake from above is reused, so the
        # generator runs forward once per step (as in the reference implementation).
        with g_tape:
            g_gan, g_l1, g_total = self._generator_losses(condition, target, fake, training=True)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(g_total, g_vars), g_vars)
        return self._update_trackers(d_loss, g_gan, g_l1, g_total)

    def test_step(self, data):
        condition, target = data
        fake = self.generator(condition, training=False)
        d_loss = None
        if self.adversarial:
            d_loss = self._discriminator_loss(condition, target, fake, training=False)
        g_gan, g_l1, g_total = self._generator_losses(condition, target, fake, training=False)
        return self._update_trackers(d_loss, g_gan, g_l1, g_total)
