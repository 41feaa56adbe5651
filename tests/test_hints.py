"""Colour hints (issue 12, first part): the JSON and hint-image forms, their errors, and their
mapping to the network's size without losing a hint."""

import json

import cv2
import numpy as np
import pytest
from skimage import color as skcolor

from export.hints import HintError, hints_for, load_hints, parse_points, points_to_image
from pipeline.hints import gray_hint_channels, hints_at_size


def test_points_become_squares_of_their_colour(tmp_path):
    points = [[10, 5, 255, 0, 0], [30.4, 20, 0, 128, 255, 3]]
    (tmp_path / "page.hints.json").write_text(json.dumps(points))
    image = load_hints(str(tmp_path / "page.hints.json"), 40, 25)
    assert image.shape == (25, 40, 4) and image.dtype == np.uint8
    assert tuple(image[5, 10]) == (255, 0, 0, 255)
    assert np.count_nonzero(image[..., 3]) == 1 + 9
    np.testing.assert_array_equal(image[19:22, 29:32], np.tile([0, 128, 255, 255], (3, 3, 1)))
    assert image[18, 30, 3] == 0 and image[22, 30, 3] == 0


def test_the_json_points_and_the_hint_image_give_the_same_hints(tmp_path):
    points = [[3, 4, 10, 200, 30, 2], [20, 9, 250, 250, 0]]
    (tmp_path / "page.hints.json").write_text(json.dumps({"hints": points}))
    drawn = np.zeros((16, 24, 4), np.uint8)
    drawn[3:5, 2:4] = (10, 200, 30, 255)  # a 2 px square around (3, 4): columns 2-3, rows 3-4
    drawn[9, 20] = (250, 250, 0, 255)
    assert cv2.imwrite(str(tmp_path / "page_hints.png"), cv2.cvtColor(drawn, cv2.COLOR_RGBA2BGRA))
    from_json = load_hints(str(tmp_path / "page.hints.json"), 24, 16)
    from_image = load_hints(str(tmp_path / "page_hints.png"), 24, 16)
    np.testing.assert_array_equal(from_json, drawn)
    np.testing.assert_array_equal(from_image, drawn)
    assert hints_for(str(tmp_path / "art" / "page.png"), str(tmp_path)) == str(tmp_path / "page.hints.json")
    assert hints_for("cover.png", str(tmp_path)) is None


@pytest.mark.parametrize("text, message", [
    ("[[1, 2, 3", "not valid JSON"),
    ('{"points": []}', "expected a list of [x, y, r, g, b] points"),
    ("[[1, 2, 3, 4]]", "hint 1 must be [x, y, r, g, b]"),
    ("[[1, 2, 3, 4, 5], [50, 2, 0, 0, 0]]", "hint 2 at (50, 2) is outside the 40x25 picture"),
    ("[[1, -1, 0, 0, 0]]", "outside the 40x25 picture"),
    ("[[1, 2, 300, 0, 0]]", "colour (300, 0, 0) must be whole numbers from 0 to 255"),
    ("[[1, 2, 0.5, 0, 0]]", "must be whole numbers"),
    ('[[1, 2, "red", 0, 0]]', "must be [x, y, r, g, b]"),
    ("[[1, 2, 0, 0, 0, 0]]", "size 0 must be from 1 to 40 px"),
])
def test_bad_hint_files_say_what_is_wrong_in_one_line(text, message):
    with pytest.raises(HintError) as raised:
        parse_points(text, 40, 25, name="page.hints.json")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith("page.hints.json")


