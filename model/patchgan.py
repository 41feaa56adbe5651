"""The conditional PatchGAN discriminator."""

import keras
from keras import layers

from model import blocks
from model.config import NORM_MODES


@keras.saving.register_keras_serializable(package="irodori")
class PatchGANDiscriminator(keras.Model):
    """PatchGAN of pix2pix (Isola et al., 2017): one real/fake logit per image patch.

    Inputs: [condition (batch, H, W, condition_channels), image (batch, H, W,
    target_channels)], both in [-1, 1]; they are concatenated on channels, so the
    discriminator judges whether the colours fit the given lightness or sketch.
    Output: logits (batch, H', W', 1); for n_layers=3 each logit sees a 70x70 patch and a
    256 px input gives a 30x30 grid. 4x4 convs with one pixel of zero padding, as the
    reference implementation, so the grid sizes match it.
    """

    def __init__(self, ndf=64, n_layers=3, condition_channels=1, target_channels=2, norm="batch",
                 init="normal", name="patchgan_discriminator", **kwargs):
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1; received n_layers={n_layers}")
        if norm not in NORM_MODES:
            raise ValueError(f"norm must be one of {NORM_MODES}; received norm={norm!r}")
        condition = keras.Input(shape=(None, None, condition_channels), name="condition")
        image = keras.Input(shape=(None, None, target_channels), name="image")
        x = layers.Concatenate(name="pair")([condition, image])

        def conv(x, filters, strides, index, normalize):
            x = layers.ZeroPadding2D(1, name=f"pad{index}")(x)
            x = layers.Conv2D(filters, 4, strides=strides, padding="valid", use_bias=not normalize,
                              kernel_initializer=blocks.kernel_initializer(init), name=f"conv{index}")(x)
            if normalize:
                x = blocks.normalization(norm, f"norm{index}")(x)
            return x

        x = layers.LeakyReLU(0.2, name="lrelu0")(conv(x, ndf, 2, 0, normalize=False))  # (bs, 128, 128, ndf)
        for index in range(1, n_layers + 1):
            filters = ndf * min(2**index, 8)
            strides = 2 if index < n_layers else 1  # (bs, 64, 64, 2ndf), (bs, 32, 32, 4ndf), (bs, 31, 31, 8ndf)
            x = layers.LeakyReLU(0.2, name=f"lrelu{index}")(conv(x, filters, strides, index, norm != "none"))
        logits = conv(x, 1, 1, n_layers + 1, normalize=False)  # (bs, 30, 30, 1)
        logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
        super().__init__(inputs=[condition, image], outputs=logits, name=name, **kwargs)

        self.ndf = ndf
        self.n_layers = n_layers
        self.condition_channels = condition_channels
        self.target_channels = target_channels
        self.norm = norm
        self.init = init

    def get_config(self):
        return {
            "name": self.name,
            "ndf": self.ndf,
            "n_layers": self.n_layers,
            "condition_channels": self.condition_channels,
            "target_channels": self.target_channels,
            "norm": self.norm,
            "init": self.init,
        }
