"""Adversarial and reconstruction losses, written with keras.ops."""

from keras import ops

GAN_MODES = ("vanilla", "lsgan", "wgangp")


def _check_mode(mode):
    if mode not in GAN_MODES:
        raise ValueError(f"gan_mode must be one of {GAN_MODES}; received gan_mode={mode!r}")


def _bce_with_logits(logits, target):
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


def discriminator_loss(real_logits, fake_logits, mode="vanilla", real_label=1.0):
    """Loss of the discriminator (critic for "wgangp", without its gradient penalty).

    vanilla: cross-entropy, halved as in pix2pix so D learns at half G's pace; its value at
    the equilibrium where D cannot tell real from fake is log 2 ~ 0.693.
    lsgan: least squares (Mao et al.), halved likewise; equilibrium 0.25 at outputs 0.5.
    real_label < 1 is one-sided label smoothing, a brake on a discriminator that wins.
    """
    _check_mode(mode)
    if mode == "vanilla":
        return 0.5 * (_bce_with_logits(real_logits, real_label) + _bce_with_logits(fake_logits, 0.0))
    if mode == "lsgan":
        return 0.5 * (ops.mean(ops.square(real_logits - real_label)) + ops.mean(ops.square(fake_logits)))
    return ops.mean(fake_logits) - ops.mean(real_logits)


def generator_adversarial_loss(fake_logits, mode="vanilla"):
    """The generator's adversarial term: make D call the fakes real."""
    _check_mode(mode)
    if mode == "vanilla":
        return _bce_with_logits(fake_logits, 1.0)
    if mode == "lsgan":
        return ops.mean(ops.square(fake_logits - 1.0))
    return -ops.mean(fake_logits)


def l1_loss(target, prediction):
    return ops.mean(ops.abs(target - prediction))
