import os

import numpy as np
import pytest
import tensorflow as tf

from pipeline import augment
from pipeline.config import PipelineConfig
from pipeline.dataset import build_dataset, lab_example, split_train_val
from pipeline.decode import list_image_files

CFG = PipelineConfig(image_size=32, batch_size=4, seed=7)


@pytest.fixture(scope="module")
def paths(synthetic_folder):
    return list_image_files(synthetic_folder)


def test_training_batches_have_exact_spec_and_ranges(paths):
    dataset = build_dataset(paths, CFG, training=True)
    assert dataset.element_spec == (
        tf.TensorSpec((4, 32, 32, 1), tf.float32),
        tf.TensorSpec((4, 32, 32, 2), tf.float32),
    )
    lightness, ab = next(iter(dataset))
    assert -1.0 <= lightness.numpy().min() and lightness.numpy().max() <= 1.0
    assert -1.0 <= ab.numpy().min() and ab.numpy().max() <= 1.0
    assert ab.numpy().std() > 0.05  # the synthetic art is colourful, not gray


def test_same_seed_same_batches_other_seed_other_batches(paths):
    def first_batches(seed):
        cfg = PipelineConfig(image_size=32, batch_size=4, seed=seed)
        return [b[1].numpy() for b in build_dataset(paths, cfg, training=True).take(3)]

    for a, b in zip(first_batches(7), first_batches(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first_batches(7)[0], first_batches(8)[0])


def test_validation_is_one_ordered_pass_with_partial_last_batch(paths):
    dataset = build_dataset(paths[:6], CFG, training=False)
    assert dataset.element_spec[0].shape.as_list() == [None, 32, 32, 1]
    sizes = [int(b[0].shape[0]) for b in dataset]
    assert sizes == [4, 2]
    again = [b[0].numpy() for b in build_dataset(paths[:6], CFG, training=False)]
    np.testing.assert_array_equal(again[0], next(iter(dataset))[0].numpy())


def test_flipping_the_rgb_flips_l_and_ab():
    rgb = tf.random.stateless_uniform((16, 16, 3), seed=(5, 6))
    lightness, ab = lab_example(rgb)
    flipped_l, flipped_ab = lab_example(tf.image.flip_left_right(rgb))
    np.testing.assert_allclose(flipped_l.numpy(), lightness.numpy()[:, ::-1], atol=1e-5)
    np.testing.assert_allclose(flipped_ab.numpy(), ab.numpy()[:, ::-1], atol=1e-5)


def test_jitter_crops_from_the_image_and_flips_about_half_the_time():
    image = tf.reshape(tf.range(10 * 10 * 3, dtype=tf.float32), (10, 10, 3))
    flips = 0
    for index in range(40):
        crop = augment.random_jitter(image, 8, tf.constant([1, index], tf.int64)).numpy()
        unflipped = crop if crop[0, 0, 0] < crop[0, -1, 0] else crop[:, ::-1]
        flips += crop[0, 0, 0] > crop[0, -1, 0]
        top, left = divmod(int(unflipped[0, 0, 0]) // 3, 10)
        np.testing.assert_array_equal(unflipped, image.numpy()[top : top + 8, left : left + 8])
    assert 8 <= flips <= 32


def test_resize_keeps_aspect_ratio_and_centre_crop_is_square():
    image = tf.zeros((100, 300, 3))
    resized = augment.resize_shorter_side(image, 36)
    assert resized.shape == (36, 108, 3)
    assert augment.center_crop(resized, 32).shape == (32, 32, 3)


def test_split_is_deterministic_disjoint_and_stable_under_additions(tmp_path):
    names = [str(tmp_path / f"img_{i:03d}.png") for i in range(200)]
    train, val = split_train_val(names, 0.1, root=str(tmp_path))
    assert set(train).isdisjoint(val) and sorted(train + val) == sorted(names)
    assert 8 <= len(val) <= 35
    assert split_train_val(names, 0.1, root=str(tmp_path)) == (train, val)
    more_train, more_val = split_train_val(names + [str(tmp_path / "new.png")], 0.1, root=str(tmp_path))
    assert set(val) <= set(more_val) and set(train) <= set(more_train)


def test_tiny_split_keeps_one_validation_image():
    train, val = split_train_val(["a.png", "b.png", "c.png"], 0.01)
    assert len(val) == 1 and len(train) == 2
    assert split_train_val(["a.png"], 0.5) == (["a.png"], [])
    assert split_train_val(["a.png", "b.png"], 0.0) == (["a.png", "b.png"], [])


def test_config_rejects_bad_values_with_named_message():
    with pytest.raises(ValueError, match="load_size=16, image_size=32"):
        PipelineConfig(image_size=32, load_size=16)
    with pytest.raises(ValueError, match="val_fraction=1.0"):
        PipelineConfig(val_fraction=1.0)
    assert PipelineConfig(image_size=256).resolved_load_size == 286


def test_sketch_task_batches(paths):
    from pipeline.dataset import sketch_example

    dataset = build_dataset(paths, CFG, training=True, make_example=sketch_example("random"))
    assert dataset.element_spec == (
        tf.TensorSpec((4, 32, 32, 1), tf.float32),
        tf.TensorSpec((4, 32, 32, 3), tf.float32),
    )
    lines, rgb = next(iter(dataset))
    assert -1.0 <= lines.numpy().min() and lines.numpy().max() <= 1.0
    assert np.median(lines.numpy()) > 0.8  # mostly white paper
    assert -1.0 <= rgb.numpy().min() and rgb.numpy().max() <= 1.0
    val = build_dataset(paths[:4], CFG, training=False, make_example=sketch_example("random"))
    again = build_dataset(paths[:4], CFG, training=False, make_example=sketch_example("random"))
    np.testing.assert_array_equal(next(iter(val))[0].numpy(), next(iter(again))[0].numpy())


def test_paired_sketches_travel_with_their_colour_images(tmp_path, capsys):
    from pipeline.dataset import pair_by_name, paired_example
    from tests.conftest import write_rgb

    (tmp_path / "color").mkdir()
    (tmp_path / "sketch").mkdir()
    for index in range(4):
        # colour: left half red, right half blue; sketch: a black band inside the red half
        picture = np.zeros((40, 60, 3), np.uint8)
        picture[:, :30] = (255, 0, 0)
        picture[:, 30:] = (0, 0, 255)
        write_rgb(tmp_path / "color" / f"p{index}.png", picture)
        lines = np.full((20, 30, 3), 255, np.uint8)  # half size: resized to its partner
        lines[:, 6:12] = 0
        write_rgb(tmp_path / "sketch" / f"p{index}.jpg", lines)
    write_rgb(tmp_path / "color" / "lonely.png", np.zeros((8, 8, 3), np.uint8))
    colors, sketches = pair_by_name(list_image_files(str(tmp_path / "color")),
                                    list_image_files(str(tmp_path / "sketch")))
    assert [os.path.basename(p) for p in colors] == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert [os.path.basename(p) for p in sketches] == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]
    assert "1 colour images have no partner of the same name (e.g. lonely)" in capsys.readouterr().err

    cfg = PipelineConfig(image_size=32, batch_size=4, seed=3)
    dataset = build_dataset(colors, cfg, training=True, make_example=paired_example, sketch_paths=sketches)
    assert dataset.element_spec == (tf.TensorSpec((4, 32, 32, 1), tf.float32),
                                    tf.TensorSpec((4, 32, 32, 3), tf.float32))
    checked = flipped = 0
    for condition, target in dataset.take(4):
        for lines, rgb in zip(condition.numpy(), target.numpy()):
            # Crop and flip moved both alike: wherever the ink is, the picture is red there.
            ink = lines[..., 0] < -0.5
            if ink.any():
                assert (rgb[ink][:, 0] > 0.5).all() and (rgb[ink][:, 2] < -0.5).all()
                checked += 1
                flipped += rgb[16, 0, 2] > 0.5  # blue on the left: this example was flipped
    assert checked >= 12 and 0 < flipped < checked
    with pytest.raises(ValueError, match="3 sketches for 4 images"):
        build_dataset(colors, cfg, training=True, make_example=paired_example, sketch_paths=sketches[:3])


@pytest.mark.parametrize("cache", [False, True])
def test_resumed_stream_continues_exactly_where_it_stopped(paths, cache):
    """Batches 3..6 of an uninterrupted stream equal batches 0..3 of one started at element 12.

    12 pictures and batch 4: the resumed part crosses an epoch boundary (reshuffled).
    """
    import dataclasses

    cfg = dataclasses.replace(CFG, cache=cache)
    whole = [lightness.numpy() for lightness, _ in build_dataset(paths, cfg, training=True).take(7)]
    resumed = [lightness.numpy() for lightness, _ in build_dataset(paths, cfg, training=True,
                                                                   start_element=3 * 4).take(4)]
    for expected, got in zip(whole[3:], resumed):
        np.testing.assert_array_equal(expected, got)
    assert not np.array_equal(whole[0], whole[3])  # a different epoch gives different batches