def test_a_hint_image_must_be_transparent_and_of_the_picture_s_size(tmp_path):
    assert cv2.imwrite(str(tmp_path / "opaque.png"), np.zeros((8, 8, 3), np.uint8))
    assert cv2.imwrite(str(tmp_path / "small.png"), np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(HintError, match="needs transparency"):
        load_hints(str(tmp_path / "opaque.png"), 8, 8)
    with pytest.raises(HintError, match="small.png is 8x8; the picture is 16x8"):
        load_hints(str(tmp_path / "small.png"), 16, 8)
    with pytest.raises(HintError, match="hints are a .json points file or an RGBA"):
        load_hints(str(tmp_path / "notes.txt"), 8, 8)


def test_a_one_pixel_hint_on_a_big_page_survives_downscaling():
    rgba = points_to_image([(3999.0, 1234.0, 200, 40, 90, 1)], 4000, 3000)
    rgb, mask = (t.numpy() for t in hints_at_size(rgba, 256))
    assert mask.sum() == 1  # exactly one network pixel carries it
    row, column = np.argwhere(mask[..., 0])[0]
    assert (row, column) == (1234 * 256 // 3000, 3999 * 256 // 4000)
    np.testing.assert_allclose(rgb[row, column] * 255, [200, 40, 90], atol=0.05)  # its colour, not diluted
    assert np.all(rgb[mask[..., 0] == 0] == 0)


def test_hints_sharing_a_network_pixel_average_by_area():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    rgba[0, 1] = (0, 0, 255, 255)  # both fall into network pixel (0, 0) at 2x2
    rgb, mask = (t.numpy() for t in hints_at_size(rgba, 2))
    np.testing.assert_array_equal(mask[..., 0], [[1, 0], [0, 0]])
    np.testing.assert_allclose(rgb[0, 0], [0.5, 0, 0.5], atol=1e-6)


def test_gray_hint_channels_are_the_hint_colour_s_a_b_and_the_mask():
    rgba = points_to_image([(2.0, 1.0, 230, 60, 40, 1)], 4, 4)
    channels = gray_hint_channels(rgba, 4).numpy()
    assert channels.shape == (4, 4, 3)
    expected_ab = skcolor.rgb2lab(np.array([[[230, 60, 40]]]) / 255.0)[0, 0, 1:] / 110.0  # skimage, independently
    np.testing.assert_allclose(channels[1, 2, :2], expected_ab, atol=2e-3)
    assert channels[1, 2, 2] == 1 and channels[..., 2].sum() == 1
    assert np.all(channels[..., :2][channels[..., 2] == 0] == 0)


# -- simulated hints (ideepcolor) -------------------------------------------------------------------

def plans(count, height=64, width=48):
    import tensorflow as tf

    from pipeline.hints import hint_plan

    seeds = tf.data.Dataset.range(count).map(lambda i: tf.stack([tf.constant(7, tf.int64), i]))
    return list(seeds.map(lambda seed: hint_plan(seed, height, width)).as_numpy_iterator())


def test_simulated_hint_counts_sides_and_positions_follow_ideepcolor():
    from pipeline.hints import MAX_POINTS

    drawn = plans(3000)
    counts = np.array([count for count, _, _ in drawn])
    assert abs((counts == 0).mean() - 0.5) < 0.04  # half the examples learn automatic colouring
    hinted = counts[counts > 0]
    # ideepcolor's 1 + Geometric(p = 1/8): mean 1/p = 8, P(count = 1) = p, capped at MAX_POINTS
    assert abs(hinted.mean() - 8) < 0.8 and abs((hinted == 1).mean() - 1 / 8) < 0.03
    assert hinted.max() <= MAX_POINTS
    sides = np.concatenate([plan_sides[:count] for count, plan_sides, _ in drawn])
    assert set(sides) == set(range(1, 10)) and abs(sides.mean() - 5) < 0.15
    centres = np.concatenate([corners[:count] + (plan_sides[:count, None] - 1) // 2
                              for count, plan_sides, corners in drawn]) / [63, 47]
    assert abs(np.median(centres) - 0.5) < 0.03 and 0.15 < np.std(centres) < 0.3  # normal around the centre
    assert all(np.all(corners[:count] >= 0) and np.all(corners[:count] + plan_sides[:count, None] <= [64, 48])
               for count, plan_sides, corners in drawn)  # whole patches inside the picture


def test_each_simulated_patch_carries_the_truth_s_mean_over_it():
    import tensorflow as tf

    from pipeline.hints import hint_plan, simulate_hints

    target = np.random.default_rng(3).uniform(-1, 1, (64, 48, 2)).astype(np.float32)
    checked = 0
    for index in range(40):
        seed = tf.constant([7, index], tf.int64)
        count, sides, corners = (np.asarray(t) for t in hint_plan(seed, 64, 48))
        values, mask = (t.numpy() for t in simulate_hints(tf.constant(target), seed))
        assert np.array_equal(values[mask[..., 0] == 0], np.zeros(((mask == 0).sum(), 2)))
        expected_mask = np.zeros((64, 48), bool)
        for k in range(count):  # painted in order, later on top: the last patch is whole
            (top, left), side = corners[k], sides[k]
            expected_mask[top:top + side, left:left + side] = True
        np.testing.assert_array_equal(mask[..., 0].astype(bool), expected_mask)
        if count:
            (top, left), side = corners[count - 1], sides[count - 1]
            patch_mean = target[top:top + side, left:left + side].mean(axis=(0, 1))
            np.testing.assert_allclose(values[top:top + side, left:left + side], np.broadcast_to(
                patch_mean, (side, side, 2)), atol=1e-5)
            checked += 1
    assert checked >= 10


def test_training_examples_carry_hints_aligned_with_the_cropped_and_flipped_target(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.dataset import build_dataset, lab_example
    from pipeline.hints import hinted_example
    from tests.conftest import write_rgb

    ramp = np.linspace(0, 255, 56)
    picture = np.stack(np.broadcast_arrays(ramp[None], 255 - ramp[None], np.full((40, 1), 128)), -1)
    path = write_rgb(tmp_path / "ramp.png", picture.astype(np.uint8))  # green on the left, red on the right
    cfg = PipelineConfig(image_size=32, batch_size=8, seed=5)
    condition, target = (t.numpy() for t in next(iter(
        build_dataset([path], cfg, training=True, make_example=hinted_example(lab_example)))))
    assert condition.shape == (8, 32, 32, 4)  # L*, hint a*b*, mask
    mask = condition[..., 3] == 1
    assert set(np.unique(condition[..., 3])) <= {0.0, 1.0} and mask.sum() > 50
    # A patch's mean colour is close to the colour under it (measured: median 0.03); hints drawn
    # from the target before its flip carry colours from the other side (median 0.14).
    error = np.abs(condition[..., 1:3][mask] - target[mask])
    assert np.median(error) < 0.07 and np.percentile(error, 95) < 0.2, (np.median(error), np.percentile(error, 95))
    assert np.all(condition[..., 1:3][~mask] == 0)

    validation = next(iter(build_dataset([path], cfg, training=False, make_example=hinted_example(lab_example))))
    assert np.all(validation[0].numpy()[..., 1:] == 0)  # validation measures automatic colouring


def test_sketch_hints_also_come_as_short_strokes_of_the_truth_s_mean_colour():
    import tensorflow as tf

    from pipeline.hints import STROKE_SEGMENTS, STROKE_SPACING, hint_plan, simulate_hints

    target = np.random.default_rng(5).uniform(-1, 1, (48, 48, 3)).astype(np.float32)
    shapes = {"square": 0, "stroke": 0}
    for index in range(700):
        seed = tf.constant([11, index], tf.int64)
        if int(hint_plan(seed, 48, 48)[0]) != 1:
            continue  # one patch alone: its whole mask is that patch
        values, mask = (t.numpy() for t in simulate_hints(tf.constant(target), seed, strokes=True))
        hinted = mask[..., 0] == 1
        assert cv2.connectedComponents(hinted.astype(np.uint8), connectivity=8)[0] == 2  # one piece
        np.testing.assert_allclose(values[hinted], np.broadcast_to(target[hinted].mean(0), values[hinted].shape),
                                   atol=1e-5)
        rows, columns = np.nonzero(hinted)
        height, width = np.ptp(rows) + 1, np.ptp(columns) + 1
        if hinted.sum() == height * width and height == width <= 9:
            shapes["square"] += 1
        else:  # a 3 px brush dragged (STROKE_SEGMENTS - 1) * STROKE_SPACING px: 15-17 px long
            assert max(height, width) >= (STROKE_SEGMENTS - 1) * STROKE_SPACING * 0.7 and hinted.sum() < 3 * 20
            shapes["stroke"] += 1
    assert shapes["square"] >= 5 and shapes["stroke"] >= 5, shapes


def test_a_resumed_stream_carries_the_same_hints_and_other_seeds_other_ones(synthetic_folder):
    import glob

    from pipeline.config import PipelineConfig
    from pipeline.dataset import build_dataset, lab_example
    from pipeline.hints import hinted_example

    paths = sorted(glob.glob(f"{synthetic_folder}/*.png"))
    cfg = PipelineConfig(image_size=32, batch_size=4, seed=5, cache=True)

    def conditions(start_element=0, seed=5):
        import dataclasses

        stream = build_dataset(paths, dataclasses.replace(cfg, seed=seed), training=True,
                               make_example=hinted_example(lab_example), start_element=start_element)
        return np.concatenate([condition.numpy() for condition, _ in stream.take(3)])

    whole = conditions()
    assert whole[..., 3].any()  # some of these 12 examples carry hints
    np.testing.assert_array_equal(conditions(start_element=4)[:8], whole[4:])  # resumed at the 5th example
    other = conditions(seed=6)
    assert not np.array_equal(other[..., 1:], whole[..., 1:])
