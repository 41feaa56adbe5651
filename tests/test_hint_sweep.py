"""The ideepcolor sweep (irodori-evaluate --hint-sweep) and the hinted demo sample: hints drawn from
the truth as the issue says, a network whose answer is its hints shows them obeyed and the curve
rising, the numbers land in the report, and the sample marks the hints where they are."""

import json
import os

import cv2
import keras
import numpy as np
import pytest
from skimage import color as skcolor

from export import evaluate
from export.colorizer import Colorizer
from export.hint_sweep import hint_patches, picture_seed, sweep, truth_hints
from export.run_export import write_sample
from export.saved_model import export_saved_model
from pipeline.decode import list_image_files
from tests.conftest import write_rgb
from tests.references import expected_hinted_gray, hint_copying_generator

COUNTS = [0, 1, 2, 5, 10, 20, 50, 100]


def colourful(height, width, seed=0):
    """Hue changing across the picture, lightness down it, a little noise: no two patches alike."""
    rng = np.random.default_rng(seed)
    red = np.linspace(30, 230, width)[None, :]
    green = np.linspace(220, 40, height)[:, None]
    blue = 140 + 60 * np.sin(np.linspace(0, 3, width))[None, :] * np.cos(np.linspace(0, 2, height))[:, None]
    rgb = np.stack(np.broadcast_arrays(red, green, blue), axis=-1) + rng.integers(-12, 13, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def box_of(alpha):
    """(top, left, height, width) of the opaque pixels."""
    rows, columns = np.nonzero(alpha)
    return rows.min(), columns.min(), rows.max() - rows.min() + 1, columns.max() - columns.min() + 1


# --- truth_hints -----------------------------------------------------------------------------------

def test_one_hint_is_a_6x6_network_pixel_patch_of_the_truth_s_mean_colour():
    picture = colourful(50, 70)
    for seed in range(20):
        hints = truth_hints(picture, 1, 32, seed)
        top, left, height, width = box_of(hints[..., 3])
        # 6 network pixels of 50/32 and 70/32 picture pixels: 9.4 and 13.1, rounded.
        assert (height, width) == (9, 13)
        assert np.all(hints[top:top + 9, left:left + 13, 3] == 255)  # a whole square, opaque
        assert np.count_nonzero(hints[..., 3]) == 9 * 13
        mean = picture[top:top + 9, left:left + 13].reshape(-1, 3).mean(axis=0)
        np.testing.assert_array_equal(hints[top, left, :3], np.round(mean))
        assert np.all(hints[top:top + 9, left:left + 13, :3] == hints[top, left, :3])


def test_n_hints_are_n_such_patches_painted_in_order():
    picture = colourful(50, 70, seed=1)
    for count in (0, 3, 12):
        patches = hint_patches(picture, count, 32, seed=5)
        assert len(patches) == count
        expected = np.zeros((50, 70, 4), np.uint8)
        for top, left, height, width, rgb in patches:
            assert (height, width) == (9, 13) and 0 <= top <= 50 - 9 and 0 <= left <= 70 - 13
            mean = picture[top:top + height, left:left + width].reshape(-1, 3).mean(axis=0)
            np.testing.assert_array_equal(rgb, np.round(mean))
            expected[top:top + height, left:left + width] = (*rgb, 255)
        np.testing.assert_array_equal(truth_hints(picture, count, 32, 5), expected)


def test_a_patch_is_at_least_a_pixel_and_at_most_the_picture():
    tiny = colourful(4, 3)
    assert box_of(truth_hints(tiny, 1, 256, 0)[..., 3])[2:] == (1, 1)  # 6 x 4/256 px rounds to 0: 1 px
    assert box_of(truth_hints(tiny, 1, 2, 0)[..., 3])[2:] == (4, 3)  # 12 x 9 px asked: the whole picture


def test_hints_are_fixed_per_picture_and_more_hints_extend_fewer():
    picture = colourful(64, 64, seed=2)
    np.testing.assert_array_equal(truth_hints(picture, 10, 32, 7), truth_hints(picture, 10, 32, 7))
    assert not np.array_equal(truth_hints(picture, 10, 32, 7), truth_hints(picture, 10, 32, 8))
    many, few = hint_patches(picture, 100, 32, 7), hint_patches(picture, 10, 32, 7)
    assert many[:10] == few
    few_hints, many_hints = truth_hints(picture, 10, 32, 7), truth_hints(picture, 100, 32, 7)
    assert np.all(many_hints[few_hints[..., 3] > 0, 3] == 255)  # every hinted pixel stays hinted
    # The seed is the file's name, the same in every process and folder (not Python's salted hash()).
    assert picture_seed("/data/a/page_01.png") == picture_seed("elsewhere/page_01.png") == 14096136421299477760
    assert picture_seed("page_02.png") != picture_seed("page_01.png")


def test_positions_gather_around_the_centre_as_a_normal_of_a_quarter_of_the_side():
    picture = np.zeros((201, 201, 3), np.uint8)
    centres = []
    for seed in range(3000):
        top, left, height, width = box_of(truth_hints(picture, 1, 201, seed)[..., 3])
        centres.append(((top + (height - 1) / 2) / 200, (left + (width - 1) / 2) / 200))
    centres = np.array(centres)
    assert np.all(np.abs(centres.mean(axis=0) - 0.5) < 0.015)
    # N(0.5, 0.25) clipped to the picture: sd a little under 0.25; 68% within one sd (uniform: 50%).
    assert np.all((centres.std(axis=0) > 0.21) & (centres.std(axis=0) < 0.25))
    within = np.mean(np.all(np.abs(centres - 0.5) < 0.25, axis=1))
    assert 0.68**2 - 0.04 < within < 0.68**2 + 0.04


# --- the sweep -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def copier():
    """A gray model whose answer is its hints: their a*b* where hinted, gray elsewhere."""
    return Colorizer(generator=hint_copying_generator("gray", 32))


@pytest.fixture(scope="module")
def pictures(synthetic_folder):
    return list_image_files(synthetic_folder)[:4]


@pytest.fixture(scope="module")
def swept(copier, pictures):
    return sweep(copier, pictures, COUNTS, progress=False)


def test_the_copier_obeys_its_hints_and_psnr_rises_with_them(swept):
    assert [row["hints"] for row in swept] == COUNTS
    assert swept[0]["hints_obeyed"] is None and swept[0]["hinted_pixels"] == 0
    for row in swept[1:]:
        assert row["hints_obeyed"] < 1.0, row  # hint colours come back at the picture's own L*
        assert row["hinted_pixels"] > 0
    pixels = [row["hinted_pixels"] for row in swept]
    assert pixels == sorted(pixels)  # nested: more hints cover more
    psnr = [row["psnr"] for row in swept]
    assert all(later > earlier for earlier, later in zip(psnr, psnr[1:])), psnr
    assert psnr[-1] > psnr[0] + 3.0
    ciede = [row["ciede2000"] for row in swept]
    assert ciede[-1] < ciede[0] - 5.0


class IgnoresHints:
    """A hinted 'model' that answers gray whatever it is told: hints obeyed must say so."""

    task, size, colorings, hinted = "gray", 32, 1, True

    def __call__(self, images, saturation=1.0, hints=None):
        return np.round(np.asarray(images) * 255.0).astype(np.uint8)[:, None]


def test_hints_obeyed_sees_a_model_that_ignores_them(pictures, swept):
    ignored = sweep(IgnoresHints(), pictures, [0, 10], progress=False)
    assert ignored[1]["hints_obeyed"] > 5.0
    assert ignored[0]["psnr"] == pytest.approx(ignored[1]["psnr"])
    # No hints: the copier answers gray too, so both score the gray picture.
    assert ignored[0]["psnr"] == pytest.approx(swept[0]["psnr"], abs=0.05)


def gray_psnr_at_full_size(path):
    """PSNR of the picture's own L* with a*b* = 0 against it, with skimage and NumPy."""
    truth = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB) / 255.0
    lab = skcolor.rgb2lab(truth)
    gray = np.round(np.clip(skcolor.lab2rgb(np.concatenate([lab[..., :1], np.zeros_like(lab[..., 1:])], -1)), 0, 1)
                    * 255) / 255.0
    return 10 * np.log10(1.0 / np.mean((gray - truth) ** 2))


