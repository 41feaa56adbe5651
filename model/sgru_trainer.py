"""Training model for the SGRU: perceptual loss over N colourings, optional PatchGAN."""

from keras import ops

from model import losses, perceptual
from model.pix2pix import Pix2Pix


class SGRUTrainer(Pix2Pix):
    """Pix2Pix's loop with the SGRU paper's loss in place of L1.

    Reconstruction: perceptual.sgru_loss (sketch-weighted L1 on pixels and VGG19 features,
    0.999 * min + 0.001 * mean over the N colourings), logged as g_l1 so that history
    columns are the same for every generator. With adversarial=True (train.py's
    --gan-weight > 0) the discriminator judges, per sample, the colouring nearest the
    target in pixel L1, and the generator's loss is gan_weight * g_gan + l1_weight *
    perceptual; compile with l1_weight=1 to keep the paper's scale.
    """

    def __init__(self, generator, discriminator, features, num_outputs, gan_weight=0.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.features = features
        self.num_outputs = int(num_outputs)
        self.gan_weight = float(gan_weight)

    def _nearest_colouring(self, target, fake):
        """(batch, H, W, 3N) -> (batch, H, W, 3): per sample, the output closest to the target."""
        outputs = ops.stack([fake[..., 3 * i: 3 * i + 3] for i in range(self.num_outputs)], axis=1)
        distance = ops.mean(ops.abs(outputs - target[:, None]), axis=[2, 3, 4])  # (batch, N)
        choice = ops.one_hot(ops.argmin(distance, axis=1), self.num_outputs)[:, :, None, None, None]
        return ops.sum(outputs * ops.stop_gradient(choice), axis=1)

    def _discriminator_loss(self, condition, target, fake, training):
        return super()._discriminator_loss(condition, target, self._nearest_colouring(target, fake), training)

    def _generator_losses(self, condition, target, fake, training):
        reconstruction = perceptual.sgru_loss(self.features, condition, target, fake, self.num_outputs)
        if self.adversarial:
            logits = self.discriminator([condition, self._nearest_colouring(target, fake)], training=training)
            g_gan = losses.generator_adversarial_loss(logits, self.gan_mode)
        else:
            g_gan = ops.zeros((), dtype="float32")
        return g_gan, reconstruction, self.gan_weight * g_gan + self.l1_weight * reconstruction
