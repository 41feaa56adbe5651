"""The colourising computation around a generator, as TF ops that serialise into a SavedModel.

Any resolution: the network runs at its trained size, its prediction is upsampled to the
input's size and, for grayscale models, recombined with the input's own full-resolution
L*, so the artist's line detail is kept exactly and only colour is added.

Memory: only the recombination touches every pixel, so it runs in horizontal strips of
about STRIP_PIXELS pixels. A picture costs its uint8 input and output (in a SavedModel also
its uint8 strips before they are joined) plus one strip's float temporaries, whatever its
size: about 10 bytes a pixel where whole-picture float tensors took about 80 (BENCHMARKS.md). The upsampling is split the same way: a*b* is first resized along the
rows (a small [H, S] tensor), each strip then along its columns; bilinear interpolation
is separable, so the strips join into exactly the whole-picture resize.
"""

import tensorflow as tf

from pipeline import color
from pipeline.color import to_uint8
from pipeline.decode import composite_on_white
from pipeline.hints import TASK_HINT_CHANNELS

# Pixels per strip: float temporaries of roughly 100 MB, and few enough strips that their
# per-op overhead does not show on small pictures.
STRIP_PIXELS = 1 << 20


def as_uint8_rgb(images):
    """uint8 [N, H, W, 1|3|4] -> uint8 RGB [N, H, W, 3]: gray repeated, RGBA composited on white
    (the paper colour, as files are read). Other ranks or channel counts fail naming the shape.

    In-process callers may pass float RGB in [0, 1]: it is rounded to uint8 first, the form
    every signature takes.
    """
    images = to_uint8(images)  # a tensor; uint8 passes through
    # Checked at run time: signatures declare an unknown rank so that this message, not a
    # kernel's, answers a single picture sent without its batch dimension.
    if images.shape.rank is None:
        images = tf.cond(tf.equal(tf.rank(images), 4), lambda: _as_rank_4(images), lambda: _not_a_batch(images))
    elif images.shape.rank != 4:
        raise ValueError(f"images must be uint8 [N, H, W, C] (a batch of pictures); received shape {images.shape}")
    known = images.shape[-1]
    if known in (1, 3, 4):  # decided while tracing (e.g. a picture already made RGB)
        return _channels_to_rgb(images, known)
    channels = tf.shape(images)[-1]
    channels_ok = tf.debugging.Assert(tf.reduce_any(tf.equal(channels, [1, 3, 4])), [
        "images must have 1 (gray), 3 (RGB) or 4 (RGBA) channels; received", channels])
    with tf.control_dependencies([channels_ok]):  # report this before any op fails on the shape
        index = tf.where(tf.equal(channels, 1), 0, tf.where(tf.equal(channels, 3), 1, 2))
        rgb = tf.switch_case(index, [lambda count=count: _channels_to_rgb(images, count) for count in (1, 3, 4)])
    return tf.ensure_shape(rgb, [None, None, None, 3])


def _as_rank_4(images):
    shape = tf.shape(images)
    return tf.reshape(images, [shape[0], shape[1], shape[2], shape[3]])  # the same tensor, rank known


def _not_a_batch(images):
    failed = tf.debugging.Assert(False, [
        "images must be uint8 [N, H, W, C] (a batch of pictures, C = 1, 3 or 4); received shape", tf.shape(images)],
        summarize=8)
    with tf.control_dependencies([failed]):
        return tf.zeros([0, 0, 0, 0], images.dtype)


def _channels_to_rgb(images, channels):
    if channels == 1:
        return tf.tile(images[..., :1], [1, 1, 1, 3])
    if channels == 3:
        return images[..., :3]
    return composite_on_white(images[..., :3], images[..., 3:4])


def with_zero_hints(condition, channels):
    """condition [N, S, S, c] padded with zero channels up to `channels`: a network trained with
    hints, given none, sees what training showed it for "no hint" (colour 0, mask 0)."""
    missing = channels - int(condition.shape[-1])
    if missing <= 0:
        return condition
    return tf.concat([condition, tf.zeros(tf.concat([tf.shape(condition)[:-1], [missing]], 0), condition.dtype)], -1)


