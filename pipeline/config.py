"""Configuration of the input pipeline."""

import dataclasses

# pix2pix "random jitter": resize to 286 then crop back to 256.
JITTER_RATIO = 286 / 256


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """How files become training batches.

    image_size: side of the square crops fed to the networks.
    load_size: side images are resized to before the random crop (training only);
        None means round(image_size * 286 / 256) as in pix2pix.
    batch_size: examples per batch.
    val_fraction: share of files held out for validation, chosen by a hash of each
        file's path relative to the data root, so the split never changes between runs.
    flip: random horizontal flips in training.
    zoom: > 1 crops of several sizes, from the shorter side down to image_size / zoom, resized to
        image_size (augment.random_jitter); 1 = the plain pix2pix crop.
    rotate: > 0 turns each training picture by up to this many degrees first; 0 = never.
    shuffle_buffer: tf.data shuffle buffer (files are shuffled, not decoded images).
    cache: keep decoded, resized images in memory after the first epoch.
    disk_cache: (without cache) keep them on disk (pipeline.dataset's cache_dir); False here so that a
        run saved before the disk cache existed resumes with the batches it had.
    seed: seeds shuffling and the stateless jitter/flip ops.
    """

    image_size: int = 256
    load_size: int | None = None
    batch_size: int = 1
    val_fraction: float = 0.1
    flip: bool = True
    zoom: float = 1.0  # runs saved before these augmentations resume without them
    rotate: float = 0.0
    shuffle_buffer: int = 1000
    cache: bool = False
    disk_cache: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.image_size < 8:
            raise ValueError(f"image_size must be at least 8; received image_size={self.image_size}")
        if self.load_size is not None and self.load_size < self.image_size:
            raise ValueError(
                "load_size must be >= image_size; received "
                f"load_size={self.load_size}, image_size={self.image_size}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; received batch_size={self.batch_size}")
        if self.zoom < 1.0 or not 0.0 <= self.rotate <= 45.0:
            raise ValueError(f"zoom must be >= 1 and rotate in [0, 45] degrees; received zoom={self.zoom}, "
                             f"rotate={self.rotate}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1); received val_fraction={self.val_fraction}")

    @property
    def resolved_load_size(self) -> int:
        if self.load_size is not None:
            return self.load_size
        return int(round(self.image_size * JITTER_RATIO))
