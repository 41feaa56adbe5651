"""The SGRU paper's perceptual loss: sketch-weighted L1 on pixels and VGG19 features."""

import os

import keras
from keras import ops

# (layer, weight): the image itself, then VGG19 conv1_2 ... conv5_2, with the paper's weights.
PERCEPTUAL_LAYERS = (
    (None, 0.88),
    ("block1_conv2", 0.79),
    ("block2_conv2", 0.63),
    ("block3_conv2", 0.51),
    ("block4_conv2", 0.39),
    ("block5_conv2", 1.07),
)
# Caffe-style VGG preprocessing (BGR, ImageNet channel means), as keras.applications.vgg19.
VGG_BGR_MEAN = (103.939, 116.779, 123.68)

HOW_TO_GET_WEIGHTS = (
    "VGG19 ImageNet weights are needed for the perceptual loss and cannot be downloaded here; on a "
    "machine with internet run: python -c \"import keras; keras.applications.VGG19(include_top=False, "
    "weights='imagenet').save_weights('vgg19.weights.h5')\" and pass --vgg-weights vgg19.weights.h5")


def vgg19_features(weights_path=None, random_weights=False):
    """A model mapping RGB in [-1, 1] to the five feature maps of PERCEPTUAL_LAYERS.

    weights_path: a local Keras weights file of VGG19(include_top=False). random_weights=True
    (tests only) builds it untrained. Anything else raises FileNotFoundError saying how to
    get the file.
    """
    if not random_weights:
        if not weights_path or not os.path.exists(weights_path):
            raise FileNotFoundError(HOW_TO_GET_WEIGHTS)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if not random_weights:
        vgg.load_weights(weights_path)
    vgg.trainable = False
    image = keras.Input(shape=(None, None, 3))
    bgr = (image[..., ::-1] + 1.0) * 127.5 - ops.convert_to_tensor(VGG_BGR_MEAN)
    feature_model = keras.Model(vgg.input, [vgg.get_layer(name).output for name, _ in PERCEPTUAL_LAYERS[1:]])
    return keras.Model(image, feature_model(bgr), name="vgg19_features")


def _resize_like(mask, feature):
    return ops.image.resize(mask, ops.shape(feature)[1:3], interpolation="area")


def perceptual_loss_per_sample(features, sketch, target, prediction, target_features=None):
    """Per-sample loss (batch,): sum over terms of weight * mean(sketch_mask * |phi(y) - phi(g)|).

    sketch: (batch, H, W, 1) in [-1, 1]; it is mapped to [0, 1] (paper white = 1) and resized
    to each term's resolution, so flat areas count fully and line pixels little.
    target_features: features of the target, when already computed (shared by N outputs).
    """
    mask = (sketch + 1.0) * 0.5
    weight = PERCEPTUAL_LAYERS[0][1]
    total = weight * ops.mean(mask * ops.abs(target - prediction), axis=[1, 2, 3])
    target_features = target_features if target_features is not None else features(target)
    for (_, weight), real, fake in zip(PERCEPTUAL_LAYERS[1:], target_features, features(prediction)):
        total += weight * ops.mean(_resize_like(mask, real) * ops.abs(real - fake), axis=[1, 2, 3])
    return total


def diverse_outputs_loss(per_output_losses):
    """Over N colourings (batch, N): 0.999 * min + 0.001 * mean, averaged over the batch.

    Only the closest colouring is pulled to the target; the small mean term keeps the
    others learning, so they stay plausible yet different.
    """
    return ops.mean(0.999 * ops.min(per_output_losses, axis=1) + 0.001 * ops.mean(per_output_losses, axis=1))


def sgru_loss(features, sketch, target, outputs, num_outputs):
    """The SGRU training loss for outputs (batch, H, W, 3N) against target (batch, H, W, 3)."""
    target_features = features(target)
    per_output = [perceptual_loss_per_sample(features, sketch, target, outputs[..., 3 * i: 3 * i + 3],
                                             target_features) for i in range(num_outputs)]
    return diverse_outputs_loss(ops.stack(per_output, axis=1))
