"""Files -> tf.data.Dataset of (condition, target) batches.

training: files -> shuffle -> repeat -> skip (resume) -> decode + resize (parallel) ->
jitter + flip + Lab (parallel, seeded per element) -> batch -> prefetch; with cache, the
decoded images are kept and shuffled in memory instead.
"""

import hashlib
import os
import shutil
import sys
import threading

import numpy as np
import tensorflow as tf

from pipeline import augment, color, sketch
from pipeline.config import PipelineConfig
from pipeline.decode import read_image


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
    held_out = set(val)
    train = [p for p in paths if p not in held_out]
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


def paired_example(rgb_and_sketch, seed=None):
    """Real pairs: (H, W, 4) = RGB + the artist's own sketch -> (sketch, RGB), both in [-1, 1]."""
    return rgb_and_sketch[..., 3:] * 2.0 - 1.0, rgb_and_sketch[..., :3] * 2.0 - 1.0


def pair_by_name(color_paths, sketch_paths, log=None):
    """Match colour images and sketches by file name without extension.

    Returns (colours, sketches) in matching order; unmatched files on either side are
    reported in one warning line each side and left out.
    """
    log = log or sys.stderr

    def by_stem(paths):
        return {os.path.splitext(os.path.basename(p))[0]: p for p in paths}

    colors, sketches = by_stem(color_paths), by_stem(sketch_paths)
    common = sorted(set(colors) & set(sketches))
    for side, names in (("colour images", set(colors) - set(common)), ("sketches", set(sketches) - set(common))):
        if names:
            print(f"warning: {len(names)} {side} have no partner of the same name "
                  f"(e.g. {sorted(names)[0]}); left out", file=log)
    return [colors[name] for name in common], [sketches[name] for name in common]


NONE_DECODES = "no picture to train on"


class SkippedFiles:
    """Files that fail to decode while training: the headers looked right (pipeline.headers), the
    pixels do not. Each is left out where it falls in the stream, warned about once with its reason,
    counted per epoch, and remembered in `record` (the run directory's skipped_files.txt): a resumed
    stream leaves the remembered ones out before it skips to its place, so it counts the same
    examples as the run it continues and resumes exactly.
    """

    def __init__(self, record=None, log=None):
        """record: where newly found files are written (each worker keeps its own: it reads its own share)."""
        self.record, self.log = record, log or sys.stderr
        self.known = set()
        if record and os.path.exists(record):
            with open(record, encoding="utf-8") as f:
                self.known = {line.rstrip("\n") for line in f if line.strip()}
        self.warned, self.this_epoch = set(), set()
        self.lock = threading.Lock()
        self.streams = []  # the file lists of the streams that report here

    def watch(self, paths):
        """Stop (ValueError) once every file of this training stream has failed."""
        if frozenset(paths) not in self.streams:
            self.streams.append(frozenset(paths))
        return self

    def found(self, path):
        """Called from the input pipeline's threads (py_function) for each file that failed."""
        from export.atomic import write_atomically
        from pipeline.decode import decode_error

        path = path.decode() if isinstance(path, bytes) else str(path)
        with self.lock:
            self.this_epoch.add(path)  # files, not failures: the stream runs a little ahead of the epoch
            first = path not in self.warned
            self.warned.add(path)
            if path not in self.known:  # remembered for this worker's resumes
                self.known.add(path)
                if self.record:
                    write_atomically(self.record, "".join(f"{known}\n" for known in sorted(self.known)).encode("utf-8"))
        if first:
            reason = decode_error(path) or "failed to decode"
            print(f"\nwarning: skipping {path}: {reason} (training goes on without it)", file=self.log)
        for stream in self.streams:  # an endless stream of files that all fail would wait forever
            if path in stream and stream <= self.warned | self.known:
                raise ValueError(f"{NONE_DECODES}: none of the {len(stream)} pictures decodes (the last: {path})")

    def take_epoch_count(self):
        with self.lock:
            count, self.this_epoch = len(self.this_epoch), set()
        return count


def decoded_or_skipped(files, load, channels, skipped):
    """File names -> decoded images, leaving out files that fail to decode; the others keep their order.

    Each file is tried in a one-element dataset whose decoding errors are dropped, followed by a
    marker that stands in when nothing came out; the interleave keeps the input order. `skipped`
    (a SkippedFiles) hears of each failure; with skipped=None the result is (image, decoded?,
    path) for every file, markers included, for kept() to sort out later.
    """
    def attempt(*names):
        decoded = tf.data.Dataset.from_tensors(names).map(lambda *row: (load(*row), True)).ignore_errors()
        failed = tf.data.Dataset.from_tensors((tf.zeros([0, 0, channels], decoded.element_spec[0].dtype), False))
        return decoded.concatenate(failed).take(1).map(lambda image, ok: (image, ok, names[0]))

    tried = files.interleave(attempt, cycle_length=tf.data.AUTOTUNE, num_parallel_calls=tf.data.AUTOTUNE,
                             deterministic=True)
    return tried if skipped is None else kept(tried, skipped)


