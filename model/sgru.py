"""The Swish-Gated Residual U-Net (SGRU) for sketch colouring."""

import keras
from keras import layers

from model.base import AnySizeGenerator


def _conv(x, filters, kernel, name, activation=None):
    return layers.Conv2D(filters, kernel, padding="same", activation=activation, name=name)(x)


def swish_gate(x, name):
    """Swish layer S(X) = sigmoid(H(X)) * X, H a 3x3 conv with as many filters as X has channels."""
    gate = _conv(x, x.shape[-1], 3, f"{name}_gate", activation="sigmoid")
    return layers.Multiply(name=f"{name}_swish")([gate, x])


def residual_path(x, name):
    """Two 3x3 convs with LeakyReLU, filters = input channels."""
    channels = x.shape[-1]
    x = layers.LeakyReLU(0.2, name=f"{name}_lrelu_a")(_conv(x, channels, 3, f"{name}_conv_a"))
    return layers.LeakyReLU(0.2, name=f"{name}_lrelu_b")(_conv(x, channels, 3, f"{name}_conv_b"))


def down_block(x, name):
    """Left branch SGB: max-pool the residual path and the swish gate, concatenate: (H, W, C) -> (H/2, W/2, 2C)."""
    residual = layers.MaxPooling2D(2, name=f"{name}_pool_res")(residual_path(x, name))
    gated = layers.MaxPooling2D(2, name=f"{name}_pool_gate")(swish_gate(x, name))
    return layers.Concatenate(name=f"{name}_concat")([residual, gated])


def up_block(x, skip, filters, name):
    """Right branch SGB: upsample residual path and swish gate, concatenate with the skip.

    A 1x1 conv then brings the channels back to the skip's level, so the decoder mirrors
    the encoder instead of growing at every level.
    """
    residual = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up_res")(residual_path(x, name))
    gated = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up_gate")(swish_gate(x, name))
    merged = layers.Concatenate(name=f"{name}_concat")([residual, gated, skip])
    return layers.LeakyReLU(0.2, name=f"{name}_lrelu_mix")(_conv(merged, filters, 1, f"{name}_mix"))


@keras.saving.register_keras_serializable(package="irodori")
class SGRUGenerator(AnySizeGenerator):
    """Swish-Gated Residual U-Net (Liu, Chen and Hu, 2018): one sketch, several colourings.

    Input: sketch (batch, H, W, in_channels) in [-1, 1] (lines dark; with hints, channels 2-5 are
    the hint RGB and mask, see pipeline.hints), H and W multiples of 2**num_levels. Output: (batch, H, W, 3 * num_outputs) in [-1, 1]; channels
    3i..3i+2 are colouring i in RGB. Encoder: a 3x3 conv to `filters`, then num_levels
    swish-gated down blocks, each halving the size and doubling the channels. Decoder:
    swish-gated up blocks with skip concatenations, then a 1x1 conv and tanh.
    """

    def __init__(self, image_size=256, num_levels=4, filters=32, num_outputs=9, in_channels=1,
                 name="sgru_generator", **kwargs):
        if image_size % (2**num_levels):
            raise ValueError(f"image_size must be a multiple of 2**num_levels ({2**num_levels}); "
                             f"received image_size={image_size}, num_levels={num_levels}")
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be >= 1; received num_outputs={num_outputs}")
        inputs = keras.Input(shape=(None, None, in_channels), name="sketch")
        x = layers.LeakyReLU(0.2, name="stem_lrelu")(_conv(inputs, filters, 3, "stem"))  # (bs, S, S, f)
        skips = []
        for level in range(num_levels):
            skips.append(x)
            x = down_block(x, f"down{level}")  # (bs, S / 2**(level+1), ..., f * 2**(level+1))
        for level in reversed(range(num_levels)):
            x = up_block(x, skips[level], skips[level].shape[-1], f"up{level}")  # (bs, S / 2**level, ..., f * 2**level)
        outputs = layers.Activation("tanh", dtype="float32", name="tanh")(
            _conv(x, 3 * num_outputs, 1, "output"))  # (bs, S, S, 3N)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.image_size = image_size
        self.num_levels = num_levels
        self.filters = filters
        self.num_outputs = num_outputs
        self.in_channels = in_channels

    def get_config(self):
        return {"name": self.name, "image_size": self.image_size, "num_levels": self.num_levels,
                "filters": self.filters, "num_outputs": self.num_outputs, "in_channels": self.in_channels}
