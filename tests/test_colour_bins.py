"""--colour-head bins: a*b* as a classification over colour bins, decoded by the annealed mean
(Zhang, Isola and Efros 2016), checked against NumPy/OpenCV references, through export and
through train.py's flags."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import train
from export import tflite
from export.saved_model import export_saved_model
from model import colour_bins
from model.fused_adam import FusedAdam
from model.losses import rebalancing_weights
from model.patchgan import PatchGANDiscriminator
from model.pix2pix import Pix2Pix
from model.run_config import RunConfig
from model.unet import UNetGenerator
from pipeline.color import AB_SCALE, rgb_to_lab
from tests.references import assert_colourful, independent_gray_reference
from tests.test_train import TINY

SIZE = 32


@pytest.fixture(scope="module")
def centres():
    return colour_bins.in_gamut_centres()


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(3)
    network = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, init="he", colour_head="bins")
    logits = network.get_layer("colour_logits")
    kernel, bias = logits.get_weights()  # bolder logits than a fresh init, so colours differ across the picture
    logits.set_weights([kernel * 20, np.random.default_rng(3).normal(0, 2, bias.shape).astype(np.float32)])
    return network


def srgb_bins(ab_lab_units):
    """The bins of the paper's grid (centres at multiples of 10 Lab units) that a*b* values fall in."""
    return set(map(tuple, (np.round(np.asarray(ab_lab_units).reshape(-1, 2) / 10) * 10).astype(int).tolist()))


def test_the_frozen_bins_are_the_ones_srgb_colours_reach(centres):
    # Every 8-bit sRGB colour through OpenCV (as the bins were made) ...
    reached = set()
    levels = np.arange(256, dtype=np.float32) / 255
    for red in range(0, 256, 32):
        rgb = np.stack(np.meshgrid(levels[red:red + 32], levels, levels, indexing="ij"), -1).reshape(1, -1, 3)
        reached |= srgb_bins(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, :, 1:])
    frozen = srgb_bins(centres * 110)
    assert len(frozen) == len(centres) == 262 and reached == frozen
    # ... and a 64-level grid through tensorflow-io (the pipeline's conversion): no bin outside.
    grid = np.linspace(0, 1, 64, dtype=np.float32)
    rgb = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    assert srgb_bins(rgb_to_lab(tf.constant(rgb)).numpy()[:, 1:]) <= frozen
    assert (0, 0) in frozen and colour_bins.AB_SCALE == AB_SCALE  # gray is a bin of its own


def numpy_soft_encoding(ab, centres):
    """(..., 2) -> (..., Q): Gaussian weights (sigma 5 Lab units) on the 5 nearest centres, as the paper."""
    points = np.asarray(ab, np.float64).reshape(-1, 2)
    encoded = np.zeros((len(points), len(centres)))
    for row, point in zip(encoded, points):
        distance2 = ((centres - point) ** 2).sum(-1)
        nearest = np.argsort(distance2)[:5]
        row[nearest] = np.exp(-distance2[nearest] / (2 * (5 / 110) ** 2))
        row /= row.sum()
    return encoded.reshape(*np.shape(ab)[:-1], len(centres))


def test_soft_encoding_puts_gaussian_weights_on_the_five_nearest_bins(centres):
    ab = np.random.default_rng(0).uniform(-0.6, 0.6, (3, 4, 2)).astype(np.float32)
    ab[0, 0] = 0.0  # gray: its own bin and its 4 equidistant neighbours
    indices, weights = (np.asarray(t) for t in colour_bins.nearest_bins(ab, centres))
    assert indices.shape == weights.shape == (3, 4, 5)
    encoded = np.zeros((3, 4, len(centres)))
    np.put_along_axis(encoded, indices, weights, axis=-1)
    np.testing.assert_allclose(encoded, numpy_soft_encoding(ab, centres), atol=1e-5)
    # Far from every centre (a* = b* = +-1, outside the gamut) the weights still sum to 1, not NaN.
    _, far = colour_bins.nearest_bins(np.array([[1.0, 1.0], [-1.0, -1.0]], np.float32), centres)
    np.testing.assert_allclose(np.asarray(far).sum(-1), 1.0, rtol=1e-6)


def numpy_annealed_mean(logits, centres, temperature):
    scaled = logits / temperature
    probabilities = np.exp(scaled - scaled.max(-1, keepdims=True))
    return (probabilities / probabilities.sum(-1, keepdims=True)) @ centres


