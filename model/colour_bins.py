"""a*b* as a classification over colour bins (Zhang, Isola and Efros 2016, "Colorful Image
Colorization"): the bins, the soft-encoded targets, the loss and the annealed-mean decoding.

Why: a regression head trained on L1 learns the median colour of everything it cannot tell
apart, and on a few pictures that is a dull brown-gray ("sepia"). A classifier learns a
distribution over colours instead; decoding it by its annealed mean (the softmax sharpened
by a temperature T < 1) moves the colour towards the likeliest mode where the plain mean
would average modes away; T = 1 is that plain mean.

The bins are the paper's: a grid of 10 Lab units whose centres are the multiples of 10 (so
gray is a bin of its own), kept where some 8-bit sRGB colour rounds to them. They are frozen
below, as the paper ships its pts_in_hull.npy, so a saved generator always finds the same bins;
tests/test_colour_bins.py recomputes them with OpenCV and tensorflow-io.
"""

import keras
import numpy as np
from keras import ops

from model.config import DEFAULT_TEMPERATURE

AB_SCALE = 110.0  # the model's a*b* scale, as pipeline.color.AB_SCALE (which needs TensorFlow I/O)
BIN_UNITS = 10.0
# a* -> (lowest b*, highest b*) of the in-gamut bins on that row, in Lab units: 262 bins.
IN_GAMUT_B_RANGES = {
    -90: (80, 80), -80: (40, 80), -70: (20, 90), -60: (0, 90), -50: (-20, 90), -40: (-30, 90),
    -30: (-40, 90), -20: (-40, 90), -10: (-50, 90), 0: (-60, 90), 10: (-70, 80), 20: (-80, 80),
    30: (-80, 80), 40: (-90, 80), 50: (-90, 70), 60: (-100, 70), 70: (-110, 70), 80: (-110, 70),
    90: (-90, 0), 100: (-70, -50),
}
NEIGHBOURS = 5  # soft encoding over each pixel's 5 nearest bins ...
SIGMA = 5.0 / AB_SCALE  # ... with Gaussian weights of sigma 5 Lab units (the paper's choice)


def in_gamut_centres():
    """(Q, 2) float32 bin centres in the model's a*b* scale ([-1, 1] = +-110 Lab units)."""
    centres = [(a, b) for a, (low, high) in IN_GAMUT_B_RANGES.items()
               for b in range(low, high + 1, int(BIN_UNITS))]
    centres = np.array(centres, np.float32) / AB_SCALE
    centres.flags.writeable = False
    return centres


def nearest_bins(ab, centres):
    """(..., 2) a*b* targets -> (indices, weights), each (..., NEIGHBOURS): the nearest bins and
    their Gaussian weights, summing to 1 (the soft encoding, without a dense (..., Q) tensor)."""
    ab = ops.cast(ab, "float32")
    centres = ops.convert_to_tensor(centres)
    # |ab - c|^2 = |ab|^2 - 2 ab.c + |c|^2, without an (..., Q, 2) difference tensor
    distance2 = (ops.sum(ops.square(ab), axis=-1, keepdims=True) - 2.0 * ops.matmul(ab, ops.transpose(centres))
                 + ops.sum(ops.square(centres), axis=-1))
    negative_distance2, indices = ops.top_k(-distance2, NEIGHBOURS)
    # Relative to the nearest bin, so the weights never all underflow to zero.
    weights = ops.exp((negative_distance2 - negative_distance2[..., :1]) / (2.0 * SIGMA**2))
    return indices, weights / ops.sum(weights, axis=-1, keepdims=True)


def annealed_mean(logits, centres, temperature=DEFAULT_TEMPERATURE):
    """(B, h, w, Q) logits -> (B, h, w, 2) a*b*: the mean of the centres under softmax(logits / T).

    The weighted sum is a fixed 1x1 convolution, which TFLite's GPU delegate runs as is.
    """
    probabilities = ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)
    return ops.conv(probabilities, ops.convert_to_tensor(centres)[None, None], padding="valid")


def subsampled_target(target, size):
    """(B, H, W, 2) a*b* targets -> (B, size, size, 2): every (H / size)-th pixel, as the paper
    subsamples (averaging would blend a red | blue edge into a purple no pixel has)."""
    factor = target.shape[1] // size
    return ops.cast(target[:, ::factor, ::factor], "float32")


def bins_loss(target, logits, centres, weights=None):
    """Cross-entropy of the logits (B, h, w, Q) against the soft-encoded a*b* targets (B, h, w, 2)
    (subsampled_target), each pixel weighted by `weights` (B, h, w) when given (class
    rebalancing), else all alike."""
    indices, encoded = nearest_bins(target, centres)
    log_probabilities = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    cross_entropy = -ops.sum(encoded * ops.take_along_axis(log_probabilities, indices, axis=-1), axis=-1)
    if weights is not None:
        cross_entropy = cross_entropy * weights
    return ops.mean(cross_entropy)


@keras.saving.register_keras_serializable(package="irodori")
class AnnealedMean(keras.layers.Layer):
    """Logits over the colour bins -> a*b* by the annealed mean at `temperature`. The generator
    that holds it passes in_gamut_centres(); they are also in this layer's config, for reading."""

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