# --- irodori-evaluate --hint-sweep -----------------------------------------------------------------

@pytest.fixture(scope="module")
def hinted_model(tmp_path_factory):
    return export_saved_model(hint_copying_generator("gray", 64), str(tmp_path_factory.mktemp("hinted")), 64)


def test_the_sweep_is_written_into_metrics_report_and_curve(hinted_model, synthetic_folder, pictures, tmp_path,
                                                            capsys):
    out = str(tmp_path / "report")
    argv = ["--model", hinted_model, "--data", synthetic_folder, "--limit", "4", "--image-size", "32", "--out", out]
    assert evaluate.main(argv + ["--hint-sweep", "0,1,2,5,10,20,50,100"]) == 0
    result = json.load(open(os.path.join(out, "metrics.json")))
    rows = result["hint_sweep"]["rows"]
    assert [row["hints"] for row in rows] == COUNTS and result["hint_sweep"]["model_size"] == 64
    # 0 hints: the gray picture, measured at each picture's own 48 px (not the 64 px crop).
    expected = np.mean([gray_psnr_at_full_size(path) for path in pictures])
    assert rows[0]["psnr"] == pytest.approx(expected, abs=0.05)
    assert all(row["hints_obeyed"] < 1.0 for row in rows[1:]) and rows[-1]["psnr"] > rows[0]["psnr"] + 2.0
    report = open(os.path.join(out, "report.md")).read()
    assert "ideepcolor sweep" in report
    for row in rows:
        assert f"| {row['hints']} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['ciede2000']:.2f} |" in report
    curve = cv2.imread(os.path.join(out, "hint_curve.png"))
    assert curve is not None and curve.shape[0] > 100
    assert "100 hints: PSNR" in capsys.readouterr().out

    # The same folder evaluated again without the sweep: no curve left behind from the old report.
    assert evaluate.main(argv + ["--overwrite"]) == 0
    assert not os.path.exists(os.path.join(out, "hint_curve.png"))
    assert "hint_sweep" not in json.load(open(os.path.join(out, "metrics.json")))


