import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import evaluate, metrics
from export.report import ranked_examples, summarize
from model.unet import UNetGenerator

SIZE = 32


def test_identical_images_give_ssim_one_psnr_inf_and_no_colour_difference():
    image = tf.random.stateless_uniform((2, SIZE, SIZE, 3), seed=[1, 2])
    np.testing.assert_allclose(metrics.ssim(image, image).numpy(), 1.0, atol=1e-6)
    assert np.all(np.isinf(metrics.psnr(image, image).numpy()))
    np.testing.assert_allclose(metrics.mean_ciede2000(image, image).numpy(), 0.0, atol=1e-3)


def test_psnr_of_known_noise():
    # +-0.1 in a checkerboard: MSE is exactly 0.01, so PSNR = 10 log10(1 / 0.01) = 20 dB.
    signs = np.indices((SIZE, SIZE)).sum(axis=0) % 2 * 2 - 1
    truth = np.full((1, SIZE, SIZE, 3), 0.5, np.float32)
    noisy = truth + 0.1 * signs[None, :, :, None].astype(np.float32)
    assert metrics.psnr(noisy, truth).numpy()[0] == pytest.approx(20.0, abs=1e-4)
    assert metrics.ssim(noisy, truth).numpy()[0] < 0.99


# Sharma, Wu and Dalal (2005), table 1: pairs chosen to exercise the hue and chroma rules.
SHARMA_PAIRS = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
                ((50, 0, 0), (50, -1, 2), 2.3669),
                ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
                ((50, 2.49, -0.001), (50, -2.49, 0.0011), 7.2195),
                ((50, 2.5, 0), (73, 25, -18), 27.1492),
                ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
                ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373)]


def test_ciede2000_matches_published_pairs():
    first = np.array([pair[0] for pair in SHARMA_PAIRS], np.float64)
    second = np.array([pair[1] for pair in SHARMA_PAIRS], np.float64)
    expected = [pair[2] for pair in SHARMA_PAIRS]
    np.testing.assert_allclose(metrics.ciede2000(first, second).numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(metrics.ciede2000(second, first).numpy(), expected, atol=1e-4)  # symmetric


def test_colorfulness_of_gray_and_of_red_and_blue_halves():
    gray = np.full((1, 8, 8, 3), 0.4, np.float32)
    assert metrics.colorfulness(gray).numpy()[0] == pytest.approx(0.0, abs=1e-4)
    halves = np.zeros((1, 8, 8, 3), np.float32)
    halves[:, :4, :, 0] = 1.0  # red
    halves[:, 4:, :, 2] = 1.0  # blue
    # rg = R - G is 255 or 0; yb = (R + G) / 2 - B is 127.5 or -255.
    spread = np.hypot(127.5, 191.25)
    offset = np.hypot(127.5, (127.5 - 255) / 2)
    assert metrics.colorfulness(halves).numpy()[0] == pytest.approx(spread + 0.3 * offset, rel=1e-5)


class DoNothing:
    """A 'model' that hands back its input: it must score exactly the gray baseline."""

    task, size, colorings = "gray", SIZE, 1

    def __call__(self, rgb, saturation=1.0):
        return tf.cast(tf.round(rgb * 255.0), tf.uint8)[:, None]


def test_gray_baseline_is_the_picture_without_colour(synthetic_folder):
    from skimage import color as skcolor

    from pipeline.decode import list_image_files

    paths = list_image_files(synthetic_folder)[:4]
    per_source, truth_colorfulness = evaluate.evaluate(DoNothing(), paths, "gray", SIZE, progress=False)
    assert per_source["model"]["psnr"] == pytest.approx(per_source["gray"]["psnr"], abs=0.05)  # uint8 rounding
    assert np.all(per_source["gray"]["colorfulness"] < 0.5) and np.all(truth_colorfulness > 5)
    summary, gains, _ = summarize(per_source, truth_colorfulness)
    assert gains["gray"]["psnr_gain_db"] == pytest.approx(0.0, abs=0.05)
    assert gains["gray"]["ciede2000_reduction"] == pytest.approx(0.0, abs=0.05)

    # The gray baseline PSNR from an independent implementation (skimage's Lab).
    _, truth = next(iter(evaluate.evaluation_dataset(paths[:1], SIZE, "gray", batch_size=1)))
    truth = truth.numpy()[0].astype(np.float64)
    lab = skcolor.rgb2lab(truth)
    lab[..., 1:] = 0.0
    gray = np.clip(skcolor.lab2rgb(lab), 0, 1)
    expected = 10 * np.log10(1.0 / np.mean((gray - truth) ** 2))
    assert per_source["gray"]["psnr"][0] == pytest.approx(expected, abs=0.05)


def test_ranked_examples_and_gains_on_constructed_numbers():
    per_source = {"model": {"psnr": np.array([30.0, 20.0, 25.0]), "ssim": np.array([0.9, 0.8, 0.7]),
                            "ciede2000": np.array([2.0, 4.0, 3.0]), "colorfulness": np.array([40.0, 40.0, 40.0])},
                  "gray": {"psnr": np.array([25.0, 21.0, 22.0]), "ssim": np.array([0.8, 0.8, 0.8]),
                           "ciede2000": np.array([6.0, 6.0, 6.0]), "colorfulness": np.zeros(3)}}
    summary, gains, ratio = summarize(per_source, np.array([50.0, 50.0, 50.0]))
    assert summary["model"]["psnr"] == pytest.approx(25.0)
    assert gains["gray"] == pytest.approx({"psnr_gain_db": 2.3333333, "ssim_gain": 0.0, "ciede2000_reduction": 3.0,
                                           "images_closer_by_psnr": 2})
    assert ratio == pytest.approx(0.8)
    assert ranked_examples(per_source["model"]["psnr"]) == {"best": 0, "median": 2, "worst": 1}


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    keras.utils.set_random_seed(41)
    path = str(tmp_path_factory.mktemp("model") / "generator.keras")
    UNetGenerator(image_size=SIZE, num_downs=5, ngf=8).save(path)
    return path


def test_evaluate_command_writes_the_report(keras_file, synthetic_folder, tmp_path):
    out = tmp_path / "report"
    assert evaluate.main(["--model", keras_file, "--data", synthetic_folder, "--out", str(out), "--limit", "5"]) == 0
    assert sorted(os.listdir(out)) == ["comparison.png", "metrics.json", "report.md"]  # no run, no loss curves
    result = json.load(open(out / "metrics.json"))
    assert set(result) == {"model", "data", "task", "image_size", "images", "summary", "gains",
                           "colorfulness_vs_truth", "examples", "per_image"}
    assert result["images"] == len(result["per_image"]) == 5 and result["image_size"] == SIZE
    assert set(result["summary"]) == {"model", "gray", "truth"} and set(result["gains"]) == {"gray"}
    assert set(result["summary"]["model"]) == {"psnr", "ssim", "ciede2000", "colorfulness"}
    assert set(result["per_image"][0]) == {"path", "model", "gray", "truth_colorfulness"}
    report = open(out / "report.md").read()
    assert "| model |" in report and "| gray baseline (a*b* = 0) |" in report and "Against the gray" in report
    # best, median and worst rows of input | model | truth, 32 px shown at 6x (192), 4 px gutters
    assert tf.io.decode_png(tf.io.read_file(str(out / "comparison.png"))).shape == (3 * 192 + 16, 3 * 192 + 16, 3)


def test_sketch_evaluation_has_the_sketch_baseline(synthetic_folder, tmp_path):
    keras.utils.set_random_seed(42)
    path = str(tmp_path / "sketch.keras")
    UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, out_channels=3).save(path)
    out = tmp_path / "report"
    assert evaluate.main(["--model", path, "--data", synthetic_folder, "--out", str(out), "--limit", "3",
                          "--task", "sketch"]) == 0
    result = json.load(open(out / "metrics.json"))
    assert result["task"] == "sketch" and set(result["gains"]) == {"gray", "sketch"}
    # The sketch baseline is the XDoG line art itself.
    lines, truth = next(iter(evaluate.evaluation_dataset([result["per_image"][0]["path"]], SIZE, "sketch")))
    assert result["per_image"][0]["sketch"]["psnr"] == pytest.approx(float(metrics.psnr(lines, truth)[0]), abs=1e-4)


