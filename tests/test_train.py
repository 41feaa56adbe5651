import contextlib
import csv
import io
import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import train
from tests.conftest import write_rgb

TINY = ["--image-size", "32", "--num-downs", "5", "--ngf", "8", "--ndf", "8", "--batch-size", "4",
        "--steps-per-epoch", "3", "--verbose", "0"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """A two-epoch run on 16 synthetic pictures, made as one epoch and then resumed for a second.

    Returns (run directory, flags, history rows after the first epoch, what the resumed start
    printed). Tests only read the run; one that trains it further works on a copy.
    """
    out = str(tmp_path_factory.mktemp("run") / "demo")
    argv = TINY + ["--out", out, "--demo-images", "16", "--l1-pretrain-epochs", "1"]
    assert train.main(argv + ["--epochs", "1"]) == 0
    with open(os.path.join(out, "history.csv")) as f:
        rows_after_first = list(csv.DictReader(f))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert train.main(argv + ["--epochs", "2"]) == 0
    return out, argv, rows_after_first, printed.getvalue()


def test_run_writes_every_artefact(demo_run):
    out = demo_run[0]
    for name in ["config.json", "history.csv", "generator.keras", "samples/epoch_001.png",
                 "samples/epoch_002.png", "checkpoints/checkpoint", "colorized_sample.png",
                 "export/models.config", "export/irodori/1/saved_model.pb", "export/irodori/2/saved_model.pb",
                 "export/tflite/model_fp32.tflite", "export/tflite/model_fp16.tflite"]:
        assert os.path.exists(os.path.join(out, name)), name
    assert len(os.listdir(os.path.join(out, "synthetic_data"))) == 16
    events = [f for root, _, files in os.walk(os.path.join(out, "logs")) for f in files if "tfevents" in f]
    assert len(events) >= 2  # Keras scalars and our image summaries

    config = json.load(open(os.path.join(out, "config.json")))
    assert config["pipeline"]["image_size"] == 32 and config["model"]["num_downs"] == 5
    assert config["train"]["epochs"] == 2 and config["train"]["l1_pretrain_epochs"] == 1

    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert set(rows[0]) == {"epoch", "d_loss", "g_gan", "g_l1", "g_total",
                            "val_d_loss", "val_g_gan", "val_g_l1", "val_g_total"}
    assert float(rows[0]["d_loss"]) == 0.0  # L1 pretraining epoch
    assert float(rows[1]["d_loss"]) > 0.0 and np.isfinite(float(rows[1]["g_total"]))

    grid = keras.utils.load_img(os.path.join(out, "samples", "epoch_002.png"))
    assert grid.size == (3 * 128, 3 * 128)  # 3 panels x 3 validation images, 32 px shown at 4x

    assert config["data"]["hints"] is True  # on by default for a new run
    generator = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert generator(np.zeros((1, 32, 32, 4), "float32")).shape == (1, 32, 32, 2)  # L*, hint a*b*, mask
    signatures = tf.saved_model.load(os.path.join(out, "export", "irodori", "2")).signatures
    assert {"serving_default", "colorize_bytes", "colorize_hinted", "colorize_bytes_hinted"} <= set(signatures)
    report = json.load(open(os.path.join(out, "export", "tflite", "report.json")))
    assert sorted(report) == ["fp16", "fp32"]
    assert report["fp32"]["psnr_vs_fp32_db"] is None and report["fp16"]["psnr_vs_fp32_db"] > 40
    assert report["fp16"]["size_vs_fp32"] < 0.55
    # gray input | automatic | with 5 hints | original, each at the validation picture's own 64 px size
    assert keras.utils.load_img(os.path.join(out, "colorized_sample.png")).size == (4 * 64, 64)


def test_run_evaluates_its_validation_split_like_irodori_evaluate(demo_run, tmp_path):
    from export import evaluate

    out = demo_run[0]
    written = json.load(open(os.path.join(out, "evaluation", "metrics.json")))
    for name in ("report.md", "comparison.png", "loss_curves.png"):
        assert os.path.exists(os.path.join(out, "evaluation", name)), name
    assert written["task"] == "gray" and written["image_size"] == 32 and written["images"] >= 1
    # The command on the run directory reloads generator.keras and finds the same split and numbers.
    assert evaluate.main(["--model", out, "--out", str(tmp_path / "again")]) == 0
    again = json.load(open(tmp_path / "again" / "metrics.json"))
    assert [image["path"] for image in again["per_image"]] == [image["path"] for image in written["per_image"]]
    for source in ("model", "gray"):
        for name in ("psnr", "ssim", "ciede2000", "colorfulness"):
            assert again["summary"][source][name] == pytest.approx(written["summary"][source][name], rel=1e-5)


def test_evaluating_a_run_again_rewrites_its_own_report(demo_run, tmp_path):
    import shutil

    from export import evaluate

    run = str(tmp_path / "copy")
    shutil.copytree(demo_run[0], run)
    before = json.load(open(os.path.join(run, "evaluation", "metrics.json")))
    os.remove(os.path.join(run, "evaluation", "report.md"))
    assert evaluate.main(["--model", run]) == 0  # README's first evaluate command, right after training
    assert os.path.exists(os.path.join(run, "evaluation", "report.md"))
    again = json.load(open(os.path.join(run, "evaluation", "metrics.json")))
    assert again["summary"]["model"]["psnr"] == pytest.approx(before["summary"]["model"]["psnr"], rel=1e-5)


def test_resume_continues_from_the_checkpoint(demo_run, tmp_path, capsys):
    out, argv, rows_after_first, printed = demo_run
    assert [row["epoch"] for row in rows_after_first] == ["0"]
    # The second start continued after the first epoch's 3 steps instead of starting over.
    assert "resumed from step 3 (after epoch 1; " in printed
    with open(os.path.join(out, "history.csv")) as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    reader = tf.train.load_checkpoint(os.path.join(out, "checkpoints"))
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 2
    # 3 steps per epoch: both epochs stepped G; only the adversarial one stepped D.
    assert reader.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 6
    assert reader.get_tensor("d_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 3
    # Running the finished command once more (on a copy, leaving the shared run as it is)
    # trains nothing and says where it resumed.
    copy = str(tmp_path / "demo")
    shutil.copytree(out, copy)
    flags = argv[:argv.index("--out")] + ["--out", copy] + argv[argv.index("--out") + 2:]
    capsys.readouterr()
    assert train.main(flags + ["--epochs", "2"]) == 0
    assert f"resumed from step 6 (after epoch 2; {os.path.join(copy, 'checkpoints', 'ckpt-6')})" in capsys.readouterr().out
    assert tf.train.load_checkpoint(os.path.join(copy, "checkpoints")).get_tensor(
        "g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 6


def test_resuming_with_other_settings_is_refused(demo_run, capsys):
    out, argv, _, _ = demo_run
    assert train.main(argv + ["--epochs", "2", "--lambda-l1", "10"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "lambda_l1 100.0 -> 10.0" in error


def test_own_folder_with_bad_files_trains_and_reports(tmp_path, capsys):
    from pipeline.synthetic import draw_image

    data = tmp_path / "art"
    data.mkdir()
    for index in range(6):
        write_rgb(data / f"pic{index}.png", draw_image(index, size=40, seed=1))
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = str(tmp_path / "run")
    assert train.main(TINY + ["--data", str(data), "--out", out, "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    assert "warning: skipping" in captured.err and "broken.png" in captured.err
    assert "skipped 1 of 7 files" in captured.err
    assert "5 training and 1 validation images" in captured.out


def test_empty_folder_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert train.main(TINY + ["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("irodori-train: error: no image files") and "\n" not in error


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ["--data", "--out", "--image-size", "--batch-size", "--epochs", "--steps-per-epoch", "--ngf",
                 "--num-downs", "--upsample", "--gan-mode", "--lambda-l1", "--lr-g", "--lr-d", "--beta1",
                 "--init", "--val-fraction", "--seed", "--l1-pretrain-epochs"]:
        assert flag in text, flag


@pytest.mark.slow  # sketch end to end (~30 s); the sketch pipeline, U-Net export and colouring have their own tests
def test_sketch_task_trains_and_exports(tmp_path):
    out = str(tmp_path / "sketch")
    assert train.main(TINY + ["--task", "sketch", "--sketch-method", "xdog", "--out", out, "--demo-images", "8",
                              "--epochs", "2", "--l1-pretrain-epochs", "1"]) == 0
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["data"]["task"] == "sketch" and config["data"]["sketch_method"] == "xdog"
    generator = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert generator.output_shape[-1] == 3 and generator.input_shape[-1] == 5  # lines, hint RGB, mask
    signatures = tf.saved_model.load(os.path.join(out, "export", "irodori", "1")).signatures
    assert {"colorize_all", "colorize_hinted", "colorize_bytes_hinted", "colorize_all_hinted"} <= set(signatures)
    for name in ("samples/epoch_002.png", "colorized_sample.png", "export/irodori/1/saved_model.pb",
                 "export/tflite/model_fp16.tflite"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert float(rows[1]["d_loss"]) > 0.0


def test_no_hints_trains_the_classic_pix2pix_and_old_runs_resume_without_hints(tmp_path, capsys):
    out = str(tmp_path / "classic")
    argv = TINY + ["--out", out, "--demo-images", "8", "--l1-pretrain-epochs", "0"]
    assert train.main(argv + ["--no-hints", "--epochs", "1"]) == 0
    generator = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert generator.input_shape[-1] == 1  # L* alone, as the seeds' pix2pix
    signatures = tf.saved_model.load(os.path.join(out, "export", "irodori", "1")).signatures
    assert sorted(signatures) == ["colorize_bytes", "colorize_tuned", "serving_default"]

    # A run saved before hints existed has no "hints" key; resumed without the flag it stays as it was.
    config_path = os.path.join(out, "config.json")
    config = json.load(open(config_path))
    del config["data"]["hints"]
    with open(config_path, "w") as f:
        json.dump(config, f)
    assert train.main(argv + ["--epochs", "2"]) == 0
    assert keras.models.load_model(os.path.join(out, "generator.keras")).input_shape[-1] == 1
    assert json.load(open(config_path))["data"]["hints"] is False
    # The classic sample: gray input | colourised | original.
    assert keras.utils.load_img(os.path.join(out, "colorized_sample.png")).size == (3 * 64, 64)
    capsys.readouterr()
    assert train.main(argv + ["--epochs", "3", "--hints"]) == 2  # turning hints on is a new run
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "hints False -> True" in error


SGRU_ARGV = TINY + ["--task", "sketch", "--generator", "sgru", "--sgru-levels", "3", "--num-outputs", "3",
                    "--demo-images", "8", "--epochs", "1", "--l1-pretrain-epochs", "0"]


def test_sgru_refuses_to_train_without_a_local_vgg_file_or_the_sketch_task(tmp_path, capsys):
    assert train.main(SGRU_ARGV + ["--out", str(tmp_path / "no_vgg")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--vgg-weights" in error and "cannot be downloaded" in error
    assert train.main(TINY + ["--generator", "sgru", "--out", str(tmp_path / "gray")]) == 2
    assert "add --task sketch" in capsys.readouterr().err


@pytest.mark.slow  # SGRU end to end (~60 s); its fit step, loss and export have their own tests
def test_sgru_trains_on_sketches_with_a_local_vgg_file(tmp_path):
    keras.utils.set_random_seed(31)
    weights = str(tmp_path / "vgg19.weights.h5")  # random weights stand in for ImageNet here
    keras.applications.VGG19(include_top=False, weights=None).save_weights(weights)
    out = str(tmp_path / "sgru")
    assert train.main(SGRU_ARGV + ["--out", out, "--vgg-weights", weights]) == 0
    generator = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert generator.output_shape[-1] == 9  # 3 colourings x RGB
    with open(os.path.join(out, "history.csv")) as f:
        row = next(csv.DictReader(f))
    assert float(row["d_loss"]) == 0.0 and float(row["g_l1"]) > 0.0  # perceptual loss alone
    assert os.path.exists(os.path.join(out, "export", "tflite", "model_fp32.tflite"))
    # The sample is a sheet of sketch, 3 colourings and original at the 64 px demo picture's
    # own size: 5 cells in 3 x 2, 4 px gutters.
    assert keras.utils.load_img(os.path.join(out, "colorized_sample.png")).size == (3 * 64 + 16, 2 * 64 + 12)
    # irodori-export, in a fresh process as a user runs it, must load an SGRU generator too.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "export.run_export", out], capture_output=True, text=True,
                            timeout=600, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr[-1500:]
    assert os.path.exists(os.path.join(out, "export", "irodori", "2", "saved_model.pb"))


@pytest.mark.slow  # a whole run (~30 s); the pairing itself: test_dataset.py::test_paired_sketches_travel_...
def test_paired_sketch_folder_trains(tmp_path, capsys):
    from pipeline.synthetic import draw_image

    (tmp_path / "color").mkdir()
    (tmp_path / "lines").mkdir()
    for index in range(6):
        picture = draw_image(index, size=40, seed=2)
        write_rgb(tmp_path / "color" / f"p{index}.png", picture)
        write_rgb(tmp_path / "lines" / f"p{index}.jpg", 255 - np.abs(np.diff(picture, axis=0, prepend=0)).astype(np.uint8))
    out = str(tmp_path / "run")
    assert train.main(TINY + ["--data", str(tmp_path / "color"), "--sketches", str(tmp_path / "lines"),
                              "--task", "sketch", "--out", out, "--epochs", "1"]) == 0
    assert "5 training and 1 validation images" in capsys.readouterr().out
    assert json.load(open(os.path.join(out, "config.json")))["data"]["sketches"] == str(tmp_path / "lines")


def test_a_sketch_folder_without_the_sketch_task_is_refused(tmp_path, capsys):
    assert train.main(TINY + ["--data", str(tmp_path), "--sketches", str(tmp_path / "lines"),
                              "--out", str(tmp_path / "gray")]) == 2
    assert "add --task sketch" in capsys.readouterr().err


@pytest.mark.slow  # a whole run with export (~45 s); one mixed_bfloat16 step: test_pix2pix.py
def test_mixed_precision_and_jit_train_and_export_float32(tmp_path, capsys):
    out = str(tmp_path / "mixed")
    argv = TINY + ["--out", out, "--demo-images", "8", "--epochs", "1", "--l1-pretrain-epochs", "0",
                   "--mixed-precision", "--jit"]
    assert train.main(argv) == 0
    assert "mixed precision: mixed_bfloat16" in capsys.readouterr().out  # no GPU here
    with open(os.path.join(out, "history.csv")) as f:
        row = next(csv.DictReader(f))
    assert all(np.isfinite(float(value)) for value in row.values())
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for export
    generator = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert {layer.dtype_policy.name for layer in generator.layers} == {"float32"}
    assert os.path.exists(os.path.join(out, "export", "tflite", "model_fp16.tflite"))


def test_an_unreadable_run_config_is_one_line_naming_it(tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{")
    assert train.main(TINY + ["--out", str(broken)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and str(broken / "config.json") in error and "not a readable run config" in error
    orphan = tmp_path / "orphan"
    (orphan / "checkpoints").mkdir(parents=True)
    assert train.main(TINY + ["--out", str(orphan)]) == 2
    assert "holds checkpoints but no config.json" in capsys.readouterr().err