def _height_width(model_size):
    """The network's input size as (h, w): an int S is the square trained size (the SavedModel
    signatures, TFLite), a pair the working size of irodori-colorize --render-size."""
    return tuple(model_size) if isinstance(model_size, (tuple, list)) else (model_size, model_size)


def _with_hints(condition, images, hints, task, model_size):
    """The network's condition: condition alone without hints (see with_zero_hints), else with the
    hint channels of uint8 RGBA hints of the pictures' size [N, H, W, 4] (at model_size: S or (h, w))."""
    if hints is None:
        return condition
    hints = tf.convert_to_tensor(hints, tf.uint8)
    expected = tf.concat([tf.shape(images)[:3], [4]], 0)
    # Compared as text, so that a hint tensor of another rank fails here, with this message.
    as_text = lambda shape: tf.strings.reduce_join(tf.as_string(shape), separator="x")  # noqa: E731
    same_size = tf.debugging.Assert(tf.equal(as_text(tf.shape(hints)), as_text(expected)), [
        "hints must be uint8 RGBA [N, H, W, 4] of the pictures' own size; received", tf.shape(hints),
        "for pictures", tf.shape(images)[:3]], summarize=8)
    with tf.control_dependencies([same_size]):
        channels = TASK_HINT_CHANNELS[task](tf.reshape(hints, expected), model_size)
    return tf.concat([condition, channels], axis=-1)


def _small_float(images, model_size):
    """uint8 [N, H, W, 3] -> float RGB [N, h, w, 3] in [0, 1] by area averaging (no full-size float copy)."""
    return tf.image.resize(images, _height_width(model_size), method="area") / 255.0


