"""Any image file -> float32 RGB in [0, 1], and finding the files that decode.

Handles PNG (8/16-bit, gray, gray+alpha, palette, RGBA), JPEG (incl. CMYK), WebP, BMP and
the first frame of a GIF. Transparency is composited on white, the paper colour of line
art, so transparent backgrounds do not turn black.
"""

import glob
import os
import re
import sys

import tensorflow as tf

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def _composite_on_white(color, alpha):
    return color * alpha + (1.0 - alpha)


def _to_rgb(image):
    """(H, W, C) float in [0, 1] with C in {1, 2, 3, 4} -> (H, W, 3)."""
    channels = tf.shape(image)[-1]
    branches = [
        lambda: tf.tile(image[..., :1], [1, 1, 3]),
        lambda: tf.tile(_composite_on_white(image[..., :1], image[..., 1:2]), [1, 1, 3]),
        lambda: image[..., :3],
        lambda: _composite_on_white(image[..., :3], image[..., 3:4]),
    ]
    return tf.switch_case(channels - 1, branches)


def _is_webp(contents):
    # A WebP file starts with "RIFF", 4 size bytes, then "WEBP". Pad so that short or
    # empty files do not make substr fail before the decoder can report them.
    header = tf.strings.substr(contents, 0, 12) + b"\0" * 12
    return tf.equal(tf.strings.substr(header, 8, 4), b"WEBP")


# A decoded picture costs 12 bytes per pixel as float RGB: 100 megapixels is 1.2 GB. Larger
# ones are refused before decoding rather than running the machine out of memory.
MAX_MEGAPIXELS = 100


def _header_size(contents):
    """(height, width) declared in a PNG, GIF or BMP header; (0, 0) for other formats."""
    head = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, 0, 26) + b"\0" * 26, tf.uint8)[:26], tf.int64)

    def number(start, length, big_endian):
        order = range(length) if big_endian else reversed(range(length))
        value = tf.constant(0, tf.int64)
        for i in order:
            value = value * 256 + head[start + i]
        return value

    png = tf.reduce_all(tf.equal(head[:8], [137, 80, 78, 71, 13, 10, 26, 10]))
    gif = tf.reduce_all(tf.equal(head[:4], [71, 73, 70, 56]))
    bmp = tf.reduce_all(tf.equal(head[:2], [66, 77]))
    zero = tf.constant(0, tf.int64)
    return tf.case([(png, lambda: (number(20, 4, True), number(16, 4, True))),
                    (gif, lambda: (number(8, 2, False), number(6, 2, False))),
                    # BMP heights are negative for top-down pictures
                    (bmp, lambda: (tf.cast(tf.abs(tf.bitcast(tf.cast(number(22, 4, False), tf.uint32), tf.int32)),
                                           tf.int64), number(18, 4, False)))],
                   default=lambda: (zero, zero))


def _check_pixels(height, width):
    """An op that fails with a one-line reason when height x width exceeds MAX_MEGAPIXELS."""
    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    message = tf.strings.format("image is {}x{} pixels, above the {}-megapixel limit",
                                (width, height, MAX_MEGAPIXELS))
    return tf.debugging.Assert(height * width <= MAX_MEGAPIXELS * 1_000_000, [message], summarize=1)


def _is_jpeg(contents):
    return tf.equal(tf.strings.substr(tf.strings.substr(contents, 0, 3) + b"\0\0\0", 0, 3), b"\xff\xd8\xff")


# libjpeg can decode at 1/2, 1/4 or 1/8 size by scaling its inverse DCT: for a 2000 px
# photo trained at 286 px that skips most of the decoding work.
JPEG_SCALES = (1, 2, 4, 8)