def test_annealed_mean_matches_numpy_and_keeps_the_likelier_colour(centres):
    logits = np.random.default_rng(1).normal(0, 3, (2, 3, 5, len(centres))).astype(np.float32)
    for temperature in (0.38, 1.0):
        np.testing.assert_allclose(colour_bins.annealed_mean(logits, centres, temperature),
                                   numpy_annealed_mean(logits, centres, temperature), atol=1e-5)
    # 60% red (a* +50), 40% green (a* -50): the plain mean (T = 1) is a dull a* +10; the annealed
    # mean raises the shares to the power 1 / T first, which favours the likelier red.
    red, green = np.argmin(((centres - [50 / 110, 0]) ** 2).sum(-1)), np.argmin(((centres - [-50 / 110, 0]) ** 2).sum(-1))
    assert tuple(centres[red] * 110) == pytest.approx((50, 0)) and tuple(centres[green] * 110) == pytest.approx((-50, 0))
    probabilities = np.full(len(centres), 1e-12)
    probabilities[[red, green]] = 0.6, 0.4
    logits = np.log(probabilities).astype(np.float32)[None, None, None]
    plain = float(colour_bins.annealed_mean(logits, centres, 1.0)[0, 0, 0, 0]) * 110
    annealed = float(colour_bins.annealed_mean(logits, centres, 0.38)[0, 0, 0, 0]) * 110
    sharpened = np.array([0.6, 0.4]) ** (1 / 0.38)
    assert plain == pytest.approx(0.6 * 50 - 0.4 * 50, abs=0.01)
    assert annealed == pytest.approx(50 * (sharpened[0] - sharpened[1]) / sharpened.sum(), abs=0.01)  # 24.4


