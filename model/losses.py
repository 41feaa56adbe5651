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


# Class rebalancing for a*b* (Zhang, Isola and Efros 2016, "Colorful Image Colorization"), kept as
# a regression: the target's a*b* plane is cut into square bins of 10 Lab units (22 x 22 over the
# model's [-1, 1] = +-110), and each pixel's L1 is weighted by 1 / ((1 - mix) p + mix / Q), where p
# is its bin's share of the batch's pixels and Q the number of bins the batch occupies, normalised
# so that the batch's mean weight is 1. Gray and common colours count less, rare saturated ones
# more: the median that L1 learns moves away from the dull average (the "sepia" colouring).
# mix = 1 weighs every pixel the same (plain L1); smaller mixes weigh rarer colours more. The shares
# are the batch's own (per replica under a distribution strategy), so no state is kept or restored.
# These bins have edges, not centres, at the multiples of 10, so near-gray pixels fall into up to
# four bins and gray is weighed down less than with the paper's gray-centred bins (which
# model.colour_bins classifies into). Measured on the real-art benchmark with the --data
# defaults, the gray-centred bins gave more colour and less accuracy: 56% of the truth's
# colourfulness and CIEDE2000 12.70 (worse than gray's 12.38) against 51% and 12.14 here.
AB_BINS = 22


def rebalancing_weights(target, mix=0.5):
    """Per-pixel weights (B, H, W) for a*b* targets (B, H, W, 2) in [-1, 1]; no gradient flows."""
    target = ops.stop_gradient(ops.cast(target[..., :2], "float32"))
    cells = ops.clip(ops.cast(ops.floor((target + 1.0) * (AB_BINS / 2.0)), "int32"), 0, AB_BINS - 1)
    bins = cells[..., 0] * AB_BINS + cells[..., 1]
    flat = ops.reshape(bins, [-1])
    counts = ops.cast(ops.bincount(flat, minlength=AB_BINS * AB_BINS), "float32")
    share = counts / ops.sum(counts)
    occupied = ops.sum(ops.cast(counts > 0, "float32"))
    weight = 1.0 / ((1.0 - mix) * share + mix / occupied)
    weight = weight / ops.sum(share * weight)  # mean weight over the batch's pixels: 1
    return ops.take(weight, bins)


def rebalanced_l1_loss(target, prediction, mix=0.5):
    """L1 over a*b* with each pixel weighted by rebalancing_weights (the mean of |target - prediction|
    when every pixel has the same colour bin)."""
    weights = rebalancing_weights(target, mix)
    return ops.mean(weights * ops.mean(ops.abs(ops.cast(target, "float32") - prediction), axis=-1))