def _in_strips(images, make_strip):
    """Run make_strip(index, top, bottom) -> uint8 [..., bottom - top, W, 3] over row strips of
    each picture; returns the strips joined into [N, ..., H, W, 3].

    Eagerly (Keras and TFLite models in irodori-colorize and evaluation) the strips are written
    into one NumPy array, which
    is returned: the result is then the only full-size copy (a TensorArray, a concatenation or
    a tf.Variable's zero fill would each add one). In a graph (the SavedModel) a TensorArray
    joins them into a tensor.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.maximum(1, STRIP_PIXELS // tf.maximum(width, 1))
    if tf.executing_eagerly():
        return _strips_into_one_result(images, make_strip, int(rows))
    count = (height + rows - 1) // rows

    def one_picture(index):
        strips = tf.TensorArray(tf.uint8, size=count, infer_shape=False)

        def body(i, strips):
            top = i * rows
            strip = make_strip(index, top, tf.minimum(height, top + rows))  # [..., r, W, 3]
            rank = tf.rank(strip)
            # Rows first, so the TensorArray joins strips along its first axis.
            order = tf.concat([[rank - 3], tf.range(rank - 3), [rank - 2, rank - 1]], axis=0)
            return i + 1, strips.write(i, tf.transpose(strip, order))

        # parallel_iterations=1: one strip's temporaries at a time, however many cores
        _, strips = tf.while_loop(lambda i, _: i < count, body, [tf.constant(0), strips], parallel_iterations=1)
        joined = strips.concat()  # [H, ..., W, 3]
        rank = tf.rank(joined)
        return tf.transpose(joined, tf.concat([tf.range(1, rank - 2), [0, rank - 2, rank - 1]], axis=0))

    if images.shape[0] == 1:  # one picture (colorize_bytes): no stacking copy
        return one_picture(0)[None]
    return tf.map_fn(one_picture, tf.range(tf.shape(images)[0]), fn_output_signature=tf.uint8,
                     parallel_iterations=1)


def _strips_into_one_result(images, make_strip, rows):
    import numpy as np

    count, height = int(images.shape[0]), int(images.shape[1])
    result = None
    for index in range(count):
        for top in range(0, height, rows):
            strip = make_strip(index, top, min(height, top + rows)).numpy()
            if result is None:  # the first strip tells the layout ([r, W, 3] or [K, r, W, 3])
                result = np.empty([count, *strip.shape[:-3], height, *strip.shape[-2:]], np.uint8)
            result[index, ..., top:top + strip.shape[-3], :, :] = strip
    return result


def colorize_rgb(network, images, model_size, saturation=1.0, hints=None):
    """Grayscale task: uint8 RGB [N, H, W, 3] (any H, W) -> colourised uint8 RGB, same shape
    (a tensor in a graph, a NumPy array when run eagerly; see _in_strips).

    network: callable, normalised L [N, h, w, 1] (+ hint channels when hints are given) ->
    normalised ab [N, h, w, 2] (a Keras generator in inference mode, or a TFLite interpreter
    wrapped as a function). model_size: the size the network sees, an int S (S x S, its trained
    size) or a pair (h, w) (a .keras generator takes any multiple of its stride; Colorizer's
    render_size). hints: None, or uint8 RGBA [N, H, W, 4] (pipeline.hints).
    """
    images = as_uint8_rgb(images)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    small_l = color.normalize_l(color.rgb_to_lab(_small_float(images, model_size))[..., :1])
    ab = tf.cast(network(_with_hints(small_l, images, hints, "gray", model_size)), tf.float32) * saturation
    ab_rows = tf.image.resize(ab, [height, _height_width(model_size)[1]], method="bilinear")  # [N, H, w, 2]: small

    def strip(index, top, bottom):
        lightness = color.rgb_to_lab(tf.cast(images[index, top:bottom], tf.float32) / 255.0)[..., :1]
        ab_strip = tf.image.resize(ab_rows[index, top:bottom], [bottom - top, width], method="bilinear")
        return to_uint8(color.lab_to_rgb(tf.concat([lightness, color.denormalize_ab(ab_strip)], axis=-1)))

    return _in_strips(images, strip)


def sketch_colorings(network, images, model_size, saturation=1.0, hints=None):
    """Sketch task: line art, uint8 [N, H, W, 1|3] -> every colouring, uint8 [N, K, H, W, 3]
    (a tensor in a graph, a NumPy array when run eagerly).

    The network sees the gray sketch at model_size (as colorize_rgb's) in [-1, 1] and answers
    with K RGB colourings stacked on channels (3K); each is upsampled to the input's size.
    saturation blends between gray (0) and the prediction (1). hints: as colorize_rgb's.
    """
    small_height, small_width = _height_width(model_size)
    images = as_uint8_rgb(images)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    small = tf.image.rgb_to_grayscale(_small_float(images, model_size)) * 2.0 - 1.0
    predicted = tf.cast(network(_with_hints(small, images, hints, "sketch", model_size)), tf.float32)
    batch = tf.shape(predicted)[0]
    # Static when the network's channels are known, so the signature's output shape says K.
    count = predicted.shape[-1] // 3 if predicted.shape[-1] is not None else tf.shape(predicted)[-1] // 3
    # [N, h, w, 3K] -> [N, K, h, w, 3] -> rows resized: [N, K, H, w, 3].
    stacked = tf.transpose(tf.reshape(predicted, [batch, small_height, small_width, count, 3]), [0, 3, 1, 2, 4])
    rows = tf.image.resize(tf.reshape(stacked, [-1, small_height, small_width, 3]), [height, small_width],
                           method="bilinear")
    rows = tf.reshape(rows, [batch, count, height, small_width, 3])

    def strip(index, top, bottom):
        colored = tf.image.resize((rows[index, :, top:bottom] + 1.0) * 0.5, [bottom - top, width], method="bilinear")
        luminance = tf.image.rgb_to_grayscale(colored)
        return to_uint8(luminance + saturation * (colored - luminance))  # [K, r, W, 3]

    colorings = _in_strips(images, strip)
    if isinstance(count, int) and not tf.executing_eagerly():
        colorings = tf.ensure_shape(colorings, [None, count, None, None, 3])
    return colorings


def sketch_rgb(network, images, model_size, saturation=1.0, hints=None):
    """Sketch task, first colouring only: uint8 [N, H, W, 1|3] -> uint8 [N, H, W, 3].

    The first colouring is computed alone so single-output serving pays for one resize.
    """
    return sketch_colorings(lambda condition: network(condition)[..., :3], images, model_size, saturation,
                            hints)[:, 0]


TASK_GRAPHS = {"gray": colorize_rgb, "sketch": sketch_rgb}
