"""What a small set of real art needs: class-rebalanced L1, scale and rotation augmentation that keep
colours, and --init-from to start from a trained generator."""

import json
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import train
from model.distribute import input_share
from model.init_from import adapted_weights
from model.losses import l1_loss, rebalanced_l1_loss, rebalancing_weights
from model.pix2pix import Pix2Pix
from model.run_config import RunConfig
from model.unet import UNetGenerator
from pipeline import augment
from tests.test_train import TINY


def test_rebalancing_weights_match_a_hand_computation():
    # 90 gray pixels and 10 red ones (a* = +55 -> 0.5): p = 0.9 and 0.1 over Q = 2 occupied bins.
    target = np.zeros((1, 10, 10, 2), np.float32)
    target[0, 0, :, 0] = 0.5
    weights = np.asarray(rebalancing_weights(target, mix=0.5))
    gray, red = 1 / (0.5 * 0.9 + 0.5 / 2), 1 / (0.5 * 0.1 + 0.5 / 2)  # 1.4286, 3.3333
    norm = 0.9 * gray + 0.1 * red
    np.testing.assert_allclose(weights[0, 0], red / norm, rtol=1e-6)  # 2.0588
    np.testing.assert_allclose(weights[0, 1:], gray / norm, rtol=1e-6)  # 0.8824
    assert weights.mean() == pytest.approx(1.0, rel=1e-6)


def test_rebalancing_weights_bin_by_ten_lab_units_as_numpy_does():
    rng = np.random.default_rng(0)
    target = np.clip(rng.normal(0, 0.3, (2, 16, 16, 2)), -1, 1).astype(np.float32)
    cells = np.clip(np.floor((target + 1) * 11).astype(int), 0, 21)
    bins = cells[..., 0] * 22 + cells[..., 1]
    share = np.bincount(bins.ravel(), minlength=484) / bins.size
    raw = 1 / (0.7 * share + 0.3 / np.count_nonzero(share))
    expected = (raw / (share * raw).sum())[bins]
    np.testing.assert_allclose(np.asarray(rebalancing_weights(target, mix=0.3)), expected, rtol=1e-5)


def test_rebalanced_l1_is_plain_l1_on_one_colour_and_favours_the_rare_colour():
    target = np.full((2, 8, 8, 2), 0.3, np.float32)
    prediction = np.random.default_rng(1).uniform(-1, 1, target.shape).astype(np.float32)
    assert float(rebalanced_l1_loss(target, prediction)) == pytest.approx(float(l1_loss(target, prediction)), rel=1e-6)
    target[0, 0, 0] = -0.8  # one rare pixel, predicted as the common colour
    sepia = np.full_like(target, 0.3)
    rare, common = 1 / (0.5 / 128 + 0.5 / 2), 1 / (0.5 * 127 / 128 + 0.5 / 2)  # 128 pixels, 2 bins
    weight = rare / (rare / 128 + common * 127 / 128)  # 2.90: the only error counts almost 3 times
    assert float(rebalanced_l1_loss(target, sepia)) == pytest.approx(weight * float(l1_loss(target, sepia)), rel=1e-5)


