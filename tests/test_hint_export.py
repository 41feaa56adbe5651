"""Hints through every deployed form: SavedModel signatures, TFLite, the Colorizer (issue 12).

A network that copies its hint channels (tests/references.py) makes the hint's effect exact:
where a hint was put, the output must be the hint colour (with the picture's own L* for gray);
a trained-shape U-Net with hint inputs checks that no-hint calls are unchanged.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import tflite
from export.colorizer import Colorizer
from export.saved_model import export_saved_model
from model.unet import UNetGenerator
from tests.references import expected_hinted_gray, hint_copying_generator, widen_outputs

SIZE = 32
HINT_RGB = (200, 40, 60)


def picture(height=64, width=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(30, 230, (1, height, width, 3)).astype(np.uint8)


def square_hint(height=64, width=96, top=16, left=24, side=16, rgb=HINT_RGB):
    """One opaque square of hint colour: at 64 px -> 32 px it covers 8 x 8 network pixels whole."""
    hints = np.zeros((1, height, width, 4), np.uint8)
    hints[0, top:top + side, left:left + side] = (*rgb, 255)
    return hints


@pytest.fixture(scope="module")
def hinted_unet():
    keras.utils.set_random_seed(12)
    return widen_outputs(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, init="he", in_channels=4), 0.4)


@pytest.fixture(scope="module")
def hinted_export(hinted_unet, tmp_path_factory):
    return export_saved_model(hinted_unet, str(tmp_path_factory.mktemp("hinted")), SIZE)


@pytest.fixture(scope="module")
def copier_exports(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("copier"))
    gray, sketch = hint_copying_generator("gray", SIZE), hint_copying_generator("sketch", SIZE)
    return {"gray": (gray, export_saved_model(gray, folder, SIZE, model_name="gray")),
            "sketch": (sketch, export_saved_model(sketch, folder, SIZE, model_name="sketch", task="sketch"))}


def test_no_hints_or_empty_hints_answer_as_the_signatures_without_hints(hinted_export):
    signatures = tf.saved_model.load(hinted_export).signatures
    images = picture()
    plain = signatures["serving_default"](images=tf.constant(images))["colorized"].numpy()
    assert plain.std() > 10  # a colourful network, so equality below means something
    empty = signatures["colorize_hinted"](images=tf.constant(images), hints=tf.zeros((1, 64, 96, 4), tf.uint8),
                                          saturation=tf.constant(1.0))["colorized"].numpy()
    np.testing.assert_array_equal(empty, plain)
    hinted = signatures["colorize_hinted"](images=tf.constant(images), hints=tf.constant(square_hint()),
                                           saturation=tf.constant(1.0))["colorized"].numpy()
    assert np.abs(hinted.astype(int) - plain).max() > 3  # the network does read its hint channels

    png = tf.io.encode_png(images[0])
    by_bytes = signatures["colorize_bytes"](image_bytes=tf.stack([png]))["png_bytes"]
    no_hint_png = tf.io.encode_png(tf.zeros((64, 96, 4), tf.uint8))
    hinted_bytes = signatures["colorize_bytes_hinted"](
        image_bytes=tf.stack([png, png, png]),
        hint_png_bytes=tf.constant([b"", no_hint_png.numpy(), tf.io.encode_png(square_hint()[0]).numpy()]))
    decoded = [tf.io.decode_png(contents).numpy() for contents in hinted_bytes["png_bytes"]]
    np.testing.assert_array_equal(decoded[0], tf.io.decode_png(by_bytes[0]).numpy())
    np.testing.assert_array_equal(decoded[1], plain[0])
    np.testing.assert_array_equal(decoded[2], hinted[0])
    for hint_count in (0, 2, 4):  # one hint entry per picture, not more, not fewer
        with pytest.raises(tf.errors.InvalidArgumentError, match="one entry per image_bytes entry"):
            signatures["colorize_bytes_hinted"](image_bytes=tf.stack([png, png, png]),
                                                hint_png_bytes=tf.constant([b""] * hint_count, tf.string))


def test_a_hint_copying_network_shows_the_hint_colour_where_it_was_put(copier_exports, tmp_path):
    gray, saved_model = copier_exports["gray"]
    path = str(tmp_path / "copier.tflite")
    with open(path, "wb") as f:
        f.write(tflite.convert(gray, SIZE))
    images, hints = picture(), square_hint()
    expected = expected_hinted_gray(images[0], HINT_RGB)
    for colorizer in (Colorizer(generator=gray), Colorizer(saved_model), Colorizer(path)):
        assert colorizer.hinted, colorizer.kind
        output = colorizer(images, hints=hints)[0, 0]
        # Inside the square, away from the bilinear blend at its edge: the hint's a*b*, the picture's L*.
        np.testing.assert_allclose(output[19:29, 27:37], expected[19:29, 27:37], atol=2, err_msg=colorizer.kind)
        gray_output = colorizer(images)[0, 0]  # no hint: a*b* = 0 everywhere
        assert np.abs(gray_output.astype(int) - gray_output[..., :1]).max() <= 2
        np.testing.assert_array_equal(output[40:, 60:], gray_output[40:, 60:], err_msg=colorizer.kind)

    signatures = tf.saved_model.load(saved_model).signatures
    by_bytes = signatures["colorize_bytes_hinted"](image_bytes=tf.stack([tf.io.encode_png(images[0])]),
                                                   hint_png_bytes=tf.stack([tf.io.encode_png(hints[0])]))
    np.testing.assert_allclose(tf.io.decode_png(by_bytes["png_bytes"][0]).numpy()[19:29, 27:37],
                               expected[19:29, 27:37], atol=2)


def test_sketch_hints_colour_every_colouring_with_the_hint_rgb(copier_exports):
    _, saved_model = copier_exports["sketch"]
    colorizer = Colorizer(saved_model)
    assert colorizer.task == "sketch" and colorizer.hinted
    output = colorizer(picture(), hints=square_hint())[0]
    assert output.shape == (1, 64, 96, 3)
    np.testing.assert_allclose(output[0, 19:29, 27:37], np.broadcast_to(HINT_RGB, (10, 10, 3)), atol=1)
    first = tf.saved_model.load(saved_model).signatures["colorize_hinted"](
        images=tf.constant(picture()), hints=tf.constant(square_hint()), saturation=tf.constant(1.0))
    np.testing.assert_array_equal(first["colorized"].numpy()[0], output[0])


def test_tflite_takes_the_hint_channels_as_inputs_on_the_gpu_delegate(hinted_unet):
    rng = np.random.default_rng(3)

    def hinted_condition():
        mask = (rng.uniform(size=(1, SIZE, SIZE, 1)) < 0.05).astype("float32")
        ab = rng.uniform(-0.6, 0.6, (1, SIZE, SIZE, 2)).astype("float32") * mask
        return np.concatenate([rng.uniform(-1, 1, (1, SIZE, SIZE, 1)).astype("float32"), ab, mask], axis=-1)

    calibration = [hinted_condition() for _ in range(8)]
    for mode, max_error in (("none", 1e-5), ("fp16", 5e-3), ("int8", 0.15)):
        model = tflite.convert(hinted_unet, SIZE, mode, representative_inputs=calibration)
        interpreter = tflite.interpreter(model)
        assert list(interpreter.get_input_details()[0]["shape"]) == [1, SIZE, SIZE, 4]
        assert tflite.gpu_incompatible_ops(model) == set(), mode
        for condition in (hinted_condition(), hinted_condition()):
            expected = hinted_unet(condition, training=False).numpy()
            assert np.abs(tflite.run(interpreter, condition) - expected).max() < max_error, mode


def test_hints_for_a_model_without_hint_inputs_or_of_the_wrong_size_are_refused(hinted_export, tmp_path):
    keras.utils.set_random_seed(2)
    classic = export_saved_model(UNetGenerator(image_size=SIZE, num_downs=5, ngf=4), str(tmp_path), SIZE)
    colorizer = Colorizer(classic)
    assert not colorizer.hinted and "colorize_hinted" not in tf.saved_model.load(classic).signatures
    with pytest.raises(ValueError, match="trained without hints"):
        colorizer(picture(), hints=square_hint())
    with pytest.raises(tf.errors.InvalidArgumentError, match="hints must be uint8 RGBA"):
        Colorizer(hinted_export)(picture(), hints=square_hint(height=60))
