"""Line art from colour images, for training the sketch -> colour task.

Users have colour art but rarely the matching sketches, so sketches are made from it:
  XDoG (Winnemoeller et al., 2012) with the parameters PaintsTorch uses, and
  a morphological extractor (dilation minus image), how many sketch data sets are built.
Both work on float RGB in [0, 1] (H, W, 3) and return gray line art (H, W, 1) in [0, 1]:
dark lines on white paper.
"""

import math

import tensorflow as tf

METHODS = ("xdog", "morph", "random")

# PaintsTorch's XDoG settings; sigma is drawn from XDOG_SIGMAS for line-width jitter.
XDOG_GAMMA = 0.95
XDOG_PHI = 1e9
XDOG_EPSILON = -0.1
XDOG_K = 4.5
XDOG_SIGMAS = (0.3, 0.4, 0.5)


def _gray(rgb):
    return tf.image.rgb_to_grayscale(rgb)


def _gaussian_blur(gray, sigma):
    """Separable Gaussian blur of (H, W, 1) with a kernel of radius ceil(3 sigma)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / sigma))
    kernel /= tf.reduce_sum(kernel)
    image = gray[None]
    padded = tf.pad(image, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    blurred = tf.nn.conv2d(padded, tf.reshape(kernel, [-1, 1, 1, 1]), 1, "VALID")
    blurred = tf.nn.conv2d(blurred, tf.reshape(kernel, [1, -1, 1, 1]), 1, "VALID")
    return blurred[0]


def xdog(rgb, sigma=0.3, gamma=XDOG_GAMMA, phi=XDOG_PHI, epsilon=XDOG_EPSILON, k=XDOG_K):
    """Extended difference of Gaussians: lines where the fine and coarse blurs differ.

    D = G_sigma - gamma * G_(k sigma); paper white (1) where D >= epsilon, else
    1 + tanh(phi (D - epsilon)), which with phi = 1e9 is a hard threshold to black.
    """
    gray = _gray(rgb)
    difference = _gaussian_blur(gray, sigma) - gamma * _gaussian_blur(gray, sigma * k)
    soft = 1.0 + tf.tanh(phi * (difference - epsilon))
    return tf.clip_by_value(tf.where(difference >= epsilon, tf.ones_like(difference), soft), 0.0, 1.0)


def morphological(rgb, size=3):
    """Dilation (a max filter) minus the image marks edges; inverted and stretched to lines."""
    gray = _gray(rgb)
    dilated = tf.nn.max_pool2d(gray[None], size, 1, "SAME")[0]
    edges = dilated - gray
    edges = edges / tf.maximum(tf.reduce_max(edges), 1e-6)
    return 1.0 - edges


def extract(rgb, method="xdog", seed=None):
    """Line art (H, W, 1) in [0, 1] by `method`.

    With a seed (training), "random" picks XDoG or morphological per image, XDoG's sigma is
    drawn from XDOG_SIGMAS, and the line intensity is scaled by a factor in [0.6, 1] (sketch
    jitter: pencil to ink). Without a seed: XDoG at sigma 0.3 or the plain morphological map.
    """
    if method not in METHODS:
        raise ValueError(f"sketch method must be one of {METHODS}; received method={method!r}")
    if seed is None:
        if method == "random":
            raise ValueError("sketch method 'random' needs a seed")
        return xdog(rgb) if method == "xdog" else morphological(rgb)
    choice_seed, sigma_seed, intensity_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    sigma_index = tf.random.stateless_uniform([], sigma_seed, 0, len(XDOG_SIGMAS), dtype=tf.int32)
    xdog_branches = [lambda s=s: xdog(rgb, sigma=s) for s in XDOG_SIGMAS]

    def by_xdog():
        return tf.switch_case(sigma_index, xdog_branches)

    if method == "xdog":
        sketch = by_xdog()
    elif method == "morph":
        sketch = morphological(rgb)
    else:
        use_xdog = tf.random.stateless_uniform([], choice_seed) < 0.5
        sketch = tf.cond(use_xdog, by_xdog, lambda: morphological(rgb))
    intensity = tf.random.stateless_uniform([], intensity_seed, 0.6, 1.0)
    return 1.0 - (1.0 - sketch) * intensity