def test_rotation_matches_opencv_inside_the_picture():
    rng = np.random.default_rng(2)
    picture = cv2.GaussianBlur(rng.uniform(0, 1, (48, 64, 3)).astype(np.float32), (0, 0), 2)
    seed = tf.constant([3, 4], tf.int64)
    turned = augment.random_rotation(tf.constant(picture), 20.0, seed).numpy()
    degrees = float(tf.random.stateless_uniform([], seed, -20.0, 20.0))
    assert 1.0 < abs(degrees) <= 20.0
    # OpenCV's matrix maps input to output: its rotation by `degrees` is the inverse of our
    # output-to-input map [[cos, -sin], [sin, cos]].
    matrix = cv2.getRotationMatrix2D(((64 - 1) / 2, (48 - 1) / 2), degrees, 1.0)
    reference = cv2.warpAffine(picture, matrix, (64, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inside = (slice(12, 36), slice(16, 48))  # away from the reflected corners
    assert turned.shape == picture.shape
    np.testing.assert_allclose(turned[inside], reference[inside], atol=2e-3)
    assert np.abs(turned[inside] - picture[inside]).mean() > 0.02  # it did turn


def test_zoomed_crops_come_in_several_sizes_within_the_bounds():
    # A horizontal ramp: the slope of a crop resized to 32 px tells the side it was cut at.
    ramp = np.tile(np.linspace(0, 1, 80, dtype=np.float32)[None, :, None], (80, 1, 3))
    sides = []
    for index in range(24):
        crop = augment.random_jitter(tf.constant(ramp), 32, tf.constant([0, index], tf.int64), flip=False, zoom=2.0)
        assert crop.shape == (32, 32, 3)
        row = crop.numpy()[16, :, 0]
        sides.append((row[-2] - row[1]) / 29 * 79 * 32)  # per output pixel, in input pixels x 32
    assert min(sides) >= 16 - 1 and max(sides) <= 80 + 1
    assert max(sides) - min(sides) > 20  # several sizes, not one


def test_plain_jitter_is_unchanged_seed_for_seed():
    picture = tf.constant(np.random.default_rng(3).uniform(0, 1, (40, 50, 3)).astype(np.float32))
    seed = tf.constant([5, 6], tf.int64)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    expected = tf.image.stateless_random_flip_left_right(
        tf.image.stateless_random_crop(picture, [32, 32, 3], seed=crop_seed), seed=flip_seed)
    np.testing.assert_array_equal(augment.random_jitter(picture, 32, seed).numpy(), expected.numpy())


def test_adapted_weights_copy_common_input_channels_and_refuse_other_shapes():
    rng = np.random.default_rng(4)
    trained = [rng.normal(size=(4, 4, 1, 8)), rng.normal(size=(8,))]
    fresh = [np.ones((4, 4, 4, 8)), np.ones((8,))]
    kernel, bias = adapted_weights(trained, fresh)
    np.testing.assert_array_equal(kernel[:, :, :1], trained[0])
    assert not kernel[:, :, 1:].any() and kernel.shape == (4, 4, 4, 8)
    np.testing.assert_array_equal(bias, trained[1])
    with pytest.raises(ValueError, match=r"weight 1 has shape \(8,\) there and \(16,\) here"):
        adapted_weights(trained, [np.ones((4, 4, 4, 8)), np.ones((16,))])


def started_run(argv, out):
    """A TrainingRun of these flags, up to its restore: networks built, nothing trained."""
    from model.training_run import TrainingRun

    config = train.resolve_configs(train.build_parser().parse_args(argv))
    os.makedirs(out, exist_ok=True)
    train.write_or_check_config(out, config)
    run = TrainingRun(config, out, out, tf.distribute.get_strategy())
    run.prepare_inputs()
    run.build()
    run.restore()
    return run


def test_init_from_starts_a_new_run_from_a_trained_generator(tmp_path, capsys):
    # A generator "trained" elsewhere without hints; the new run has hints (4 input channels).
    source = UNetGenerator(image_size=32, num_downs=5, ngf=8, in_channels=1, out_channels=2)
    rng = np.random.default_rng(5)
    for weight in source.trainable_weights:  # BatchNorm's statistics stay valid
        weight.assign(weight.numpy() + rng.normal(0, 0.05, weight.shape).astype(np.float32))
    source.save(tmp_path / "studio.keras")
    out = str(tmp_path / "tuned")
    argv = TINY + ["--demo-images", "8", "--out", out]
    generator = started_run(argv + ["--init-from", str(tmp_path / "studio.keras")], out).generator
    assert f"generator initialised from {tmp_path / 'studio.keras'}" in capsys.readouterr().out
    assert generator.input_shape[-1] == 4
    weights = [(old.numpy(), new.numpy()) for old, new in zip(source.weights, generator.weights)]
    np.testing.assert_array_equal(weights[0][1][:, :, :1], weights[0][0])
    assert not weights[0][1][:, :, 1:].any()  # hint channels start with no effect
    for old, new in weights[1:]:
        np.testing.assert_array_equal(new, old)
    assert json.load(open(os.path.join(out, "config.json")))["train"]["init_from"] == str(tmp_path / "studio.keras")
    assert train.main(TINY + ["--demo-images", "8", "--out", str(tmp_path / "x"), "--ngf", "16",
                              "--init-from", str(tmp_path / "studio.keras")]) == 2
    assert "irodori-train: error: --init-from: weight 0 has shape (4, 4, 1, 8) there and (4, 4, 4, 16)" in \
        capsys.readouterr().err
    assert train.main(TINY + ["--demo-images", "8", "--out", str(tmp_path / "y"),
                              "--init-from", str(tmp_path / "none")]) == 2
    assert "--init-from: no such file" in capsys.readouterr().err
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    assert train.main(TINY + ["--demo-images", "8", "--out", str(tmp_path / "z"),
                              "--init-from", str(tmp_path / "broken.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith(f"irodori-train: error: --init-from: {tmp_path / 'broken.keras'} "
                                                  "is not a readable generator .keras file")


def test_new_flags_are_checked_and_a_resumed_run_keeps_its_augmentation(tmp_path, capsys):
    base = TINY + ["--demo-images", "8", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert train.main(base + ["--task", "sketch", "--rebalance", "0.5"]) == 2
    assert capsys.readouterr().err.strip() == ("irodori-train: error: --rebalance weights a*b* colours of the gray "
                                               "task; the sketch task predicts RGB")
    saved = train.resolve_configs(train.build_parser().parse_args(base + ["--zoom", "1.5", "--rotate", "10",
                                                                          "--rebalance", "0.5"]))
    resumed = train.resolve_configs(train.build_parser().parse_args(base), saved)
    assert (resumed.pipeline.zoom, resumed.pipeline.rotate, resumed.train.rebalance) == (1.5, 10.0, 0.5)
    assert resumed.changes_from(saved) == []
    assert train.main(base + ["--zoom", "0.5"]) == 2
    assert "zoom must be >= 1" in capsys.readouterr().err


def test_data_defaults_are_the_measured_ones_and_an_older_data_run_resumes_as_it_was(tmp_path, monkeypatch):
    def resolve(argv, saved=None):
        return train.resolve_configs(train.build_parser().parse_args(argv), saved)

    new = resolve(["--data", str(tmp_path), "--epochs", "12"])
    measured = (new.train.l1_pretrain_epochs, new.train.rebalance, new.pipeline.zoom, new.pipeline.rotate)
    assert measured == (9, 0.5, 1.5, 10)
    assert resolve(["--data", str(tmp_path), "--task", "sketch"]).train.rebalance == 0.0  # RGB: nothing to weigh
    # A --data run saved before these settings existed: none of its keys, the old behaviour.
    saved = new.as_dict()
    for section, key in [("train", "l1_pretrain_epochs"), ("train", "rebalance"), ("pipeline", "zoom"),
                         ("pipeline", "rotate"), ("train", "input_pipelines"), ("train", "init_from")]:
        del saved[section][key]
    saved["train"]["l1_pretrain_epochs"] = 0
    old = RunConfig.from_dict(saved)
    resumed = resolve(["--data", str(tmp_path), "--epochs", "12"], old)
    assert resumed.changes_from(old) == []
    assert (resumed.train.l1_pretrain_epochs, resumed.train.rebalance, resumed.pipeline.zoom) == (0, 0.0, 1.0)
    # Two workers read other streams than one: a run resumes with the number it was started with.
    cluster = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert input_share("multiworker") == (1, 2)
    wider = resolve(["--data", str(tmp_path), "--epochs", "12", "--strategy", "multiworker"], old)
    assert wider.changes_from(old) == ["input_pipelines 1 -> 2"]


@pytest.mark.parametrize("strength", [0.0, 0.5, 0.8])
def test_the_rebalance_strength_is_one_minus_the_papers_mix(strength):
    trainer = Pix2Pix(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 1)]),
                      keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(1, 1)]))
    trainer.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), rebalance=strength)
    rng = np.random.default_rng(6)
    target, fake = (rng.uniform(-0.6, 0.6, (2, 8, 8, 2)).astype(np.float32) for _ in range(2))
    expected = l1_loss(target, fake) if strength == 0 else rebalanced_l1_loss(target, fake, mix=1 - strength)
    assert float(trainer._reconstruction(None, target, fake)) == pytest.approx(float(expected), rel=1e-6)
    assert strength == 0 or float(expected) != pytest.approx(float(l1_loss(target, fake)), rel=1e-3)
