"""irodori-colorize --render-size N (issue 15, after DeOldify's render_factor): the network runs at
a working size whose shorter side is N, the picture's shape kept; the output keeps the picture's
full size; the default is the trained size, as before; bad values and fixed-size backends are
refused in one line."""

import os
import warnings

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from export import colorize, tflite
from export.colorize_graph import colorize_rgb, sketch_colorings
from export.colorizer import Colorizer, working_size
from export.saved_model import export_saved_model
from model.sgru import SGRUGenerator
from model.unet import UNetGenerator
from tests.conftest import write_rgb
from tests.test_export import pictures  # smooth random shapes plus noise: the input changes with its size
from tests.references import LUMA, assert_colourful, independent_gray_reference, lab2rgb_uint8, widen_outputs

SIZE = 32  # trained size
STRIDE = 16  # 2**num_downs


@pytest.fixture(scope="module")
def unet():
    keras.utils.set_random_seed(5)
    return widen_outputs(UNetGenerator(image_size=SIZE, num_downs=4, ngf=8, init="he"), 1.0)


@pytest.fixture(scope="module")
def sgru():
    keras.utils.set_random_seed(6)
    return widen_outputs(SGRUGenerator(image_size=SIZE, num_levels=4, filters=8, num_outputs=3), 6.0)


@pytest.fixture(scope="module")
def run_dir(unet, tmp_path_factory):
    """A training run as train.py leaves it: generator.keras beside export/<name>/<version>."""
    folder = tmp_path_factory.mktemp("run")
    unet.save(str(folder / "generator.keras"))
    version = export_saved_model(unet, str(folder / "export"), SIZE)
    (folder / "model.tflite").write_bytes(tflite.convert(unet, SIZE))
    return folder, version


class Spy:
    """Calls the generator and records the shape of every input it is given."""

    def __init__(self, generator):
        self.generator, self.shapes = generator, []

    def __call__(self, condition, training=False):
        self.shapes.append(tuple(condition.shape))
        return self.generator(condition, training=training)


def spied(generator):
    colorizer = Colorizer(generator=generator)
    colorizer.generator = Spy(generator)
    return colorizer


def gray_reference(generator, image, size):
    """OpenCV + skimage only: area-resize to size = (h, w), L*/50 - 1 in, a*b* = 110 x output
    upsampled bilinearly, Lab -> RGB with the picture's own full-resolution L*."""
    rgb = image.astype(np.float64) / 255.0
    small = cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA)
    condition = skcolor.rgb2lab(small)[..., :1] / 50.0 - 1.0
    ab = np.asarray(generator(condition[None].astype(np.float32), training=False))[0].astype(np.float64)
    ab = cv2.resize(ab, image.shape[1::-1], interpolation=cv2.INTER_LINEAR) * 110.0
    return lab2rgb_uint8(np.concatenate([skcolor.rgb2lab(rgb)[..., :1], ab], axis=-1))