@pytest.mark.parametrize("make_argv, message", [
    (lambda model, data, tmp: ["--model", model, "--data", data, "--task", "sketch"],
     "the model colours grayscale images, not --task sketch"),
    (lambda model, data, tmp: ["--model", model], "--data is needed"),
    (lambda model, data, tmp: ["--model", str(tmp / "missing.keras"), "--data", data], "model not found"),
    (lambda model, data, tmp: ["--model", model, "--data", str(tmp / "empty")], "no image files"),
    (lambda model, data, tmp: ["--model", model, "--data", str(tmp / "broken")], "no decodable images"),
    (lambda model, data, tmp: ["--model", model, "--data", data, "--limit", "0"], "--limit must be at least 1"),
])
def test_evaluate_errors_are_one_line(keras_file, synthetic_folder, tmp_path, capsys, make_argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "notes.png").write_text("not a picture")
    argv = make_argv(keras_file, synthetic_folder, tmp_path) + ["--out", str(tmp_path / "out")]
    assert evaluate.main(argv) == 2
    error = capsys.readouterr().err.strip()
    # Skipped files may be listed first, one warning line each; the job's error is one line.
    *warnings, last = error.splitlines()
    assert last.startswith("irodori-evaluate: error: ") and message in last and "Traceback" not in error
    assert all(line.startswith("warning: ") for line in warnings)


def test_a_run_without_a_validation_split_is_evaluated_on_data(keras_file, synthetic_folder, tmp_path, capsys):
    from model.run_config import RunConfig

    run = tmp_path / "run"  # trained with --val-fraction 0: every picture went to training
    run.mkdir()
    shutil.copy(keras_file, run / "generator.keras")
    RunConfig.from_dict({"data": {"data": synthetic_folder}, "pipeline": {"val_fraction": 0.0}}).save(str(run))
    assert evaluate.main(["--model", str(run), "--out", str(tmp_path / "none")]) == 2
    assert "has no validation images; evaluate it on a folder with --data" in capsys.readouterr().err
    assert evaluate.main(["--model", str(run), "--data", synthetic_folder, "--out", str(tmp_path / "r"),
                          "--limit", "3"]) == 0
    assert json.load(open(tmp_path / "r" / "metrics.json"))["images"] == 3
