"""Image quality measures for colourisation, per image, on float RGB [N, H, W, 3] in [0, 1].

PSNR and SSIM (tf.image) measure closeness to the artist's colours; CIEDE2000 is the
perceptual colour difference (1 is about the smallest a viewer notices); colourfulness
(Hasler and Suesstrunk, 2003) tells a model that plays safe with sepia or gray apart
from one that dares colour, which PSNR alone rewards.
"""

import math

import tensorflow as tf

from pipeline import color


def psnr(predicted, truth):
    """[N] dB; identical images give inf."""
    return tf.image.psnr(predicted, truth, max_val=1.0)


def ssim(predicted, truth):
    """[N] in [-1, 1], 1 for identical images; images need at least 11 x 11 pixels."""
    return tf.image.ssim(predicted, truth, max_val=1.0)


def _degrees(radians):
    return radians * (180.0 / math.pi)


def _radians(degrees):
    return degrees * (math.pi / 180.0)


def _hypot(x, y):
    return tf.sqrt(x * x + y * y)


def ciede2000(lab_1, lab_2):
    """CIEDE2000 colour difference between L*a*b* tensors [..., 3] -> [...].

    Follows Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula:
    implementation notes", including its hue rules for achromatic colours.
    """
    l_1, a_1, b_1 = tf.unstack(tf.cast(lab_1, tf.float64), axis=-1)
    l_2, a_2, b_2 = tf.unstack(tf.cast(lab_2, tf.float64), axis=-1)
    pow25_7 = 25.0**7
    chroma_mean = (_hypot(a_1, b_1) + _hypot(a_2, b_2)) / 2.0
    g = 0.5 * (1.0 - tf.sqrt(chroma_mean**7 / (chroma_mean**7 + pow25_7)))
    a_1, a_2 = a_1 * (1.0 + g), a_2 * (1.0 + g)
    c_1, c_2 = _hypot(a_1, b_1), _hypot(a_2, b_2)
    h_1 = tf.math.floormod(_degrees(tf.atan2(b_1, a_1)), 360.0)
    h_2 = tf.math.floormod(_degrees(tf.atan2(b_2, a_2)), 360.0)
    achromatic = tf.equal(c_1 * c_2, 0.0)

    dh = h_2 - h_1
    dh = tf.where(dh > 180.0, dh - 360.0, tf.where(dh < -180.0, dh + 360.0, dh))
    dh = tf.where(achromatic, tf.zeros_like(dh), dh)
    delta_l, delta_c = l_2 - l_1, c_2 - c_1
    delta_h = 2.0 * tf.sqrt(c_1 * c_2) * tf.sin(_radians(dh) / 2.0)

    l_mean, c_mean = (l_1 + l_2) / 2.0, (c_1 + c_2) / 2.0
    h_sum = h_1 + h_2
    h_mean = tf.where(tf.abs(h_1 - h_2) <= 180.0, h_sum / 2.0,
                      tf.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0))
    h_mean = tf.where(achromatic, h_sum, h_mean)
    t = (1.0 - 0.17 * tf.cos(_radians(h_mean - 30.0)) + 0.24 * tf.cos(_radians(2.0 * h_mean))
         + 0.32 * tf.cos(_radians(3.0 * h_mean + 6.0)) - 0.20 * tf.cos(_radians(4.0 * h_mean - 63.0)))
    delta_theta = 30.0 * tf.exp(-(((h_mean - 275.0) / 25.0) ** 2))
    r_c = 2.0 * tf.sqrt(c_mean**7 / (c_mean**7 + pow25_7))
    s_l = 1.0 + 0.015 * (l_mean - 50.0) ** 2 / tf.sqrt(20.0 + (l_mean - 50.0) ** 2)
    s_c = 1.0 + 0.045 * c_mean
    s_h = 1.0 + 0.015 * c_mean * t
    r_t = -tf.sin(_radians(2.0 * delta_theta)) * r_c
    terms = ((delta_l / s_l) ** 2 + (delta_c / s_c) ** 2 + (delta_h / s_h) ** 2
             + r_t * (delta_c / s_c) * (delta_h / s_h))
    return tf.cast(tf.sqrt(tf.maximum(terms, 0.0)), tf.float32)


def mean_ciede2000(predicted, truth):
    """[N]: the mean CIEDE2000 over each image's pixels."""
    return tf.reduce_mean(ciede2000(color.rgb_to_lab(predicted), color.rgb_to_lab(truth)), axis=[1, 2])


def colorfulness(rgb):
    """[N]: Hasler-Suesstrunk M on 0-255 sRGB; 0 for gray, about 100+ for vivid pictures."""
    red, green, blue = tf.unstack(tf.cast(rgb, tf.float32) * 255.0, axis=-1)
    red_green = red - green
    yellow_blue = 0.5 * (red + green) - blue
    axes = [1, 2]
    spread = tf.sqrt(tf.math.reduce_variance(red_green, axes) + tf.math.reduce_variance(yellow_blue, axes))
    offset = tf.sqrt(tf.reduce_mean(red_green, axes) ** 2 + tf.reduce_mean(yellow_blue, axes) ** 2)
    return spread + 0.3 * offset


def all_metrics(predicted, truth):
    """{name: [N] numpy} of every measure of predicted against truth (and its colourfulness)."""
    return {"psnr": psnr(predicted, truth).numpy(), "ssim": ssim(predicted, truth).numpy(),
            "ciede2000": mean_ciede2000(predicted, truth).numpy(), "colorfulness": colorfulness(predicted).numpy()}
