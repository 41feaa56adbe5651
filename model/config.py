"""Configuration of the networks."""

import dataclasses

UPSAMPLE_MODES = ("transpose", "resize")
INIT_MODES = ("normal", "xavier", "he")
NORM_MODES = ("batch", "instance", "none")
COLOUR_HEADS = ("direct", "bins")
DEFAULT_TEMPERATURE = 0.38  # Zhang et al.'s annealed-mean temperature for the "bins" colour head
MAX_NUM_DOWNS = 8  # pix2pix's unet_256: a 1x1 bottleneck at 256 px
# Fewer default downsamplings than this would quietly build a U-Net that sees little context
# (300 px halves evenly only twice): such sizes need an explicit num_downs.
MIN_DEFAULT_NUM_DOWNS = 5


def default_num_downs(image_size):
    """As many U-Net downsamplings as the size halves evenly, at most 8 (unet_128: 7, unet_256: 8)."""
    downs = 0
    while downs < MAX_NUM_DOWNS and image_size % (2 ** (downs + 1)) == 0:
        downs += 1
    return downs


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shapes and choices for the U-Net generator and the PatchGAN discriminator.

    image_size: side of the square the networks are trained on.
    num_downs: U-Net downsamplings; image_size must be a multiple of 2**num_downs
        (pix2pix uses 8 at 256 px, reaching a 1x1 bottleneck). None: default_num_downs.
    ngf / ndf: base filters of generator / discriminator (64 in pix2pix).
    upsample: "transpose" (Conv2DTranspose, as pix2pix) or "resize" (bilinear resize +
        3x3 conv, free of checkerboard artefacts).
    init: weight initialisation, "normal" (N(0, 0.02) as pix2pix), "xavier" or "he".
    n_layers_d: PatchGAN depth; 3 gives the 70x70 receptive field.
    d_norm: discriminator normalisation; "instance" suits WGAN-GP, whose gradient penalty
        is per sample and breaks under batch statistics.
    generator: "unet" (pix2pix) or "sgru" (Swish-Gated Residual U-Net, sketch task); the
        SGRU uses ngf base filters, sgru_levels down blocks and num_outputs colourings.
    colour_head: how the U-Net gives a*b*: "direct" (tanh regression, pix2pix) or "bins" (a
        classification over colour bins decoded by the annealed mean at `temperature`, Zhang et
        al. 2016; gray task only). Runs saved before it have "direct".
    """

    image_size: int = 256
    num_downs: int | None = None
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
    colour_head: str = "direct"
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self):
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}; received upsample={self.upsample!r}")
        if self.init not in INIT_MODES:
            raise ValueError(f"init must be one of {INIT_MODES}; received init={self.init!r}")
        if self.d_norm not in NORM_MODES:
            raise ValueError(f"d_norm must be one of {NORM_MODES}; received d_norm={self.d_norm!r}")
        if self.colour_head not in COLOUR_HEADS:
            raise ValueError(f"colour_head must be one of {COLOUR_HEADS}; received colour_head={self.colour_head!r}")
        if not 0.0 < self.temperature <= 1.0:
            raise ValueError(f"temperature must be in (0, 1]; received temperature={self.temperature}")
        if self.generator not in ("unet", "sgru"):
            raise ValueError(f"generator must be 'unet' or 'sgru'; received generator={self.generator!r}")
        if self.num_downs is None:
            object.__setattr__(self, "num_downs", default_num_downs(self.image_size))
            if self.generator == "unet" and self.num_downs < MIN_DEFAULT_NUM_DOWNS:
                raise ValueError(
                    f"image_size {self.image_size} halves evenly only {self.num_downs} time(s); the U-Net wants a "
                    f"multiple of {2**MIN_DEFAULT_NUM_DOWNS} (e.g. {self.image_size // 32 * 32 or 32}) or an "
                    "explicit num_downs")
        # Each generator checks only its own constraint: the SGRU has no num_downs.
        if self.generator == "unet" and self.num_downs < 1:
            raise ValueError(f"num_downs must be at least 1 (and image_size even); received "
                             f"image_size={self.image_size}, num_downs={self.num_downs}")
        if self.generator == "unet" and self.image_size % (2**self.num_downs):
            raise ValueError(
                f"image_size must be a multiple of 2**num_downs ({2**self.num_downs}); "
                f"received image_size={self.image_size}, num_downs={self.num_downs}"
            )
        if self.generator == "sgru" and self.image_size % (2**self.sgru_levels):
            raise ValueError(
                f"image_size must be a multiple of 2**sgru_levels ({2**self.sgru_levels}); "
                f"received image_size={self.image_size}, sgru_levels={self.sgru_levels}"
            )
