import numpy as np
import pytest
import tensorflow as tf

from pipeline import sketch
from pipeline.synthetic import draw_image


@pytest.fixture(scope="module")
def picture():
    return tf.constant(draw_image(2, size=64, seed=5), tf.float32) / 255.0


@pytest.mark.parametrize("method", ["xdog", "morph"])
def test_lines_are_dark_on_white(picture, method):
    lines = sketch.extract(picture, method).numpy()
    assert lines.shape == (64, 64, 1) and lines.dtype == np.float32
    assert lines.min() >= 0.0 and lines.max() <= 1.0
    assert np.median(lines) > 0.9  # mostly paper
    assert (lines < 0.5).mean() > 0.01  # but with lines
    # The lines sit on the drawn outlines: dark pixels are where the picture is dark/edgy.
    gray = tf.image.rgb_to_grayscale(picture).numpy()
    edges = np.abs(np.gradient(gray[..., 0])[0]) + np.abs(np.gradient(gray[..., 0])[1])
    assert edges[lines[..., 0] < 0.5].mean() > 3 * edges[lines[..., 0] > 0.9].mean()


def test_flat_image_gives_blank_paper():
    flat = tf.fill((32, 32, 3), 0.4)
    for method in ("xdog", "morph"):
        np.testing.assert_allclose(sketch.extract(flat, method).numpy(), 1.0, atol=1e-6)


def test_xdog_draws_a_line_on_a_step_edge():
    step = np.ones((16, 16, 3), np.float32)
    step[:, 8:] = 0.2
    lines = sketch.xdog(tf.constant(step)).numpy()[..., 0]
    assert lines[:, :6].min() == 1.0 and lines[:, 11:].min() == 1.0  # flat areas stay white
    assert lines[:, 6:10].min() == 0.0  # black line at the edge


def test_random_jitter_is_seeded_and_varies(picture):
    seeds = [tf.constant([0, i], tf.int64) for i in range(6)]
    first = [sketch.extract(picture, "random", s).numpy() for s in seeds]
    again = [sketch.extract(picture, "random", s).numpy() for s in seeds]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    darkest = {round(float(s.min()), 3) for s in first}
    assert len(darkest) > 1  # line intensity differs between draws
    assert all(s.min() >= 0.0 and s.max() <= 1.0 for s in first)


def test_bad_method_names_the_value(picture):
    with pytest.raises(ValueError, match="method='pencil'"):
        sketch.extract(picture, "pencil")
