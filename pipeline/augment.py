"""Resizing and the pix2pix "random jitter", with stateless seeded ops.

Everything here works on the RGB image before any colour conversion, so the condition and
the target derived from it afterwards stay pixel-aligned by construction.
"""

import tensorflow as tf


def resize_shorter_side(image, size):
    """Scale (H, W, 3) so that its shorter side is `size`, keeping the aspect ratio: float32 in [0, 1]
    from a float image in [0, 1] or a uint8 one.

    Anime art is drawn at many aspect ratios; squashing it to a square (as pix2pix does)
    would teach the network distorted shapes.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
    resized = tf.image.resize(image, new_shape, method="bilinear", antialias=True)
    if image.dtype == tf.uint8:  # float only at the new size: a big picture is never held as float
        resized = resized / 255.0
    return tf.clip_by_value(resized, 0.0, 1.0)


def center_crop(image, size):
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    top = (height - size) // 2
    left = (width - size) // 2
    # Static shape, so that layers needing known sizes (bilinear UpSampling2D) can be traced.
    return tf.ensure_shape(image[top : top + size, left : left + size, :], [size, size, image.shape[-1]])


def random_jitter(image, size, seed, flip=True, zoom=1.0, rotate=0.0):
    """Random crop of `size` from a resized image, then a random horizontal flip.

    seed: int32/int64 tensor of shape (2,), e.g. [global seed, element index].
    zoom > 1: the crop's side is drawn between the image's shorter side and size / zoom, then
        resized to `size`: the same picture seen at several scales, from a little wider than
        the plain crop to zoom times closer (more pictures from few, colours untouched).
    rotate > 0: the image is first turned by an angle drawn in [-rotate, rotate] degrees, its
        corners filled by reflection.
    With zoom=1 and rotate=0 the crops are those of earlier versions, seed for seed.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    channels = image.shape[-1]
    if rotate:
        image = random_rotation(image, rotate, tf.random.experimental.stateless_fold_in(seed, 1))
    if zoom > 1.0:
        image = tf.image.convert_image_dtype(image, tf.float32)  # resized below: float in [0, 1]
        zoom_seed = tf.random.experimental.stateless_fold_in(seed, 2)
        shorter = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
        smallest = tf.cast(tf.math.ceil(size / zoom), tf.int32)
        side = tf.random.stateless_uniform([], zoom_seed, smallest, tf.maximum(shorter, smallest) + 1, tf.int32)
        image = tf.image.stateless_random_crop(image, [side, side, channels], seed=crop_seed)
        image = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
        image = tf.ensure_shape(tf.clip_by_value(image, 0.0, 1.0), [size, size, channels])
    else:
        # All channels are cropped together: RGB, or RGB plus a paired sketch, stay aligned.
        image = tf.image.stateless_random_crop(image, [size, size, channels], seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def random_rotation(image, degrees, seed):
    """(H, W, C) float turned about its centre by a seeded angle in [-degrees, degrees]."""
    angle = tf.random.stateless_uniform([], seed, -degrees, degrees) * (3.141592653589793 / 180.0)
    height, width = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # Output pixel (x, y) is read from the input at the point rotated back about the centre.
    transform = tf.stack([cos, -sin, centre_x - cos * centre_x + sin * centre_y,
                          sin, cos, centre_y - sin * centre_x - cos * centre_y, 0.0, 0.0])
    turned = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform[None], output_shape=tf.shape(image)[:2],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    return tf.ensure_shape(turned[0], image.shape)