def kept(tried, skipped):
    """(image, decoded?, path) -> the decoded images; `skipped` hears of each failure."""
    def keep(image, ok, path):
        def report():  # False, after telling `skipped` (in Python: rare, only for failures)
            dropped = tf.py_function(lambda name: skipped.found(name.numpy()) or False, [path], tf.bool)
            return tf.ensure_shape(dropped, [])

        return tf.cond(ok, lambda: tf.constant(True), report)

    return tried.filter(keep).map(lambda image, ok, path: image)


def with_sketch(image, sketch_path):
    """RGB in [0, 1] [H, W, 3] + the artist's sketch file, gray, resized to it -> [H, W, 4]."""
    lines = tf.image.rgb_to_grayscale(read_image(sketch_path))
    lines = tf.clip_by_value(tf.image.resize(lines, tf.shape(image)[:2], antialias=True), 0.0, 1.0)
    return tf.concat([image, lines], axis=-1)


CACHE_VERSION = 1  # bump when what the cache holds changes (decoder, resize, dtype)


def disk_cache_folder(cache_dir, rows, load_size):
    """<cache_dir>/<key>: the key names the files (in cache order), their sizes and modification
    times, and the load size, so that a changed folder or size gets a cache of its own and never
    a stale picture. A folder without a finished cache (a run killed in its first epoch) is cleared."""
    names = [rows] if isinstance(rows, list) else list(rows)
    digest = hashlib.sha1(f"{CACHE_VERSION}|{load_size}".encode())
    for row in zip(*names):
        for path in row:
            status = os.stat(path)
            digest.update(f"|{os.path.abspath(path)}:{status.st_size}:{status.st_mtime_ns}".encode())
    folder = os.path.join(cache_dir, f"load{load_size}-{digest.hexdigest()[:16]}")
    if os.path.isdir(folder) and not os.path.exists(os.path.join(folder, "pictures.index")):
        shutil.rmtree(folder)
    os.makedirs(folder, exist_ok=True)
    return folder


