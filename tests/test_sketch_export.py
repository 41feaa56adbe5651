"""Export and use of sketch models with several colourings (SGRU)."""

import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from export import colorize, tflite
from export.colorizer import Colorizer
from export.colorize_graph import sketch_colorings
from export.pictures import contact_sheet
from export.saved_model import export_saved_model
from model.sgru import SGRUGenerator
from model.unet import UNetGenerator
from tests.conftest import write_rgb
from tests.references import assert_colourful, independent_sketch_reference, widen_outputs

SIZE, COLORINGS = 32, 3


def sketches(shape, seed):
    """uint8 [N, H, W, C] line art: dark strokes and a few fills on white; with C = 3 the fills
    are coloured (a scanned page with coloured pencil), so luma and a plain channel mean differ."""
    rng = np.random.default_rng(seed)
    count, height, width, channels = shape
    result = np.full((count, height, width, 3), 255, np.uint8)
    for page in result:
        for _ in range(4):
            x, y = rng.integers(0, width), rng.integers(0, height)
            fill = rng.integers(60, 230, 3) if channels == 3 else np.full(3, rng.integers(120, 230))
            cv2.circle(page, (int(x), int(y)), int(rng.integers(4, 14)), tuple(map(int, fill)), -1)
        for _ in range(8):
            start, end = rng.integers(0, (width, height), 2), rng.integers(0, (width, height), 2)
            cv2.line(page, tuple(map(int, start)), tuple(map(int, end)), (int(rng.integers(0, 60)),) * 3,
                     int(rng.integers(1, 3)))
    return result if channels == 3 else result[..., :1]


@pytest.fixture(scope="module")
def sgru():
    keras.utils.set_random_seed(21)
    return widen_outputs(SGRUGenerator(image_size=SIZE, num_levels=3, filters=8, num_outputs=COLORINGS), 6.0)


@pytest.fixture(scope="module")
def exported(sgru, tmp_path_factory):
    return export_saved_model(sgru, str(tmp_path_factory.mktemp("export")), SIZE, task="sketch")


@pytest.fixture(scope="module")
def sgru_tflite(sgru, tmp_path_factory):
    model_file = tmp_path_factory.mktemp("tflite") / "sgru.tflite"
    model_file.write_bytes(tflite.convert(sgru, SIZE))
    return str(model_file)


@pytest.fixture(scope="module")
def lines():
    return sketches((2, 40, 24, 1), 22)


# Non-square, larger than the model, gray and RGB.
SHAPES = [(2, 40, 24, 1), (1, 33, 57, 3), (2, 64, 45, 3)]


def test_reloaded_sgru_export_matches_an_independent_reference(sgru, exported, sgru_tflite):
    signatures = tf.saved_model.load(exported).signatures
    from_tflite = Colorizer(sgru_tflite)
    for seed, shape in enumerate(SHAPES):
        images = sketches(shape, 30 + seed)
        reference = independent_sketch_reference(sgru, images, SIZE)
        assert_colourful(reference)
        # The colourings differ from each other: they are not one output repeated.
        assert np.abs(reference[:, 0].astype(int) - reference[:, 1]).mean() > 10

        everything = signatures["colorize_all"](images=tf.constant(images), saturation=tf.constant(1.0))["colorings"]
        assert everything.shape == (shape[0], COLORINGS, *shape[1:3], 3) and everything.dtype == tf.uint8
        assert np.abs(everything.numpy().astype(int) - reference).max() <= 2, shape
        first = signatures["serving_default"](images=tf.constant(images))["colorized"].numpy()
        assert np.abs(first.astype(int) - reference[:, 0]).max() <= 2, shape

        rgb = np.repeat(images, 3, axis=-1) if shape[-1] == 1 else images
        on_device = from_tflite(tf.constant(rgb / 255.0, tf.float32))
        assert np.abs(on_device.astype(int) - reference).max() <= 2, shape


def test_sketch_unet_matches_the_independent_reference_and_colorize_keeps_size(tmp_path):
    keras.utils.set_random_seed(12)
    sketch_unet = widen_outputs(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, out_channels=3, init="he"), 0.4)
    version_dir = export_saved_model(sketch_unet, str(tmp_path / "export"), SIZE, task="sketch")
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    model_file = tmp_path / "sketch.tflite"
    model_file.write_bytes(tflite.convert(sketch_unet, SIZE))
    from_tflite = Colorizer(str(model_file))
    assert (from_tflite.task, from_tflite.colorings) == ("sketch", 1)
    for seed, shape in enumerate(SHAPES):
        images = sketches(shape, 40 + seed)
        reference = independent_sketch_reference(sketch_unet, images, SIZE)[:, 0]
        assert_colourful(reference)
        served = serve(images=tf.constant(images))["colorized"].numpy()
        assert served.shape == (*shape[:3], 3)
        assert np.abs(served.astype(int) - reference).max() <= 2, shape
        rgb = np.repeat(images, 3, axis=-1) if shape[-1] == 1 else images
        on_device = from_tflite(tf.constant(rgb / 255.0, tf.float32))[:, 0]
        assert np.abs(on_device.astype(int) - reference).max() <= 2, shape

    lines = sketches((1, 40, 24, 3), 13)[0]
    write_rgb(tmp_path / "lines.png", lines)
    assert colorize.main([str(tmp_path / "lines.png"), "-o", str(tmp_path / "out"), "--model", str(model_file)]) == 0
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "out" / "lines.png"))).shape == (40, 24, 3)
    with pytest.raises(ValueError, match="task='paint'"):
        export_saved_model(sketch_unet, str(tmp_path / "export"), SIZE, task="paint")


def test_colorings_stack_in_channel_order():
    """Colouring k of the network's 3K channels is colourings[:, k], at the input's size."""
    constant = np.array([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0], np.float32)  # black, white, red
    network = lambda condition: tf.ones(tf.concat([tf.shape(condition)[:3], [9]], 0)) * constant  # noqa: E731
    result = sketch_colorings(network, tf.zeros((1, 10, 14, 3)), 8)
    assert result.shape == (1, 3, 10, 14, 3)
    np.testing.assert_array_equal(result[0, :, 5, 7], [[0, 0, 0], [255, 255, 255], [255, 0, 0]])


def test_gray_exports_have_no_colorings_signature(tmp_path):
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


def test_tflite_saved_model_and_keras_give_the_same_colorings(sgru, exported, sgru_tflite, lines):
    from_tflite = Colorizer(sgru_tflite)
    from_saved_model = Colorizer(exported)
    assert (from_tflite.task, from_tflite.colorings) == ("sketch", COLORINGS)
    assert (from_saved_model.task, from_saved_model.colorings, from_saved_model.size) == ("sketch", COLORINGS, SIZE)
    from_keras = Colorizer(generator=sgru)
    assert (from_keras.task, from_keras.colorings, from_keras.size) == ("sketch", COLORINGS, SIZE)
    rgb = tf.constant(np.repeat(lines, 3, axis=-1) / 255.0, tf.float32)
    a, b, c = (colorizer(rgb, 1.0) for colorizer in (from_tflite, from_saved_model, from_keras))
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
