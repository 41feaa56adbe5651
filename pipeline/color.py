"""RGB <-> CIE L*a*b* and the network's [-1, 1] scaling; the only place these numbers live.

L* in [0, 100] is fed as L/50 - 1, a*b* (roughly [-110, 110]) as ab/110, following
pix2pix colourisation (junyanz) and seed 002.
"""

import warnings

import tensorflow as tf

with warnings.catch_warnings():
    # tensorflow-io's file-system plugins were built for an older TF and cannot load;
    # its colour ops are plain TF ops and do not need them.
    warnings.filterwarnings("ignore", message=".*(libtensorflow_io|file system plugins).*")
    import tensorflow_io as tfio

L_SCALE = 50.0
L_OFFSET = 1.0
AB_SCALE = 110.0


def rgb_to_lab(rgb):
    """float RGB in [0, 1] (..., 3) -> Lab (..., 3), L in [0, 100], D65 white."""
    return tfio.experimental.color.rgb_to_lab(rgb)


def lab_to_rgb(lab):
    """Lab (..., 3) -> float RGB clipped to [0, 1]."""
    return tf.clip_by_value(tfio.experimental.color.lab_to_rgb(lab), 0.0, 1.0)


def normalize_l(lightness):
    return lightness / L_SCALE - L_OFFSET


def denormalize_l(l_norm):
    return (l_norm + L_OFFSET) * L_SCALE


def normalize_ab(ab):
    return ab / AB_SCALE


def denormalize_ab(ab_norm):
    return ab_norm * AB_SCALE


def rgb_to_model_lab(rgb):
    """float RGB in [0, 1] (..., 3) -> (L in [-1, 1] (..., 1), ab in [-1, 1] (..., 2))."""
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[..., :1]), tf.clip_by_value(normalize_ab(lab[..., 1:]), -1.0, 1.0)


def model_lab_to_rgb(l_norm, ab_norm):
    """Inverse of rgb_to_model_lab: normalised L (..., 1) and ab (..., 2) -> RGB in [0, 1]."""
    lab = tf.concat([denormalize_l(l_norm), denormalize_ab(ab_norm)], axis=-1)
    return lab_to_rgb(lab)


def to_uint8(rgb):
    """float RGB in [0, 1] -> uint8, rounded and clipped; uint8 passes through. The one conversion
    every writer and signature uses, so a picture is rounded the same way wherever it goes."""
    rgb = tf.convert_to_tensor(rgb)
    if rgb.dtype == tf.uint8:
        return rgb
    return tf.cast(tf.round(tf.clip_by_value(tf.cast(rgb, tf.float32), 0.0, 1.0) * 255.0), tf.uint8)
