"""The pix2pix U-Net generator."""

import keras
from keras import layers

from model.base import AnySizeGenerator

from model import blocks, colour_bins
from model.config import ModelConfig


@keras.saving.register_keras_serializable(package="irodori")
class UNetGenerator(AnySizeGenerator):
    """U-Net generator of pix2pix (Isola et al., 2017), as in junyanz/pytorch-CycleGAN-and-pix2pix.

    Input: (batch, H, W, in_channels) in [-1, 1], H and W multiples of 2**num_downs
    (grayscale task: normalised L). Output: (batch, H, W, out_channels) in [-1, 1] from a
    tanh (grayscale task: normalised ab).

    Encoder: num_downs blocks of 4x4 stride-2 conv + BatchNorm + LeakyReLU(0.2), filters
    ngf, 2ngf, 4ngf, then 8ngf; the first and the innermost block have no BatchNorm (the
    innermost would normalise a single 1x1 value per channel at batch 1, to zero).
    Decoder: mirror blocks of upsampling + BatchNorm + ReLU, dropout on the three innermost,
    each concatenated with the encoder feature map of the same size; a last upsampling to
    out_channels and tanh.

    colour_head "bins" (a*b* only, out_channels 2) replaces that last upsampling: a 1x1 conv at
    half the size gives logits over the in-gamut colour bins (layer "colour_logits", what the
    loss trains), the annealed mean at `temperature` decodes them to a*b*, and a bilinear resize
    doubles that to the full size (model.colour_bins). The output is a*b* in [-1, 1] either way.
    """

    def __init__(self, image_size=256, num_downs=8, ngf=64, in_channels=1, out_channels=2,
                 upsample="transpose", init="normal", dropout=0.5, colour_head="direct",
                 temperature=colour_bins.DEFAULT_TEMPERATURE, name="unet_generator", **kwargs):
        # Validates the combination once, with messages that name the values.
        ModelConfig(image_size=image_size, num_downs=num_downs, ngf=ngf, upsample=upsample, init=init,
                    colour_head=colour_head, temperature=temperature)
        if colour_head == "bins" and out_channels != 2:
            raise ValueError(f"colour_head 'bins' predicts a*b* (2 channels); received out_channels={out_channels}")
        inputs = keras.Input(shape=(None, None, in_channels), name="condition")

        x = inputs
        skips = []
        for level in range(num_downs):
            filters = ngf * min(2**level, 8)
            innermost = level == num_downs - 1
            # level 0 at 256 px: (bs, 128, 128, ngf) ... innermost: (bs, 1, 1, 8ngf)
            x = blocks.downsample(x, filters, init, norm=level > 0 and not innermost, name=f"down{level}")
            skips.append(x)

        for level in reversed(range(num_downs - 1)):
            filters = ngf * min(2**level, 8)
            near_bottleneck = level >= num_downs - 4
            # (bs, S / 2**(level+1), S / 2**(level+1), filters), then 2 * filters after the skip
            x = blocks.upsample(x, filters, init, upsample, dropout=dropout if near_bottleneck else 0.0,
                                name=f"up{level}")
            x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])

        if colour_head == "bins":
            centres = colour_bins.in_gamut_centres()
            # float32 even under mixed precision: dividing by T magnifies the logits' rounding
            x = layers.Conv2D(len(centres), 1, kernel_initializer=blocks.kernel_initializer(init),
                              name="colour_logits", dtype="float32")(x)  # (bs, S/2, S/2, bins)
            x = colour_bins.AnnealedMean(centres, temperature, name="annealed_mean", dtype="float32")(x)
            outputs = layers.UpSampling2D(2, interpolation="bilinear", name="ab_resize", dtype="float32")(x)
        else:
            x = blocks.upsample_conv(x, out_channels, init, upsample, use_bias=True, name="output")
            outputs = layers.Activation("tanh", name="tanh", dtype="float32")(x)  # (bs, S, S, out_channels)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        self.image_size = image_size
        self.num_downs = num_downs
        self.ngf = ngf
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.upsample = upsample
        self.init = init
        self.dropout = dropout
        self.colour_head = colour_head
        self.temperature = temperature

    def get_config(self):
        return {
            "name": self.name,
            "image_size": self.image_size,
            "num_downs": self.num_downs,
            "ngf": self.ngf,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "upsample": self.upsample,
            "init": self.init,
            "dropout": self.dropout,
            "colour_head": self.colour_head,
            "temperature": self.temperature,
        }
