"""Configuration of the networks."""

import dataclasses

UPSAMPLE_MODES = ("transpose", "resize")
INIT_MODES = ("normal", "xavier", "he")
NORM_MODES = ("batch", "instance", "none")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shapes and choices for the U-Net generator and the PatchGAN discriminator.

    image_size: side of the square the networks are trained on.
    num_downs: U-Net downsamplings; image_size must be a multiple of 2**num_downs
        (pix2pix uses 8 at 256 px, reaching a 1x1 bottleneck).
    ngf / ndf: base filters of generator / discriminator (64 in pix2pix).
    upsample: "transpose" (Conv2DTranspose, as pix2pix) or "resize" (bilinear resize +
        3x3 conv, free of checkerboard artefacts).
    init: weight initialisation, "normal" (N(0, 0.02) as pix2pix), "xavier" or "he".
    n_layers_d: PatchGAN depth; 3 gives the 70x70 receptive field.
    d_norm: discriminator normalisation; "instance" suits WGAN-GP, whose gradient penalty
        is per sample and breaks under batch statistics.
    generator: "unet" (pix2pix) or "sgru" (Swish-Gated Residual U-Net, sketch task); the
        SGRU uses ngf base filters, sgru_levels down blocks and num_outputs colourings.
    """

    image_size: int = 256
    num_downs: int = 8
    ngf: int = 64
    ndf: int = 64
    upsample: str = "transpose"
    init: str = "normal"
    n_layers_d: int = 3
    d_norm: str = "batch"
    dropout: float = 0.5
    generator: str = "unet"
    sgru_levels: int = 4
    num_outputs: int = 9

    def __post_init__(self):
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}; received upsample={self.upsample!r}")
        if self.init not in INIT_MODES:
            raise ValueError(f"init must be one of {INIT_MODES}; received init={self.init!r}")
        if self.d_norm not in NORM_MODES:
            raise ValueError(f"d_norm must be one of {NORM_MODES}; received d_norm={self.d_norm!r}")
        if self.generator not in ("unet", "sgru"):
            raise ValueError(f"generator must be 'unet' or 'sgru'; received generator={self.generator!r}")
        if self.image_size % (2**self.num_downs):
            raise ValueError(
                f"image_size must be a multiple of 2**num_downs ({2**self.num_downs}); "
                f"received image_size={self.image_size}, num_downs={self.num_downs}"
            )
