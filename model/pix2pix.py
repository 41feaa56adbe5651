"""Pix2Pix: the conditional GAN training model that `model.fit` drives."""

import keras
import tensorflow as tf
from keras import ops

from model import colour_bins, losses


class Pix2Pix(keras.Model):
    """Trains a generator against a conditional discriminator (Isola et al., 2017).

    Data: (condition, target) batches, e.g. (L, ab) in [-1, 1]. Each train step computes
    what the TensorFlow pix2pix tutorial's two-tape step computes, with less work:
      1. the generator colours the batch once;
      2. the discriminator judges the real pair and the fake pair (two calls, so its
         BatchNorm sees each kind alone); its one verdict on the fake feeds both the
         discriminator's loss and the generator's adversarial loss;
      3. both networks are updated from these losses (simultaneous updates): D on its
         loss, G on the adversarial loss + l1_weight * L1 to the target.
    For "wgangp" the critic first gets n_critic - 1 updates of its own on the same fake,
    each with the gradient penalty (which the joint update includes too).
    With adversarial=False (L1 pretraining) only the generator learns, on L1 alone.
    Use model.fused_adam.FusedAdam optimizers for speed; the update is Adam's either way.

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
        self.adversarial_weight = 1.0  # of g_gan in the generator's loss (SGRUTrainer: --gan-weight)
        # A "bins" colour head is trained on its logits: one forward pass gives them and the a*b*.
        self.generator_with_logits = None
        if getattr(generator, "colour_head", "direct") == "bins":
            self.generator_with_logits = keras.Model(
                generator.input, [generator.outputs[0], generator.get_layer("colour_logits").output],
                name="generator_with_logits")
            self.colour_centres = generator.get_layer("annealed_mean").centres

    def compile(self, g_optimizer, d_optimizer, gan_mode="vanilla", l1_weight=100.0, gp_weight=10.0,
                n_critic=None, label_smoothing=0.0, adversarial=True, rebalance=0.0, **kwargs):
        """Set optimizers and losses.

        n_critic: discriminator steps per generator step; None means 5 for "wgangp"
        (Gulrajani et al.) and 1 otherwise.
        label_smoothing: one-sided; real pairs are labelled 1 - label_smoothing.
        adversarial: False trains the generator on L1 alone (pretraining phase).
        rebalance: strength in [0, 1] of weighting each a*b* pixel's L1 against common colours
            (losses.rebalanced_l1_loss with Zhang et al.'s mix lambda = 1 - strength): 0 is plain
            L1, 0.5 the paper's weights, 1 the full inverse frequency.
        A generator with a "bins" colour head learns on the cross-entropy of its colour bins in
        place of L1 (colour_bins.bins_loss, rebalanced the same way); l1_weight weighs it and
        g_l1 logs it. The cross-entropy (about 2-5) is far larger than an L1 (about 0.07), so at
        the same l1_weight the adversarial term counts for much less beside it (~0.3% of
        g_total against ~10% with L1 in the real-art benchmark).
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
        if not 0.0 <= rebalance <= 1.0:
            raise ValueError(f"rebalance must be in [0, 1]; received rebalance={rebalance}")
        self.rebalance = float(rebalance)
        # Create the optimizer slots now, outside any tf.function, so a checkpoint can
        # restore them before the first step.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Nothing to build: both networks are built at construction, the optimizers in compile
        and the losses live in train_step. (Keras' version also averages a first data batch
        across replicas, which fails under MultiWorkerMirroredStrategy.)"""

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_gan_tracker, self.g_l1_tracker, self.g_total_tracker]

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    # Under a mixed precision policy the networks compute in float16/bfloat16; losses,
    # gradients of the loss and metrics stay float32.
    def _generate(self, condition, training):
        """(a*b* or RGB, colour-bin logits or None) of the generator on the condition."""
        if self.generator_with_logits is not None:
            fake, logits = self.generator_with_logits(condition, training=training)
            return ops.cast(fake, "float32"), logits
        return ops.cast(self.generator(condition, training=training), "float32"), None

    def _judge(self, condition, image, training):
        return ops.cast(self.discriminator([condition, image], training=training), "float32")

    @staticmethod
    def _apply(optimizer, tape, loss, variables):
        """One optimizer step on the mean loss over the global batch.

        Each replica's loss is its own batch's mean and the optimizer sums the replicas'
        gradients, so the loss is divided by their number (1 without a strategy).
        scale_loss is the identity unless the optimizer is a LossScaleOptimizer.
        """
        with tape:  # recorded, or the scaled loss would have no gradient
            scaled = optimizer.scale_loss(loss / tf.distribute.get_strategy().num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        optimizer.apply(grads, variables)

    def _judged(self, target, fake):
        """What the discriminator sees of the generator's output (all of it, here)."""
        return fake

    def _reconstruction(self, condition, target, fake, logits=None):
        """The generator's reconstruction term (L1 here, or the colour bins' cross-entropy when the
        generator gives logits; rebalanced if asked), logged as g_l1."""
        if logits is not None:
            small = colour_bins.subsampled_target(target, logits.shape[1])
            weights = losses.rebalancing_weights(small, mix=1.0 - self.rebalance) if self.rebalance else None
            return colour_bins.bins_loss(small, logits, self.colour_centres, weights)
        if self.rebalance:
            return losses.rebalanced_l1_loss(target, fake, mix=1.0 - self.rebalance)
        return losses.l1_loss(target, fake)

    def _step_losses(self, condition, target, fake, training, real_logits=None, colour_logits=None):
        """(d_loss or None, g_gan, g_l1, g_total) from one discriminator verdict on the fake."""
        g_l1 = self._reconstruction(condition, target, fake, colour_logits)
        if not self.adversarial:
            return None, ops.zeros((), dtype="float32"), g_l1, self.l1_weight * g_l1
        if real_logits is None:
            real_logits = self._judge(condition, target, training)
        fake_logits = self._judge(condition, self._judged(target, fake), training)
        d_loss = losses.discriminator_loss(real_logits, fake_logits, self.gan_mode, self.real_label)
        g_gan = losses.generator_adversarial_loss(fake_logits, self.gan_mode)
        return d_loss, g_gan, g_l1, self.adversarial_weight * g_gan + self.l1_weight * g_l1

    def _critic_loss(self, condition, target, fake):
        """An extra WGAN-GP critic update's loss on a gradient-stopped fake."""
        judged = self._judged(target, fake)
        real_logits = self._judge(condition, target, training=True)
        fake_logits = self._judge(condition, judged, training=True)
        return (losses.discriminator_loss(real_logits, fake_logits, self.gan_mode, self.real_label)
                + self.gp_weight * self._gradient_penalty(condition, target, judged))

    def _gradient_penalty(self, condition, target, fake):
        """WGAN-GP: (||grad D(x_hat)|| - 1)^2 on random points between real and fake."""
        batch = ops.shape(target)[0]
        alpha = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        mixed = alpha * target + (1.0 - alpha) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            logits = self._judge(condition, mixed, training=True)
        grads = tape.gradient(logits, mixed)
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3]) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def _update_trackers(self, d_loss, g_gan, g_l1, g_total):
        # Each update weighs its value by a one computed from it (value * 0 + 1; ones_like would be a
        # constant). A Mean's count otherwise grows by a constant that does not wait for the batch: on
        # a stream of unknown length (the validation stream, which leaves out undecodable files)
        # Keras' last call finds no batch, the totals stay but every count still grows by one, and
        # the val_* losses came out multiplied by steps / (steps + 1): halved for one batch.
        def update(tracker, value):
            tracker.update_state(value, sample_weight=value * 0.0 + 1.0)

        if d_loss is not None:
            update(self.d_loss_tracker, d_loss)
            update(self.g_gan_tracker, g_gan)
        update(self.g_l1_tracker, g_l1)
        update(self.g_total_tracker, g_total)
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages step outputs across workers along axis 0, which a scalar lacks.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data):
        condition, target = data
        with tf.GradientTape() as g_tape:
            fake, colour_logits = self._generate(condition, training=True)
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        if not self.adversarial:
            with g_tape:
                d_loss, g_gan, g_l1, g_total = self._step_losses(condition, target, fake, True,
                                                                 colour_logits=colour_logits)
            self._apply(self.g_optimizer, g_tape, g_total, g_vars)
            return self._update_trackers(d_loss, g_gan, g_l1, g_total)

        fixed_fake = tf.stop_gradient(fake)
        for _ in range(self.n_critic - 1):
            with tf.GradientTape() as critic_tape:
                critic_loss = self._critic_loss(condition, target, fixed_fake)
            self._apply(self.d_optimizer, critic_tape, critic_loss, d_vars)

        # The real pair is recorded by D's tape only; the fake's verdict by both tapes.
        # g_tape resumes recording, so the generator's forward pass above is reused.
        with tf.GradientTape() as d_tape:
            real_logits = self._judge(condition, target, training=True)
        with g_tape, d_tape:
            d_loss, g_gan, g_l1, g_total = self._step_losses(condition, target, fake, True, real_logits,
                                                             colour_logits)
        if self.gan_mode == "wgangp":
            with d_tape:
                d_loss += self.gp_weight * self._gradient_penalty(condition, target, self._judged(target, fixed_fake))
        # fake entered d_tape as a constant: D's gradients do not flow into G.
        self._apply(self.d_optimizer, d_tape, d_loss, d_vars)
        self._apply(self.g_optimizer, g_tape, g_total, g_vars)
        return self._update_trackers(d_loss, g_gan, g_l1, g_total)

    def test_step(self, data):
        condition, target = data
        fake, colour_logits = self._generate(condition, training=False)
        return self._update_trackers(*self._step_losses(condition, target, fake, False, colour_logits=colour_logits))