def test_the_sweep_needs_a_model_trained_with_hints(synthetic_folder, tmp_path, capsys):
    condition = keras.Input((None, None, 1))
    plain = keras.Model(condition, keras.layers.Conv2D(2, 1, kernel_initializer="zeros")(condition))
    model = export_saved_model(plain, str(tmp_path / "plain"), 32)
    code = evaluate.main(["--model", model, "--data", synthetic_folder, "--out", str(tmp_path / "report"),
                          "--hint-sweep", "0,10"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "trained without hints" in error and "--hint-sweep" in error
    assert not os.path.exists(tmp_path / "report")


@pytest.mark.parametrize("counts", ["1,x", "-1,5", "2.5", "", "1,,2"])
def test_a_bad_hint_list_is_one_line(hinted_model, synthetic_folder, tmp_path, capsys, counts):
    code = evaluate.main(["--model", hinted_model, "--data", synthetic_folder, "--out", str(tmp_path / "report"),
                          f"--hint-sweep={counts}"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "--hint-sweep" in error and repr(counts) in error


# --- the demo sample -------------------------------------------------------------------------------

def separate_hints(picture, model_size, keep_clear=()):
    """A file name whose 5 sample hints neither overlap nor touch the border (frames included), nor
    any keep_clear box (top, left, bottom, right): each can be checked alone."""
    height, width = picture.shape[:2]
    for index in range(200):
        name = f"page_{index}.png"
        boxes = [(p.top - 3, p.left - 3, p.top + p.height + 3, p.left + p.width + 3)
                 for p in hint_patches(picture, 5, model_size, picture_seed(name))]
        inside = all(top >= 0 and left >= 0 and bottom <= height and right <= width
                     for top, left, bottom, right in boxes)
        apart = all(a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
                    for i, a in enumerate(boxes) for b in [*boxes[i + 1:], *keep_clear])
        if inside and apart:
            return name
    raise AssertionError("no file name gives separate hints")


def assert_marked(panel, patch):
    """The hint colour in the middle, a black then a white frame just outside the patch."""
    top, left, height, width, rgb = patch
    middle = (top + height // 2, left + width // 2)
    np.testing.assert_array_equal(panel[middle], rgb)
    np.testing.assert_array_equal(panel[top - 1, middle[1]], (0, 0, 0))
    np.testing.assert_array_equal(panel[top - 2, middle[1]], (255, 255, 255))
    np.testing.assert_array_equal(panel[middle[0], left + width], (0, 0, 0))
    np.testing.assert_array_equal(panel[middle[0], left + width + 1], (255, 255, 255))


def test_the_sample_of_a_hinted_model_shows_input_automatic_5_hints_and_original(hinted_model, tmp_path):
    original = colourful(96, 128, seed=4)
    name = separate_hints(original, 64)
    page = write_rgb(tmp_path / name, original)
    out = write_sample(hinted_model, page, str(tmp_path / "sample.png"))
    sample = cv2.cvtColor(cv2.imread(out), cv2.COLOR_BGR2RGB)
    assert sample.shape == (96, 4 * 128, 3)
    gray, automatic, hinted, shown = (sample[:, i * 128:(i + 1) * 128] for i in range(4))
    np.testing.assert_array_equal(shown, original)
    np.testing.assert_array_equal(gray, cv2.cvtColor(cv2.cvtColor(original, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB))
    patches = hint_patches(original, 5, 64, picture_seed(name))
    for patch in patches:
        top, left, height, width, rgb = patch
        # 6 network px of 1.5 x 2 picture px; the colour is the original's mean over the patch.
        assert (height, width) == (9, 12)
        np.testing.assert_array_equal(rgb, np.round(original[top:top + 9, left:left + 12].reshape(-1, 3).mean(0)))
        assert_marked(hinted, patch)
        # Between the swatch and the frame, the model's colour: the input's L* with the hint's a*b*.
        ring = (top + height // 3 - 1, left + width // 2)
        expected = expected_hinted_gray(gray, rgb)[ring].astype(int)
        assert np.abs(hinted[ring].astype(int) - expected).max() <= 2
        assert np.abs(expected - gray[ring]).max() > 15  # a real colour, unlike the automatic answer
        assert np.abs(automatic[ring].astype(int) - gray[ring]).max() <= 1


def test_the_sample_of_a_hinted_sketch_model_adds_a_5_hints_cell(tmp_path):
    model = export_saved_model(hint_copying_generator("sketch", 64), str(tmp_path / "sketch"), 64, task="sketch")
    original = colourful(96, 128, seed=5)
    name = separate_hints(original, 64, keep_clear=[(0, 0, 24, 70)])  # the cell's label
    out = write_sample(model, write_rgb(tmp_path / name, original), str(tmp_path / "sample.png"), task="sketch")
    sheet = cv2.cvtColor(cv2.imread(out), cv2.COLOR_BGR2RGB)
    # sketch | 1 | 5 hints | original, 2 x 2 with 4 px gutters
    assert sheet.shape == (2 * 96 + 12, 2 * 128 + 12, 3)
    cell = sheet[104:200, 4:132]
    np.testing.assert_array_equal(sheet[104:200, 136:264][30:], original[30:])  # below the label
    for patch in hint_patches(original, 5, 64, picture_seed(name)):
        assert_marked(cell, patch)
        ring = (patch.top + patch.height // 3 - 1, patch.left + patch.width // 2)
        assert np.abs(cell[ring].astype(int) - patch.rgb).max() <= 1  # the copier's colouring is the hint
