"""a*b* as a classification over colour bins (Zhang, Isola and Efros 2016, "Colorful Image
Colorization"): the bins, the soft-encoded targets, the loss and the annealed-mean decoding.

Why: a regression head trained on L1 learns the median colour of everything it cannot tell
apart, and on a few pictures that is a dull brown-gray ("sepia"). A classifier learns a
distribution over colours instead; decoding it by its annealed mean (the softmax sharpened
by a temperature T < 1) keeps the colour of the likeliest mode where the plain mean would
average modes away, and T = 1 is that plain mean.

The bins are the cells of the class-rebalancing grid (model.losses.AB_BINS: 22 x 22 cells of
10 Lab units over the model's a*b* range [-1, 1] = +-110) that some 8-bit sRGB colour falls in,
so the rebalancing weights and the classes share one grid.
"""

import functools

import keras
import numpy as np
from keras import ops

from model.config import DEFAULT_TEMPERATURE
from model.losses import AB_BINS

NEIGHBOURS = 5  # soft encoding over each pixel's 5 nearest bins ...
SIGMA = 5.0 / 110.0  # ... with Gaussian weights of sigma 5 Lab units (the paper's choice)


@functools.cache
def in_gamut_centres():
    """(Q, 2) float32 centres, in the model's a*b* scale, of the grid cells that hold sRGB colours.

    Every 8-bit sRGB colour is converted (OpenCV, D65 white, as the pipeline's L*a*b*) once per
    process; about a second.
    """
    import cv2

    occupied = np.zeros(AB_BINS * AB_BINS, bool)
    levels = np.arange(256, dtype=np.float32) / 255.0
    for red in range(0, 256, 16):  # 16 red levels at a time: ~50 MB of float32 colours
        rgb = np.stack(np.meshgrid(levels[red:red + 16], levels, levels, indexing="ij"), -1).reshape(1, -1, 3)
        ab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, :, 1:] / 110.0
        cells = np.clip(np.floor((ab + 1.0) * (AB_BINS / 2.0)), 0, AB_BINS - 1).astype(np.int64)
        occupied[cells[:, 0] * AB_BINS + cells[:, 1]] = True
    index = np.flatnonzero(occupied)
    rows, cols = index // AB_BINS, index % AB_BINS
    centre = lambda cell: -1.0 + (cell + 0.5) * (2.0 / AB_BINS)  # noqa: E731
    return np.stack([centre(rows), centre(cols)], axis=-1).astype(np.float32)


def soft_encode(ab, centres):
    """(..., 2) a*b* targets -> (..., Q) class distributions: Gaussian weights on the NEIGHBOURS
    nearest centres, zero elsewhere, summing to 1."""
    ab = ops.cast(ab, "float32")
    distance2 = ops.sum(ops.square(ab[..., None, :] - ops.convert_to_tensor(centres)), axis=-1)  # (..., Q)
    nth_nearest = -ops.top_k(-distance2, NEIGHBOURS)[0][..., -1:]
    weights = ops.exp(-distance2 / (2.0 * SIGMA**2)) * ops.cast(distance2 <= nth_nearest, "float32")
    return weights / ops.sum(weights, axis=-1, keepdims=True)


def annealed_mean(logits, centres, temperature=DEFAULT_TEMPERATURE):
    """(B, h, w, Q) logits -> (B, h, w, 2) a*b*: the mean of the centres under softmax(logits / T).

    The weighted sum is a fixed 1x1 convolution, which TFLite's GPU delegate runs as is.
    """
    probabilities = ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)
    return ops.conv(probabilities, ops.convert_to_tensor(centres)[None, None], padding="valid")


def downsampled_target(target, size):
    """(B, H, W, 2) a*b* targets averaged down to size x size, the logits' resolution."""
    target = ops.cast(target, "float32")
    factor = target.shape[1] // size
    return ops.average_pool(target, factor, strides=factor) if factor > 1 else target


def bins_loss(target, logits, centres, weights=None):
    """Cross-entropy of the logits (B, h, w, Q) against the soft-encoded a*b* targets (B, h, w, 2)
    (downsampled_target), each pixel weighted by `weights` (B, h, w) when given (class
    rebalancing), else all alike."""
    log_probabilities = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    cross_entropy = -ops.sum(soft_encode(target, centres) * log_probabilities, axis=-1)
    if weights is not None:
        cross_entropy = cross_entropy * weights
    return ops.mean(cross_entropy)


@keras.saving.register_keras_serializable(package="irodori")
class AnnealedMean(keras.layers.Layer):
    """Logits over the colour bins -> a*b* by the annealed mean; the bins and T are part of the
    saved model, so exports decode exactly as training did."""

    def __init__(self, centres, temperature=DEFAULT_TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.centres = np.asarray(centres, np.float32)
        self.temperature = float(temperature)

    def call(self, logits):
        return annealed_mean(logits, self.centres, self.temperature)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)

    def get_config(self):
        return {**super().get_config(), "centres": self.centres.tolist(), "temperature": self.temperature}
