"""Independent references for the colouring tests, written with NumPy, OpenCV and skimage only
(never with Irodori's own colour code), and the helpers that make their comparisons mean something."""

import warnings

import cv2
import numpy as np
from skimage import color as skcolor

# tf.image.rgb_to_grayscale's luma weights (ITU-R BT.601), the sketch path's gray.
LUMA = np.array([0.2989, 0.5870, 0.1140])


def widen_outputs(generator, scale):
    """Scale the output convolution so the tanh outputs spread over [-1, 1] without saturating.

    An untrained pix2pix-initialised network answers about 0.01 everywhere, too little for
    any tolerance or colour comparison to mean something.
    """
    layer = next(layer for layer in reversed(generator.layers) if layer.name.startswith("output") and layer.weights)
    kernel, *rest = layer.get_weights()
    layer.set_weights([kernel * scale, *rest])
    return generator


def lab2rgb_uint8(lab):
    with warnings.catch_warnings():  # skimage warns when it clips Z < 0 (strong blue at low L*)
        warnings.simplefilter("ignore")
        return np.round(np.clip(skcolor.lab2rgb(lab), 0, 1) * 255).astype(np.uint8)


def independent_gray_reference(generator, images, size, saturation=1.0):
    """What the gray colouriser should compute, written with OpenCV and skimage only.

    Area-resize the picture to the model size, L*/50 - 1 of that into the network,
    a*b* = 110 x output upsampled bilinearly (half-pixel centres, as cv2.INTER_LINEAR),
    then Lab -> RGB with the picture's own full-resolution L*.
    """
    colored = []
    for image in images:
        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        rgb = rgb.astype(np.float64) / 255.0
        height, width = rgb.shape[:2]
        small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        condition = skcolor.rgb2lab(small)[..., :1] / 50.0 - 1.0
        ab = np.asarray(generator(condition[None].astype(np.float32), training=False))[0].astype(np.float64)
        ab = cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR) * 110.0 * saturation
        colored.append(lab2rgb_uint8(np.concatenate([skcolor.rgb2lab(rgb)[..., :1], ab], axis=-1)))
    return np.stack(colored)


def assert_colourful(rgb_uint8, min_chroma=15.0):
    """The comparison means something only if the colours are far from gray."""
    lab = skcolor.rgb2lab(rgb_uint8 / 255.0)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    assert chroma.mean() > min_chroma and lab[..., 1:].std() > 10, (chroma.mean(), lab[..., 1:].std())


def independent_sketch_reference(generator, images, size, saturation=1.0):
    """Every colouring [N, K, H, W, 3] uint8, written with NumPy and OpenCV only.

    Gray (BT.601 luma) area-resized to the model size, x 2 - 1 into the network; each RGB
    colouring (output + 1) / 2 upsampled bilinearly (half-pixel centres, cv2.INTER_LINEAR),
    blended with its own luma by saturation, clipped to [0, 1].
    """
    result = []
    for image in images:
        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        gray = (rgb.astype(np.float64) / 255.0) @ LUMA
        height, width = gray.shape
        small = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA) * 2.0 - 1.0
        predicted = np.asarray(generator(small[None, ..., None].astype(np.float32), training=False))[0]
        colorings = []
        for k in range(predicted.shape[-1] // 3):
            colored = cv2.resize((predicted[..., 3 * k:3 * k + 3].astype(np.float64) + 1.0) / 2.0, (width, height),
                                 interpolation=cv2.INTER_LINEAR)
            luma = (colored @ LUMA)[..., None]
            colorings.append(np.round(np.clip(luma + saturation * (colored - luma), 0, 1) * 255).astype(np.uint8))
        result.append(np.stack(colorings))
    return np.stack(result)


def hint_copying_generator(task="gray", image_size=32):
    """A network that answers with its hint channels, to see hints travel end to end.

    Gray: condition [L*, a*b* hint, mask] -> the hint's normalised a*b* (0, i.e. gray, where
    there is none). Sketch: [lines, RGB hint, mask] -> the hint's RGB in [-1, 1] (one colouring;
    mid gray where there is none). Slicing only, so TFLite keeps it in the GPU delegate's ops.
    """
    import keras

    channels = {"gray": 4, "sketch": 5}[task]
    condition = keras.Input((None, None, channels), name="condition")
    answer = condition[..., 1:channels - 1]
    generator = keras.Model(condition, answer, name=f"hint_copier_{task}")
    generator.image_size = image_size  # what Colorizer reads of a trained generator
    return generator


def expected_hinted_gray(picture, hint_rgb):
    """uint8 RGB: the picture's own L* with the a*b* of the hint colour (skimage), as a hinted
    gray colouriser shows an area covered by one hint colour."""
    lightness = skcolor.rgb2lab(picture / 255.0)[..., :1]
    ab = skcolor.rgb2lab(np.asarray(hint_rgb, np.float64).reshape(1, 1, 3) / 255.0)[..., 1:]
    return lab2rgb_uint8(np.concatenate([lightness, np.broadcast_to(ab, picture.shape[:2] + (2,))], axis=-1))