def sketch_reference(generator, image, size):
    """NumPy + OpenCV only: every colouring [K, H, W, 3] with the network at size = (h, w)."""
    gray = (image.astype(np.float64) / 255.0) @ LUMA
    small = cv2.resize(gray, size[::-1], interpolation=cv2.INTER_AREA) * 2.0 - 1.0
    predicted = np.asarray(generator(small[None, ..., None].astype(np.float32), training=False))[0]
    colored = [cv2.resize((predicted[..., 3 * k:3 * k + 3].astype(np.float64) + 1.0) / 2.0, image.shape[1::-1],
                          interpolation=cv2.INTER_LINEAR) for k in range(predicted.shape[-1] // 3)]
    return np.stack([np.round(np.clip(c, 0, 1) * 255).astype(np.uint8) for c in colored])


def test_working_size_keeps_the_shape_at_the_stride():
    # by hand: 72 * 32 / 40 = 57.6 -> 64; 90 * 32 / 50 = 57.6 -> 64; 100 * 48 / 44 = 109.1 -> 112
    assert working_size(40, 72, 32, 16) == (32, 64)
    assert working_size(90, 50, 32, 16) == (64, 32)
    assert working_size(100, 44, 48, 16) == (112, 48)
    assert working_size(1000, 1000, 128, 128) == (128, 128)
    assert working_size(300, 2400, 256, 128) == (256, 2048)
    assert working_size(2000, 100, 16, 16) == (320, 16)
    assert working_size(10, 11, 128, 128) == (128, 128)  # never below one stride


# Pictures larger than the working size on both sides, so OpenCV's area resize is the same average.
@pytest.mark.parametrize("shape, render_size, size", [
    ((1, 40, 72, 3), 32, (32, 64)), ((2, 90, 50, 3), 32, (64, 32)), ((1, 120, 100, 1), 48, (64, 48))])
def test_the_network_sees_the_working_size_and_matches_an_independent_reference(unet, shape, render_size, size):
    images = pictures(shape, sum(shape))
    colorizer = spied(unet)
    rendered = colorizer(images, render_size=render_size)
    assert colorizer.generator.shapes == [(shape[0], *size, 1)]
    assert rendered.shape == (shape[0], 1, *shape[1:3], 3) and rendered.dtype == np.uint8
    rgb = np.repeat(images, 3, axis=-1)[..., :3] if shape[-1] == 1 else images
    reference = np.stack([gray_reference(unet, image, size) for image in rgb])
    assert_colourful(reference)
    assert np.abs(rendered[:, 0].astype(int) - reference).max() <= 2

    default = colorizer(images)
    assert colorizer.generator.shapes[-1] == (shape[0], SIZE, SIZE, 1)
    # A different computation, not the default under another name.
    assert np.abs(default.astype(int) - rendered).mean() > 3


def test_sketch_colorings_at_the_working_size(sgru):
    images = pictures((1, 50, 96, 3), 7)
    colorizer = spied(sgru)
    rendered = colorizer(images, render_size=32)
    assert colorizer.generator.shapes == [(1, 32, 64, 1)]
    assert rendered.shape == (1, 3, 50, 96, 3)
    reference = sketch_reference(sgru, images[0], (32, 64))
    assert_colourful(reference)
    assert np.abs(reference[0].astype(int) - reference[1]).mean() > 10  # the colourings differ
    assert np.abs(rendered[0].astype(int) - reference).max() <= 2


@pytest.mark.parametrize("task", ["gray", "sketch"])
def test_at_the_trained_size_a_square_picture_gives_the_default_exactly(unet, sgru, task):
    """The working-size path is the default computation with h x w for S x S: with hints too."""
    keras.utils.set_random_seed(9)
    if task == "gray":
        hinted = widen_outputs(UNetGenerator(image_size=SIZE, num_downs=4, ngf=8, in_channels=4, init="he"), 0.4)
    else:
        hinted = widen_outputs(SGRUGenerator(image_size=SIZE, num_levels=4, filters=8, num_outputs=3,
                                             in_channels=5), 6.0)
    images = pictures((2, 64, 64, 3), 3)
    hints = np.zeros((2, 64, 64, 4), np.uint8)
    hints[:, 10:18, 20:30] = (200, 60, 40, 255)
    hints[1, 40:41, 50:51] = (40, 90, 200, 255)  # one pixel: must survive the resize
    for generator, given in ((unet if task == "gray" else sgru, None), (hinted, hints)):
        colorizer = Colorizer(generator=generator)
        default = colorizer(images, 0.7, given)
        np.testing.assert_array_equal(colorizer(images, 0.7, given, render_size=SIZE), default)
        graph = colorize_rgb if task == "gray" else sketch_colorings
        direct = np.asarray(graph(colorizer.network, images, SIZE, 0.7, given))
        np.testing.assert_array_equal(default, direct[:, None] if task == "gray" else direct)
    # The hints reach the network: another hint gives another colouring.
    moved = np.roll(hints, 20, axis=2)
    assert np.abs(colorizer(images, 0.7, moved, render_size=48).astype(int)
                  - colorizer(images, 0.7, hints, render_size=48)).max() > 20


def run(capsys, *argv):
    code = colorize.main([str(arg) for arg in argv])
    return code, capsys.readouterr().err


def read_png(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_the_default_is_todays_output_pixel_for_pixel(unet, run_dir, tmp_path, capsys):
    picture = pictures((1, 45, 70, 3), 11)[0]
    path = write_rgb(tmp_path / "page.png", picture)
    code, err = run(capsys, path, "-o", tmp_path / "out", "--model", run_dir[0] / "generator.keras")
    assert code == 0, err
    written = read_png(tmp_path / "out" / "page.png")
    # Today's computation (the trained size, S x S) and the SavedModel the run exported.
    np.testing.assert_array_equal(written, np.asarray(colorize_rgb(Colorizer(generator=unet).network,
                                                                   picture[None], SIZE))[0])
    served = tf.saved_model.load(str(run_dir[1])).signatures["serving_default"](images=tf.constant(picture[None]))
    assert np.abs(written.astype(int) - served["colorized"].numpy()[0]).max() <= 1
    assert np.abs(written.astype(int) - independent_gray_reference(unet, picture[None], SIZE)[0]).max() <= 2


@pytest.mark.parametrize("render_size", [32, 48, 128])  # 48, 128: above the picture's shorter side
def test_the_output_keeps_the_pictures_full_size(unet, run_dir, tmp_path, capsys, render_size):
    picture = pictures((1, 45, 70, 3), 12)[0]
    path = write_rgb(tmp_path / "page.png", picture)
    code, err = run(capsys, path, "-o", tmp_path / "out", "--model", run_dir[0] / "generator.keras",
                    "--render-size", render_size)
    assert code == 0, err
    written = read_png(tmp_path / "out" / "page.png")
    assert written.shape == (45, 70, 3)
    np.testing.assert_array_equal(written, Colorizer(generator=unet)(picture[None], render_size=render_size)[0, 0])
    # Line work is the picture's own: L* equals the input's at full resolution.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lightness = skcolor.rgb2lab(written / 255.0)[..., 0] - skcolor.rgb2lab(picture / 255.0)[..., 0]
    assert np.median(np.abs(lightness)) < 1.0


def test_sketch_cli_writes_every_coloring_at_full_size(sgru, tmp_path, capsys):
    sgru.save(str(tmp_path / "sketch.keras"))
    path = write_rgb(tmp_path / "lines.png", pictures((1, 40, 24, 3), 13)[0])
    code, err = run(capsys, path, "-o", tmp_path / "out", "--model", tmp_path / "sketch.keras", "--render-size", 64)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == ["lines_1.png", "lines_2.png", "lines_3.png", "lines_sheet.png"]
    assert read_png(tmp_path / "out" / "lines_2.png").shape == (40, 24, 3)


@pytest.mark.parametrize("value, words", [
    ("0", "positive number"), ("-16", "positive number"), ("abc", "positive number"), ("2.5", "positive number"),
    ("40", "multiple of 16"), ("8", "multiple of 16"), ("²", "positive number"), ("4112", "above 4096 px")])
def test_bad_values_are_one_line_and_exit_2(run_dir, tmp_path, capsys, value, words):
    path = write_rgb(tmp_path / "page.png", pictures((1, 32, 32, 3), 1)[0])
    code, err = run(capsys, path, "-o", tmp_path / "out", "--model", run_dir[0] / "generator.keras",
                    "--render-size", value)
    assert code == 2 and err.count("\n") == 1 and err.startswith("irodori-colorize: error: --render-size"), err
    assert words in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("backend, words", [("saved_model", "SavedModel's signatures"), ("tflite", "fixed 32 x 32")])
def test_fixed_size_backends_refuse_it_in_one_line(run_dir, tmp_path, capsys, backend, words):
    model = run_dir[1] if backend == "saved_model" else run_dir[0] / "model.tflite"
    path = write_rgb(tmp_path / "page.png", pictures((1, 32, 32, 3), 1)[0])
    code, err = run(capsys, path, "-o", tmp_path / "out", "--model", model, "--render-size", 64)
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert str(run_dir[0] / "generator.keras") in err  # where to find the model that can
    assert not os.path.exists(tmp_path / "out")
    with pytest.raises(ValueError, match="render size 64"):
        Colorizer(str(model)).colorize(pictures((1, 32, 32, 3), 1), render_size=64)
