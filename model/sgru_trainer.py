"""Training model for the SGRU: perceptual loss over N colourings, optional PatchGAN."""

from keras import ops

from model import perceptual
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
        self.adversarial_weight = self.gan_weight

    def _nearest_colouring(self, target, fake):
        """(batch, H, W, 3N) -> (batch, H, W, 3): per sample, the output closest to the target."""
        outputs = ops.stack([fake[..., 3 * i: 3 * i + 3] for i in range(self.num_outputs)], axis=1)
        distance = ops.mean(ops.abs(outputs - target[:, None]), axis=[2, 3, 4])  # (batch, N)
        choice = ops.one_hot(ops.argmin(distance, axis=1), self.num_outputs)[:, :, None, None, None]
        return ops.sum(outputs * ops.stop_gradient(choice), axis=1)

    def _judged(self, target, fake):
        return self._nearest_colouring(target, fake)

    def _reconstruction(self, condition, target, fake, logits=None):
        # The line art is the condition's first channel; hint channels follow it.
        return perceptual.sgru_loss(self.features, condition[..., :1], target, fake, self.num_outputs)
