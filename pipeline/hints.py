"""Colour hints as network inputs: an RGBA hint image at the picture's size -> hint colour and
mask at the network's size.

Resizing must not lose hints: a 1 px hint on a 4000 px page covers 1/240 of a 256 px pixel,
which an ordinary resize of the hint colours would average away. The colour is therefore
premultiplied by its opacity, both are area-averaged, and the colour divided back: every
network pixel that any hint touches is a hint (mask 1) with the mean colour of the hints
over it, and all others are 0.
"""

import tensorflow as tf

from pipeline import color


def hints_at_size(rgba, size):
    """uint8 RGBA [..., H, W, 4] -> (float RGB [..., S, S, 3] in [0, 1], mask [..., S, S, 1] in {0, 1}).

    Pixels count as hints by their opacity (alpha / 255); the colour where the mask is 0 is 0.
    """
    rgba = tf.cast(rgba, tf.float32) / 255.0
    alpha = rgba[..., 3:]
    premultiplied = tf.concat([rgba[..., :3] * alpha, alpha], axis=-1)
    small = tf.image.resize(premultiplied, [size, size], method="area")
    coverage = small[..., 3:]
    mask = tf.cast(coverage > 0, tf.float32)
    rgb = tf.math.divide_no_nan(small[..., :3], coverage)
    return tf.clip_by_value(rgb, 0.0, 1.0) * mask, mask


def gray_hint_channels(rgba, size):
    """Grayscale task: RGBA hints -> [..., S, S, 3] = normalised a*b* of the hint colours (as the
    targets, ab / 110) and the 0/1 mask, ideepcolor's hint input beside L*."""
    rgb, mask = hints_at_size(rgba, size)
    ab = color.normalize_ab(color.rgb_to_lab(rgb)[..., 1:]) * mask
    return tf.concat([ab, mask], axis=-1)
