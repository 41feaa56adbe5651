"""Building blocks shared by the networks, as plain functions on Keras tensors."""

import keras
from keras import layers

from model.config import INIT_MODES, NORM_MODES, UPSAMPLE_MODES


def kernel_initializer(init):
    """pix2pix's init_weights choices as Keras initializers."""
    if init == "normal":
        return keras.initializers.RandomNormal(0.0, 0.02)
    if init == "xavier":
        return keras.initializers.GlorotNormal()
    if init == "he":
        return keras.initializers.HeNormal()
    raise ValueError(f"init must be one of {INIT_MODES}; received init={init!r}")


def normalization(norm, name):
    """BatchNorm with pix2pix's N(1, 0.02) gamma, per-sample instance norm, or nothing.

    BatchNorm momentum 0.9 is PyTorch's 0.1: with Keras' default 0.99 the moving
    statistics trail a GAN's fast-changing weights, and inference (training=False)
    colours far worse than the training-mode losses suggest.
    """
    gamma_init = keras.initializers.RandomNormal(1.0, 0.02)
    if norm == "batch":
        return layers.BatchNormalization(momentum=0.9, gamma_initializer=gamma_init, name=name)
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, gamma_initializer=gamma_init, name=name)
    if norm == "none":
        return layers.Identity(name=name)
    raise ValueError(f"norm must be one of {NORM_MODES}; received norm={norm!r}")


def downsample(x, filters, init, norm=True, name="down"):
    """4x4 stride-2 conv, BatchNorm, LeakyReLU(0.2): halves the spatial size."""
    x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not norm,
                      kernel_initializer=kernel_initializer(init), name=f"{name}_conv")(x)
    if norm:
        x = normalization("batch", f"{name}_bn")(x)
    return layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)


def upsample_conv(x, filters, init, mode, use_bias, name):
    """Doubles the spatial size: transposed conv, or bilinear resize followed by a conv.

    Resize + conv avoids the uneven kernel overlap that gives transposed convolutions
    their checkerboard artefacts (Odena et al., 2016).
    """
    if mode == "transpose":
        return layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=use_bias,
                                      kernel_initializer=kernel_initializer(init), name=f"{name}_tconv")(x)
    if mode == "resize":
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resize")(x)
        return layers.Conv2D(filters, 3, padding="same", use_bias=use_bias,
                             kernel_initializer=kernel_initializer(init), name=f"{name}_conv")(x)
    raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}; received upsample={mode!r}")


def upsample(x, filters, init, mode, dropout=0.0, name="up"):
    """Upsampling conv, BatchNorm, optional dropout, ReLU."""
    x = upsample_conv(x, filters, init, mode, use_bias=False, name=name)
    x = normalization("batch", f"{name}_bn")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.ReLU(name=f"{name}_relu")(x)
