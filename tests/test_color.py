import numpy as np
import pytest
import tensorflow as tf

from pipeline import color


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
        ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ],
)
def test_golden_lab_values(rgb, lab):
    result = color.rgb_to_lab(tf.constant([rgb], tf.float32)).numpy()[0]
    np.testing.assert_allclose(result, lab, atol=0.02)


def test_lab_round_trip():
    rgb = tf.random.stateless_uniform((4, 16, 16, 3), seed=(1, 2))
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    np.testing.assert_allclose(back.numpy(), rgb.numpy(), atol=1e-3)


def test_model_scaling_round_trip_and_range():
    rgb = tf.random.stateless_uniform((2, 8, 8, 3), seed=(3, 4))
    lightness, ab = color.rgb_to_model_lab(rgb)
    assert lightness.shape == (2, 8, 8, 1) and ab.shape == (2, 8, 8, 2)
    assert -1.0 <= float(tf.reduce_min(lightness)) and float(tf.reduce_max(lightness)) <= 1.0
    assert -1.0 <= float(tf.reduce_min(ab)) and float(tf.reduce_max(ab)) <= 1.0
    np.testing.assert_allclose(color.model_lab_to_rgb(lightness, ab).numpy(), rgb.numpy(), atol=1e-3)


def test_white_is_l_one_and_black_minus_one():
    lightness, ab = color.rgb_to_model_lab(tf.constant([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lightness.numpy()[:, 0], [1.0, -1.0], atol=1e-4)
    np.testing.assert_allclose(ab.numpy(), 0.0, atol=1e-4)


def test_agrees_with_skimage():
    skimage_color = pytest.importorskip("skimage.color")
    rgb = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    ours = color.rgb_to_lab(tf.constant(rgb)).numpy()
    np.testing.assert_allclose(ours, skimage_color.rgb2lab(rgb), atol=0.05)
