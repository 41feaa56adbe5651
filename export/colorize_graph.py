"""The colourising computation around a generator, as TF ops that serialise into a SavedModel.

Any resolution: the network runs at its trained size, its a*b* prediction is upsampled to
the input's size and recombined with the input's own full-resolution L*, so the artist's
line detail is kept exactly and only colour is added.
"""

import tensorflow as tf

from pipeline import color


def to_float_rgb(images):
    """uint8 [N, H, W, 1 or 3] -> float RGB [N, H, W, 3] in [0, 1]; other channel counts fail."""
    channels = tf.shape(images)[-1]
    check = tf.debugging.assert_equal(
        tf.logical_or(tf.equal(channels, 1), tf.equal(channels, 3)), True,
        message="images must have 1 (gray) or 3 (RGB) channels")
    with tf.control_dependencies([check]):  # report this before any op fails on the shape
        rgb = tf.cond(tf.equal(channels, 1), lambda: tf.tile(images, [1, 1, 1, 3]), lambda: tf.identity(images))
    return tf.cast(rgb, tf.float32) / 255.0


def colorize_rgb(network, rgb, model_size, saturation=1.0):
    """float RGB [N, H, W, 3] in [0, 1] (any H, W) -> colourised float RGB, same shape.

    network: callable, normalised L [N, S, S, 1] -> normalised ab [N, S, S, 2] (a Keras
    generator in inference mode, or a TFLite interpreter wrapped as a function).
    """
    lab = color.rgb_to_lab(rgb)
    full_l = lab[..., :1]
    small = tf.image.resize(rgb, [model_size, model_size], method="area")
    small_l = color.normalize_l(color.rgb_to_lab(small)[..., :1])
    ab = network(small_l)
    ab = tf.image.resize(ab, tf.shape(rgb)[1:3], method="bilinear") * saturation
    return color.lab_to_rgb(tf.concat([full_l, color.denormalize_ab(ab)], axis=-1))


def to_uint8(rgb):
    return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)


def colorize_uint8(generator, images, model_size, saturation=1.0, task="gray"):
    """uint8 [N, H, W, 1 or 3] -> uint8 RGB [N, H, W, 3]: the eager reference of the export."""
    network = lambda condition: generator(condition, training=False)  # noqa: E731
    return to_uint8(TASK_GRAPHS[task](network, to_float_rgb(images), model_size, saturation))


def sketch_colorings(network, rgb, model_size, saturation=1.0):
    """Sketch task: line art as float RGB [N, H, W, 3] in [0, 1] -> every colouring [N, K, H, W, 3].

    The network sees the gray sketch at its trained size in [-1, 1] and answers with K RGB
    colourings stacked on channels (3K); each is upsampled to the input's size. saturation
    blends between gray (0) and the prediction (1).
    """
    gray = tf.image.rgb_to_grayscale(rgb)
    small = tf.image.resize(gray, [model_size, model_size], method="area") * 2.0 - 1.0
    predicted = network(small)
    batch = tf.shape(predicted)[0]
    # Static when the network's channels are known, so the signature's output shape says K.
    count = predicted.shape[-1] // 3 if predicted.shape[-1] is not None else tf.shape(predicted)[-1] // 3
    # [N, S, S, 3K] -> [N*K, S, S, 3]: resize every colouring in one op.
    stacked = tf.reshape(tf.transpose(tf.reshape(predicted, [batch, model_size, model_size, count, 3]),
                                      [0, 3, 1, 2, 4]), [batch * count, model_size, model_size, 3])
    colored = tf.image.resize((stacked + 1.0) * 0.5, tf.shape(rgb)[1:3], method="bilinear")
    luminance = tf.image.rgb_to_grayscale(colored)
    colored = tf.clip_by_value(luminance + saturation * (colored - luminance), 0.0, 1.0)
    return tf.reshape(colored, tf.concat([[batch, count], tf.shape(rgb)[1:3], [3]], axis=0))


def sketch_rgb(network, rgb, model_size, saturation=1.0):
    """Sketch task, first colouring only: float RGB [N, H, W, 3] -> [N, H, W, 3].

    The first colouring is computed alone so single-output serving pays for one resize.
    """
    return sketch_colorings(lambda condition: network(condition)[..., :3], rgb, model_size, saturation)[:, 0]


TASK_GRAPHS = {"gray": colorize_rgb, "sketch": sketch_rgb}