def numpy_cross_entropy(target, logits, centres):
    shifted = np.asarray(logits, np.float64) - np.max(logits, -1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -(numpy_soft_encoding(target, centres) * log_probabilities).sum(-1)


def test_bins_loss_is_the_rebalanced_cross_entropy(centres):
    rng = np.random.default_rng(2)
    target = rng.uniform(-0.5, 0.5, (2, 4, 4, 2)).astype(np.float32)
    logits = rng.normal(0, 2, (2, 4, 4, len(centres))).astype(np.float32)
    cross_entropy = numpy_cross_entropy(target, logits, centres)
    assert float(colour_bins.bins_loss(target, logits, centres)) == pytest.approx(cross_entropy.mean(), rel=1e-5)
    # The rebalancing weights have their own NumPy test (test_small_set_levers.py).
    weights = np.asarray(rebalancing_weights(target, 0.5))
    assert float(colour_bins.bins_loss(target, logits, centres, weights)) == pytest.approx(
        (cross_entropy * weights).mean(), rel=1e-5)
    # The target at the logits' size: every other pixel, as the paper subsamples (no blended colours).
    large = rng.uniform(-0.5, 0.5, (2, 8, 8, 2)).astype(np.float32)
    np.testing.assert_array_equal(colour_bins.subsampled_target(large, 4), large[:, ::2, ::2])


def test_the_generator_gives_the_resized_annealed_mean_of_its_logits(generator, centres, tmp_path):
    condition = np.random.default_rng(4).uniform(-1, 1, (2, SIZE, SIZE, 1)).astype(np.float32)
    with_logits = keras.Model(generator.input, generator.get_layer("colour_logits").output)
    logits = with_logits(condition).numpy()
    assert logits.shape == (2, SIZE // 2, SIZE // 2, len(centres))
    half = numpy_annealed_mean(logits, centres, 0.38)
    # Bilinear with half-pixel centres, as OpenCV's INTER_LINEAR (replicated edges included).
    expected = np.stack([cv2.resize(picture, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR) for picture in half])
    output = generator(condition).numpy()
    assert output.shape == (2, SIZE, SIZE, 2)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    assert np.abs(output).max() <= 1.0 and output.std() > 0.05  # colours vary across the picture
    generator.save(tmp_path / "bins.keras")
    reloaded = keras.models.load_model(tmp_path / "bins.keras")
    assert (reloaded.colour_head, reloaded.get_layer("annealed_mean").temperature) == ("bins", 0.38)
    np.testing.assert_array_equal(reloaded(condition).numpy(), output)


def test_the_bins_generator_exports_for_serving_and_the_gpu_delegate(generator, tmp_path):
    condition = np.random.default_rng(5).uniform(-1, 1, (1, SIZE, SIZE, 1)).astype(np.float32)
    expected = generator(condition, training=False).numpy()
    converted = tflite.convert(generator, SIZE)
    assert {"SOFTMAX", "RESIZE_BILINEAR", "CONV_2D"} <= tflite.op_names(converted)
    assert tflite.gpu_incompatible_ops(converted) == set()
    np.testing.assert_allclose(tflite.run(tflite.interpreter(converted), condition), expected, atol=1e-4)
    version = export_saved_model(generator, str(tmp_path / "serving"), SIZE)
    picture = np.random.default_rng(6).integers(0, 256, (1, 40, 48, 3), dtype=np.uint8)
    served = tf.saved_model.load(version).signatures["serving_default"](images=tf.constant(picture))["colorized"]
    assert served.shape == (1, 40, 48, 3) and served.dtype == tf.uint8
    reference = independent_gray_reference(generator, picture, SIZE)
    assert_colourful(reference, min_chroma=5.0)
    assert np.abs(served.numpy().astype(int) - reference).max() <= 2


def test_training_lowers_the_cross_entropy_and_logs_it_as_g_l1():
    # A picture whose left half is red and right half blue at the same lightness: only position tells them.
    target = np.zeros((4, SIZE, SIZE, 2), np.float32)
    target[:, :, : SIZE // 2] = [0.5, 0.3]
    target[:, :, SIZE // 2:] = [0.1, -0.5]
    condition = np.tile(np.linspace(-1, 1, SIZE, dtype=np.float32)[None, None, :, None], (4, SIZE, 1, 1))
    keras.utils.set_random_seed(3)
    generator = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8, init="he", colour_head="bins")
    trainer = Pix2Pix(generator, PatchGANDiscriminator(ndf=8, target_channels=2))
    trainer.compile(FusedAdam(2e-3), FusedAdam(2e-4), adversarial=False, rebalance=0.5)
    first = trainer.evaluate(condition, target, verbose=0, return_dict=True)["g_l1"]
    trainer.fit(condition, target, batch_size=4, epochs=80, verbose=0)
    last = trainer.evaluate(condition, target, verbose=0, return_dict=True)["g_l1"]
    assert last < 0.5 * first
    coloured = generator(condition, training=False).numpy()
    np.testing.assert_allclose(coloured[:, 4:-4, 4:12].mean((0, 1, 2)), [0.5, 0.3], atol=0.1)
    np.testing.assert_allclose(coloured[:, 4:-4, -12:-4].mean((0, 1, 2)), [0.1, -0.5], atol=0.1)


def test_flags_choose_the_head_refuse_it_for_rgb_and_a_resumed_run_keeps_it(tmp_path, capsys):
    def resolve(argv, saved=None):
        return train.resolve_configs(train.build_parser().parse_args(argv), saved)

    base = TINY + ["--demo-images", "8", "--epochs", "1", "--out", str(tmp_path / "r")]
    bins = resolve(base + ["--colour-head", "bins", "--temperature", "0.5"])
    assert (bins.model.colour_head, bins.model.temperature) == ("bins", 0.5)
    resumed = resolve(base, bins)
    assert (resumed.model.colour_head, resumed.model.temperature) == ("bins", 0.5) and resumed.changes_from(bins) == []
    assert resolve(base).model.colour_head == "direct"
    older = bins.as_dict()
    del older["model"]["colour_head"], older["model"]["temperature"]
    assert RunConfig.from_dict(older).model.colour_head == "direct"  # runs saved before the head existed
    assert resolve(base + ["--colour-head", "direct"], bins).changes_from(bins) == ["colour_head 'bins' -> 'direct'"]
    for argv, message in [(["--task", "sketch", "--colour-head", "bins"],
                           "--colour-head bins classifies a*b* colours: it needs the gray task and the U-Net"),
                          (["--temperature", "0.5"], "--temperature decodes the colour bins; add --colour-head bins"),
                          (["--colour-head", "bins", "--temperature", "0"],
                           "temperature must be in (0, 1]; received temperature=0.0")]:
        assert train.main(base + argv) == 2
        assert capsys.readouterr().err.strip() == f"irodori-train: error: {message}"


@pytest.mark.parametrize("strength", [0.0, 0.8])
def test_the_reconstruction_term_is_the_rebalanced_cross_entropy_at_the_logits_size(generator, centres, strength):
    trainer = Pix2Pix(generator, PatchGANDiscriminator(ndf=8, target_channels=2))
    trainer.compile(FusedAdam(), FusedAdam(), rebalance=strength)
    rng = np.random.default_rng(7)
    target = rng.uniform(-0.6, 0.6, (2, SIZE, SIZE, 2)).astype(np.float32)
    condition = rng.uniform(-1, 1, (2, SIZE, SIZE, 1)).astype(np.float32)
    fake, logits = trainer._generate(condition, training=False)
    small = target[:, ::2, ::2]
    cross_entropy = numpy_cross_entropy(small, logits.numpy(), centres)
    weights = np.asarray(rebalancing_weights(small, 1 - strength)) if strength else 1.0
    expected = (cross_entropy * weights).mean()
    assert float(trainer._reconstruction(condition, target, fake, logits)) == pytest.approx(expected, rel=1e-5)
