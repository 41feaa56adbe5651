"""Files -> tf.data.Dataset of (condition, target) batches.

files -> shuffle -> decode + resize (parallel) -> [cache] -> repeat -> jitter + flip +
Lab (parallel, seeded per element) -> batch -> prefetch.
"""

import hashlib
import os

import tensorflow as tf

from pipeline import augment, color, sketch
from pipeline.config import PipelineConfig
from pipeline.decode import decode_image


def split_train_val(paths, val_fraction, root=None):
    """Deterministic split by a hash of each path (relative to `root` when given).

    A file stays on the same side whatever else is added to or removed from the folder.
    With val_fraction > 0 and at least two files, validation gets at least one file.
    """
    if val_fraction <= 0 or len(paths) < 2:
        return list(paths), []

    def bucket(path):
        key = os.path.relpath(path, root) if root else path
        digest = hashlib.sha1(key.replace(os.sep, "/").encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    buckets = {p: bucket(p) for p in paths}
    val = [p for p in paths if buckets[p] < val_fraction]
    if not val:
        val = [min(paths, key=buckets.get)]
    train = [p for p in paths if p not in set(val)]
    return train, val


def lab_example(rgb, seed=None):
    """Grayscale task: RGB in [0, 1] (..., 3) -> (L (..., 1), ab (..., 2)), both in [-1, 1]."""
    return color.rgb_to_model_lab(rgb)


def sketch_example(method="random"):
    """Sketch task: RGB in [0, 1] (H, W, 3) -> (line art (H, W, 1), RGB (H, W, 3)), both in [-1, 1].

    Training (seeded) uses `method` with jitter; validation (seed None) uses plain XDoG
    unless a fixed method is asked for, so validation numbers are comparable across epochs.
    """
    def make(rgb, seed=None):
        fixed = "xdog" if method == "random" else method
        lines = sketch.extract(rgb, method if seed is not None else fixed, seed)
        return lines * 2.0 - 1.0, rgb * 2.0 - 1.0

    return make


def build_dataset(paths, cfg: PipelineConfig, training: bool, make_example=lab_example):
    """A dataset of (condition, target) batches from image files.

    Training: shuffled, repeated forever, random jitter + flip with per-element seeds
    [cfg.seed, element index], so the same seed gives the same batches. Validation:
    resize the shorter side and centre-crop, in file order, once.
    make_example: (RGB image in [0, 1], seed or None) -> (condition, target); lab_example
        for grayscale -> colour, sketch_example(...) for line art -> colour.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("build_dataset needs at least one image file")
    size = cfg.image_size
    resize_to = cfg.resolved_load_size if training else size

    def load(path):
        image = decode_image(tf.io.read_file(path))
        return augment.resize_shorter_side(image, resize_to)

    files = tf.data.Dataset.from_tensor_slices(paths)
    if training:
        files = files.shuffle(min(len(paths), cfg.shuffle_buffer), seed=cfg.seed,
                              reshuffle_each_iteration=True)
    images = files.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if cfg.cache:
        images = images.cache()

    if training:
        images = images.repeat()
        indices = tf.data.Dataset.counter()
        seeded = tf.data.Dataset.zip((images, indices))

        def transform(image, index):
            seed = tf.stack([tf.constant(cfg.seed, tf.int64), index])
            jitter_seed, example_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
            return make_example(augment.random_jitter(image, size, jitter_seed, flip=cfg.flip), example_seed)

        examples = seeded.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        examples = images.map(
            lambda image: make_example(augment.center_crop(image, size)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return examples.batch(cfg.batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