def _decode_jpeg_at_least(contents, min_side):
    """A JPEG decoded at the smallest DCT scale whose shorter side stays >= min_side."""
    shape = tf.io.extract_jpeg_shape(contents)
    shorter = tf.minimum(shape[0], shape[1])
    index = tf.reduce_sum(tf.cast(shorter >= tf.constant(JPEG_SCALES[1:]) * min_side, tf.int32))
    ratio = tf.gather(JPEG_SCALES, index)
    with tf.control_dependencies([_check_pixels(shape[0] // ratio, shape[1] // ratio)]):
        branches = [lambda ratio=ratio: tf.io.decode_jpeg(contents, ratio=ratio) for ratio in JPEG_SCALES]
        return tf.image.convert_image_dtype(tf.switch_case(index, branches), tf.float32)


def _jpeg_size(contents):
    shape = tf.cast(tf.io.extract_jpeg_shape(contents), tf.int64)
    return shape[0], shape[1]


def decode_image(contents, min_side=None):
    """Encoded bytes (scalar string tensor) -> float32 RGB (H, W, 3) in [0, 1].

    min_side: the caller only needs the shorter side this long (it resizes down next);
    large JPEGs are then decoded at a reduced DCT scale (at least min_side), others in full.
    Raises tf.errors.InvalidArgumentError for bytes that are not a supported image, and for
    pictures above MAX_MEGAPIXELS (as decoded; PNG, GIF, BMP and JPEG sizes are read from
    their headers first, so nothing is allocated).
    """
    def generic():
        return tf.io.decode_image(contents, dtype=tf.float32, expand_animations=False)

    def webp_or_generic():
        return tf.cond(_is_webp(contents),
                       lambda: tf.image.convert_image_dtype(tf.io.decode_webp(contents)[0], tf.float32), generic)

    def full_size():
        height, width = _header_size(contents)
        jpeg_height, jpeg_width = tf.cond(_is_jpeg(contents), lambda: _jpeg_size(contents),
                                          lambda: (tf.constant(0, tf.int64), tf.constant(0, tf.int64)))
        with tf.control_dependencies([_check_pixels(tf.maximum(height, jpeg_height), tf.maximum(width, jpeg_width))]):
            return webp_or_generic()

    if min_side is None:
        image = full_size()
    else:
        image = tf.cond(_is_jpeg(contents), lambda: _decode_jpeg_at_least(contents, min_side), full_size)
    image = _to_rgb(image)
    image.set_shape([None, None, 3])
    return image


def list_image_files(source):
    """A folder (searched recursively), a glob pattern or one file -> sorted image paths.

    Hidden files and files without an image extension are left out. Raises
    FileNotFoundError with one clear line when nothing matches.
    """
    source = os.path.expanduser(os.fspath(source))  # quoted globs reach us with "~" unexpanded
    if os.path.isdir(source):
        candidates = []
        for root, dirs, files in os.walk(source):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            candidates += [os.path.join(root, f) for f in files if not f.startswith(".")]
    elif os.path.isfile(source):
        candidates = [source]
    else:
        candidates = [p for p in glob.glob(source, recursive=True) if os.path.isfile(p)]
        if not candidates:
            raise FileNotFoundError(f"no such file, folder or matching pattern: {source}")
    images = sorted(p for p in candidates if p.lower().endswith(IMAGE_EXTENSIONS))
    if not images:
        raise FileNotFoundError(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {source}"
        )
    return images


def short_error(error):
    """The readable last line of a TF error, without its "{{function_node ...}}" prefix."""
    message = error.message.strip().splitlines()[-1] if error.message.strip() else type(error).__name__
    if message.startswith("{{"):
        message = message.split("}}", 1)[-1].strip()
    assertion = re.search(r"Summarized data: b['\"](.*?)['\"]", message)  # our own checks' text
    if assertion:
        message = assertion.group(1)
    return message[:160]


def _decode_error(path):
    """The decoder's own one-line complaint about a file (eager, only for failures)."""
    try:
        contents = tf.io.read_file(path)
        if int(tf.strings.length(contents)) == 0:
            return "empty file"
        decode_image(contents)
    except tf.errors.OpError as error:
        return short_error(error)
    return "unreadable"


def find_decodable(paths, log=None):
    """Split paths into those that decode and those that do not.

    Decodes every file once, in parallel, with the same decoder the pipeline uses, so a
    file that passes here cannot fail later. Each bad file gets one warning line on `log`
    (stderr by default) and is skipped. Returns (good_paths, bad_paths), both sorted.
    """
    log = log or sys.stderr
    paths = list(paths)
    if not paths:
        return [], []
    dataset = tf.data.Dataset.from_tensor_slices(paths)
    dataset = dataset.map(
        # JPEGs at their smallest DCT scale: the whole entropy-coded stream is still read
        # and checked, at an eighth of the pixel work.
        lambda p: (p, tf.shape(decode_image(tf.io.read_file(p), min_side=1))),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    ).ignore_errors()
    good = {p.decode() for p, _ in dataset.as_numpy_iterator()}
    bad = sorted(p for p in paths if p not in good)
    for path in bad:
        print(f"warning: skipping {path}: {_decode_error(path)}", file=log)
    if bad:
        print(f"warning: skipped {len(bad)} of {len(paths)} files that do not decode", file=log)
    return sorted(good), bad
