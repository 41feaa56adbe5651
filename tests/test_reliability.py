"""Faults: a killed run resumes where it stopped; NaN stops cleanly; writes are atomic."""

import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import model.unet  # noqa: F401  (registers the generator class for loading)
import train
from tests.test_train import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = TINY[:TINY.index("--steps-per-epoch")] + ["--verbose", "0", "--steps-per-epoch", "6", "--epochs", "2",
                                                 "--l1-pretrain-epochs", "1", "--demo-images", "16",
                                                 "--checkpoint-every", "2"]


def train_process(out, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen([sys.executable, "train.py", *RUN, "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def latest_step(checkpoints):
    state = os.path.join(checkpoints, "checkpoint")
    if not os.path.exists(state):
        return 0
    found = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', open(state).read())
    return int(found.group(1)) if found else 0


def test_kill_9_then_the_same_command_resumes_where_it_stopped(tmp_path):
    killed = train_process(tmp_path / "killed")
    deadline = time.time() + 300
    # Step 8 is mid-way through epoch 2, the adversarial phase (6 steps per epoch).
    while latest_step(tmp_path / "killed" / "checkpoints") < 8 and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    kept = latest_step(tmp_path / "killed" / "checkpoints")
    assert 8 <= kept <= 12

    resumed = train_process(tmp_path / "killed")
    uninterrupted = train_process(tmp_path / "whole")
    resumed_out, _ = resumed.communicate(timeout=600)
    uninterrupted.communicate(timeout=600)
    assert resumed.returncode == 0 and uninterrupted.returncode == 0, resumed_out[-2000:]
    assert f"resumed from step {kept} " in resumed_out

    # Same data position, optimizer state and step counter: the same weights as never stopping.
    reader = tf.train.load_checkpoint(str(tmp_path / "killed" / "checkpoints"))
    assert reader.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 12
    a = keras.models.load_model(str(tmp_path / "killed" / "generator.keras"), compile=False)
    b = keras.models.load_model(str(tmp_path / "whole" / "generator.keras"), compile=False)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, atol=1e-5)
    with open(tmp_path / "killed" / "history.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()][1:] == ["0", "1"]


def generator_tensors(checkpoints):
    reader = tf.train.load_checkpoint(checkpoints)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map() if key.startswith("generator/")}


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "nan")
    argv = TINY + ["--out", out, "--demo-images", "8", "--epochs", "2", "--l1-pretrain-epochs", "0"]
    assert train.main(argv + ["--epochs", "1"]) == 0  # one good epoch: checkpoint at step 3
    good = generator_tensors(os.path.join(out, "checkpoints"))
    capsys.readouterr()

    # The same run, resumed with an L1 weight beyond float32: the loss is Inf at once.
    with open(os.path.join(out, "config.json")) as f:
        config = f.read()
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(config.replace('"lambda_l1": 100.0', '"lambda_l1": 1e+39'))
    assert train.main(argv + ["--lambda-l1", "1e39"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("irodori-train: error: training stopped at step ") and "\n" not in error
    assert "NaN or Inf" in error and "ckpt-3" in error and "is kept" in error
    kept = generator_tensors(os.path.join(out, "checkpoints"))
    assert kept.keys() == good.keys() and all(np.array_equal(kept[key], good[key]) for key in good)
    assert os.path.exists(os.path.join(out, "generator.keras"))  # the good run's model is not overwritten


def test_a_failed_export_leaves_the_previous_version_whole_and_no_debris(tmp_path, monkeypatch):
    from export import saved_model
    from model.unet import UNetGenerator

    generator = UNetGenerator(image_size=32, num_downs=5, ngf=8)
    first = saved_model.export_saved_model(generator, str(tmp_path), 32)
    before = {name: open(os.path.join(first, name), "rb").read() for name in ["saved_model.pb"]}
    real_save = tf.saved_model.save

    def killed_while_writing(module, path, signatures=None):
        real_save(module, path, signatures=signatures)
        with open(os.path.join(path, "saved_model.pb"), "r+b") as f:
            f.truncate(100)  # half written
        raise KeyboardInterrupt  # the user pressed Ctrl-C (a kill leaves only the staging folder)

    monkeypatch.setattr(tf.saved_model, "save", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        saved_model.export_saved_model(generator, str(tmp_path), 32)
    assert sorted(os.listdir(tmp_path / "irodori")) == ["1"]
    assert open(os.path.join(first, "saved_model.pb"), "rb").read() == before["saved_model.pb"]


def test_a_checkpoint_cut_off_while_writing_is_ignored_on_resume(tmp_path, capsys):
    out = str(tmp_path / "run")
    argv = TINY + ["--out", out, "--demo-images", "8", "--epochs", "2", "--l1-pretrain-epochs", "0"]
    assert train.main(argv[:] + ["--epochs", "1"]) == 0
    checkpoints = os.path.join(out, "checkpoints")
    # A kill during the next save leaves data files the checkpoint index does not list yet.
    for suffix in (".index", ".data-00000-of-00001"):
        with open(os.path.join(checkpoints, "ckpt-99" + suffix), "wb") as f:
            f.write(b"\0" * 10)
    capsys.readouterr()
    assert train.main(argv) == 0
    assert "resumed from step 3 " in capsys.readouterr().out


def test_out_of_memory_is_one_line(monkeypatch, capsys):
    def exhausted(args):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[64,256,256,64]")

    monkeypatch.setattr(train, "run", exhausted)
    assert train.main(["--epochs", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("irodori-train: error: out of memory; lower --batch-size") and "\n" not in error


def test_a_full_disk_is_named_as_such_not_as_out_of_memory(monkeypatch, capsys):
    # What TensorFlow raised when the disk cache filled the disk during an epoch.
    def disk_full(args):
        raise tf.errors.ResourceExhaustedError(
            None, None, "runs/art/cache/data.tmp; No space left on device [Op:IteratorGetNext]")

    monkeypatch.setattr(train, "run", disk_full)
    assert train.main(["--epochs", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("irodori-train: error: the disk is full (no space left on device)") and "\n" not in error
