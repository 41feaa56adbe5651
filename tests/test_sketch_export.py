"""Export and use of sketch models with several colourings (SGRU)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import colorize, tflite
from export.colorizer import Colorizer
from export.colorize_graph import colorize_uint8, sketch_colorings, to_float_rgb, to_uint8
from export.pictures import contact_sheet
from export.saved_model import export_saved_model
from model.sgru import SGRUGenerator
from tests.conftest import write_rgb

SIZE, COLORINGS = 32, 3


@pytest.fixture(scope="module")
def sgru():
    keras.utils.set_random_seed(21)
    return SGRUGenerator(image_size=SIZE, num_levels=3, filters=8, num_outputs=COLORINGS)


@pytest.fixture(scope="module")
def exported(sgru, tmp_path_factory):
    return export_saved_model(sgru, str(tmp_path_factory.mktemp("export")), SIZE, task="sketch")


@pytest.fixture(scope="module")
def lines():
    return np.random.default_rng(22).integers(0, 256, size=(2, 40, 24, 1), dtype=np.uint8)


def test_reloaded_sgru_export_matches_eager_reference(sgru, exported, lines):
    signatures = tf.saved_model.load(exported).signatures
    everything = signatures["colorize_all"](images=tf.constant(lines), saturation=tf.constant(1.0))["colorings"]
    assert everything.shape == (2, COLORINGS, 40, 24, 3) and everything.dtype == tf.uint8
    network = lambda condition: sgru(condition, training=False)  # noqa: E731
    reference = to_uint8(sketch_colorings(network, to_float_rgb(tf.constant(lines)), SIZE)).numpy()
    assert np.abs(everything.numpy().astype(int) - reference).max() <= 1
    # The colourings differ from each other: they are not one output repeated.
    assert np.abs(reference[:, 0].astype(int) - reference[:, 1]).mean() > 1

    first = signatures["serving_default"](images=tf.constant(lines))["colorized"].numpy()
    assert np.abs(first.astype(int) - everything.numpy()[:, 0]).max() <= 1
    assert np.abs(first.astype(int) - colorize_uint8(sgru, tf.constant(lines), SIZE, task="sketch")).max() <= 1


def test_colorings_stack_in_channel_order():
    """Colouring k of the network's 3K channels is colourings[:, k], at the input's size."""
    constant = np.array([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0], np.float32)  # black, white, red
    network = lambda condition: tf.ones(tf.concat([tf.shape(condition)[:3], [9]], 0)) * constant  # noqa: E731
    result = sketch_colorings(network, tf.zeros((1, 10, 14, 3)), 8).numpy()
    assert result.shape == (1, 3, 10, 14, 3)
    np.testing.assert_allclose(result[0, :, 5, 7], [[0, 0, 0], [1, 1, 1], [1, 0, 0]], atol=1e-6)


def test_gray_exports_have_no_colorings_signature(tmp_path):
    from model.unet import UNetGenerator

    gray = export_saved_model(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8), str(tmp_path), SIZE)
    assert "colorize_all" not in tf.saved_model.load(gray).signatures


def test_colorize_writes_every_coloring_and_a_sheet(exported, lines, tmp_path):
    write_rgb(tmp_path / "page.png", np.repeat(lines[0], 3, axis=-1))
    out = tmp_path / "out"
    assert colorize.main([str(tmp_path / "page.png"), "-o", str(out), "--model", exported, "--task", "sketch"]) == 0
    assert sorted(os.listdir(out)) == ["page_1.png", "page_2.png", "page_3.png", "page_sheet.png"]
    served = tf.saved_model.load(exported).signatures["colorize_all"](
        images=tf.constant(np.repeat(lines[:1], 3, axis=-1)), saturation=tf.constant(1.0))["colorings"].numpy()[0]
    for k in range(COLORINGS):
        written = tf.io.decode_png(tf.io.read_file(str(out / f"page_{k + 1}.png"))).numpy()
        assert np.array_equal(written, served[k])
    # input + 3 colourings in a 2 x 2 grid of 40 x 24 cells with 4 px gutters
    assert tf.io.decode_png(tf.io.read_file(str(out / "page_sheet.png"))).shape == (2 * 40 + 12, 2 * 24 + 12, 3)

    assert colorize.main([str(tmp_path / "page.png"), "-o", str(tmp_path / "pick"), "--model", exported,
                          "--pick", "2"]) == 0
    assert os.listdir(tmp_path / "pick") == ["page.png"]
    picked = tf.io.decode_png(tf.io.read_file(str(tmp_path / "pick" / "page.png"))).numpy()
    assert np.array_equal(picked, served[1])


@pytest.mark.parametrize("flags, message", [
    (["--pick", "4"], "--pick 4: the model gives 3 colouring(s) per input"),
    (["--pick", "0"], "--pick counts colourings from 1; received 0"),
    (["--task", "gray"], "the model colours sketches, not --task gray"),
])
def test_colorize_flags_that_do_not_fit_the_model_fail_in_one_line(exported, lines, tmp_path, capsys, flags,
                                                                     message):
    write_rgb(tmp_path / "page.png", np.repeat(lines[0], 3, axis=-1))
    assert colorize.main([str(tmp_path / "page.png"), "-o", str(tmp_path / "out"), "--model", exported,
                          *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"irodori-colorize: error: {message}"
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_tflite_saved_model_and_keras_give_the_same_colorings(sgru, exported, lines, tmp_path):
    model_file = tmp_path / "sgru.tflite"
    model_file.write_bytes(tflite.convert(sgru, SIZE))
    from_tflite = Colorizer(str(model_file))
    from_saved_model = Colorizer(exported)
    assert (from_tflite.task, from_tflite.colorings) == ("sketch", COLORINGS)
    assert (from_saved_model.task, from_saved_model.colorings, from_saved_model.size) == ("sketch", COLORINGS, SIZE)
    from_keras = Colorizer(generator=sgru)
    assert (from_keras.task, from_keras.colorings, from_keras.size) == ("sketch", COLORINGS, SIZE)
    rgb = to_float_rgb(tf.constant(lines))
    a, b, c = (colorizer(rgb, 1.0).numpy() for colorizer in (from_tflite, from_saved_model, from_keras))
    assert a.shape == b.shape == c.shape == (2, COLORINGS, 40, 24, 3)
    assert np.abs(c.astype(int) - b).max() <= 1
    assert np.abs(a.astype(int) - b).max() <= 1


def test_contact_sheet_places_and_scales_cells():
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255
    gray = np.full((10, 20, 1), 100, np.uint8)
    sheet = contact_sheet([red, gray, red], gutter=4)
    assert sheet.shape == (2 * 10 + 3 * 4, 2 * 20 + 3 * 4, 3)
    assert tuple(sheet[4, 4]) == (255, 0, 0) and tuple(sheet[4, 28]) == (100, 100, 100)
    assert tuple(sheet[20, 30]) == (255, 255, 255)  # the empty fourth cell stays white
    big = contact_sheet([np.zeros((1000, 500, 3), np.uint8)], max_cell=100, gutter=0)
    assert big.shape == (100, 50, 3)
    with pytest.raises(ValueError, match="at least one image"):
        contact_sheet([])