def build_dataset(paths, cfg: PipelineConfig, training: bool, make_example=lab_example, sketch_paths=None,
                  start_element=0, skipped=None, cache_dir=None, share=(0, 1)):
    """A dataset of (condition, target) batches from image files.

    Training: an endless stream, reshuffled every epoch, random jitter + flip with
    per-element seeds [cfg.seed, element index], so the same seed gives the same batches.
    start_element resumes that stream exactly where a run stopped (step x batch size): the
    skip happens on file names, or on the decoded images held in memory with cfg.cache,
    so nothing is decoded twice. Validation: resize the shorter side and centre-crop, in
    file order, once.
    make_example: (RGB image in [0, 1], seed or None) -> (condition, target); lab_example
        for grayscale -> colour, sketch_example(...) for line art -> colour.
    sketch_paths: the artist's own sketches, one per path (see pair_by_name); each is
        resized to its colour image and carried as a 4th channel through crop and flip, so
        use make_example=paired_example.
    skipped: a SkippedFiles that hears of files failing to decode (they are left out either way)
        and whose remembered files a resumed stream leaves out before it skips.
    cache_dir: training without cfg.cache: keep the decoded, resized pictures (uint8) on disk
        there, written during the first epoch, read by every later epoch, by resumed runs and by
        other runs with the same files (names, sizes, times) and load size (disk_cache_folder).
    share: training under multiworker, (index, count): this worker reads, decodes and caches only
        the files at positions index, index + count, ...; tf.distribute (auto-sharding off) takes
        batch_size / count elements of every global batch from this worker's own stream, so
        start_element counts elements of the global stream. Per-element seeds interleave, so no two
        workers draw the same jitter or hints.
    """
    paths = list(paths)
    worker, workers = share if training else (0, 1)
    if workers > 1:
        paths = paths[worker::workers]
        sketch_paths = None if sketch_paths is None else list(sketch_paths)[worker::workers]
        if start_element % workers:
            raise ValueError(f"start_element {start_element} is not a whole number of {workers} workers' shares")
        start_element //= workers
    if not paths:
        raise ValueError("build_dataset needs at least one image file")
    skipped = skipped or SkippedFiles()
    if training:  # an endless stream; validation ends by itself
        skipped.watch(paths)
    size = cfg.image_size
    resize_to = cfg.resolved_load_size if training else size

    def load(path, sketch_path=None):
        # Resized from uint8: float only at the load size (the full-size float copy cost ~20 ms per 2000 px picture).
        image = augment.resize_shorter_side(read_image(path, min_side=resize_to, dtype=tf.uint8), resize_to)
        return image if sketch_path is None else with_sketch(image, sketch_path)

    if sketch_paths is not None and len(sketch_paths) != len(paths):
        raise ValueError(f"sketch_paths must match paths one to one; received {len(sketch_paths)} "
                         f"sketches for {len(paths)} images")
    files = tf.data.Dataset.from_tensor_slices(paths if sketch_paths is None else (paths, list(sketch_paths)))
    channels = 3 if sketch_paths is None else 4

    def decoded(names, convert=None):
        decode = load if convert is None else (lambda *row: convert(load(*row)))
        return decoded_or_skipped(names, decode, channels, skipped)

    def to_uint8(image):
        return tf.image.convert_image_dtype(image, tf.uint8, saturate=True)

    def to_float(images):
        return images.map(lambda image: tf.image.convert_image_dtype(image, tf.float32),
                          num_parallel_calls=tf.data.AUTOTUNE)

    if not training:
        images = decoded(files)
        examples = images.map(lambda image: make_example(augment.center_crop(image, size)),
                              num_parallel_calls=tf.data.AUTOTUNE)
        return examples.batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE)

    buffer = min(len(paths), cfg.shuffle_buffer)
    if cfg.cache:  # decode once; later epochs shuffle the decoded images in memory, as uint8 (4x smaller)
        images = decoded(files, to_uint8).cache().repeat()
        images = to_float(images.shuffle(buffer, seed=cfg.seed).skip(start_element))
    elif cache_dir:  # decode once; later epochs (and runs) read the decoded images from disk
        # Shuffled once, here, in an order the cache keeps; later epochs shuffle the decoded pictures.
        order = np.random.default_rng(cfg.seed).permutation(len(paths))
        listed = [paths[index] for index in order]
        partners = None if sketch_paths is None else list(sketch_paths)
        rows = listed if partners is None else (listed, [partners[index] for index in order])
        folder = disk_cache_folder(cache_dir, rows, resize_to)
        tried = decoded_or_skipped(tf.data.Dataset.from_tensor_slices(rows), lambda *row: to_uint8(load(*row)),
                                   channels, None)
        # tf.data writes the cache during the first full pass and makes it whole only at its end; a
        # pass left unfinished leaves nothing that is read (disk_cache_folder clears a killed one).
        stored = tried.cache(os.path.join(folder, "pictures"))
        # Epoch 0 in the cache's (shuffled) order, so the first step waits for one batch, not for a
        # shuffle buffer of decoded pictures; epoch e > 0 reads the cache shuffled by (seed, e). A
        # resumed run starts at its epoch (the failed files it remembers say how many pictures an
        # epoch has) and skips only inside it, instead of reading every earlier epoch again.
        per_epoch = max(1, len(paths) - len(skipped.known & set(paths)))
        first_epoch, within = divmod(start_element, per_epoch)

        def epoch(number):  # 64 different orders, taken in turn (a shuffle's seed must be a Python int)
            return stored.shuffle(buffer, seed=(number % 64) * 1_000_003 + cfg.seed, reshuffle_each_iteration=False)

        later = epoch(max(first_epoch, 1))
        for number in range(max(first_epoch, 1) + 1, max(first_epoch, 1) + 64):
            later = later.concatenate(epoch(number))
        later = later.repeat()
        stream = stored.concatenate(later) if first_epoch == 0 else later
        images = to_float(kept(stream, skipped).skip(within))  # failures are stored as markers
    else:  # shuffle and skip file names, decode only what is used
        files = files.shuffle(buffer, seed=cfg.seed, reshuffle_each_iteration=True).repeat()
        if skipped is not None and skipped.known:  # left out where they fell when the run first met them
            known = tf.constant(sorted(skipped.known))
            files = files.filter(lambda path, *partner: tf.logical_not(tf.reduce_any(tf.equal(path, known))))
        images = decoded(files.skip(start_element))
    seeded = tf.data.Dataset.zip((images, tf.data.Dataset.counter(start=start_element)))

    def transform(image, index):
        seed = tf.stack([tf.constant(cfg.seed, tf.int64), index * workers + worker])
        jitter_seed, example_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        jittered = augment.random_jitter(image, size, jitter_seed, flip=cfg.flip, zoom=cfg.zoom, rotate=cfg.rotate)
        return make_example(jittered, example_seed)

    examples = seeded.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return examples.batch(cfg.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
