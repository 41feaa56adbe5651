"""Big folders: start-up reads headers only, a file broken behind a sound header is left out of the
stream where it falls (the others keep their order, a resumed run stays exact), and pictures are
resized from uint8."""

import dataclasses
import io
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import train
from pipeline import augment, decode
from pipeline.config import PipelineConfig
from pipeline.dataset import NONE_DECODES, SkippedFiles, build_dataset
from pipeline.headers import find_readable
from tests.test_bad_inputs import png_header_only
from tests.test_train import TINY

CFG = PipelineConfig(image_size=32, load_size=32, batch_size=2, val_fraction=0.0, shuffle_buffer=100, flip=False)


def flat_picture(path, value):
    """A 40x40 picture of one colour whose red channel names it (value = 10 * id + 5)."""
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = value, 128
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def broken_behind_header(path):
    """A PNG whose header is sound and whose pixels are cut off."""
    flat_picture(path, 7)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def ids(dataset, batches):
    """Which picture each example came from, in stream order."""
    return [int(round(float(value) * 255 - 5)) // 10 for batch, _ in dataset.take(batches)
            for value in batch[:, 0, 0, 0].numpy()]


def identity_example(rgb, seed=None):
    return rgb, rgb


@pytest.fixture
def folder(tmp_path):
    paths = [flat_picture(tmp_path / f"p{index:02d}.png", 10 * index + 5) for index in range(12)]
    return tmp_path, paths


def test_start_up_reads_headers_and_decodes_no_sound_file(tmp_path, monkeypatch):
    good = [flat_picture(tmp_path / f"good{index}.png", 50) for index in range(3)]
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(tmp_path / "photo.jpg")
    good.append(str(tmp_path / "photo.jpg"))
    good.append(broken_behind_header(tmp_path / "cut.png"))  # the stream's to find
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "scan.png", format="TIFF")
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "huge.png").write_bytes(png_header_only(20000, 20000))
    asked = []
    real = decode.decode_error
    monkeypatch.setattr(decode, "decode_error", lambda path: asked.append(path) or real(path))
    log = io.StringIO()
    found, bad = find_readable(decode.list_image_files(str(tmp_path)), log=log)
    assert found == sorted(good)
    assert sorted(name.rsplit("/", 1)[-1] for name in bad) == ["empty.png", "huge.png", "notes.png", "scan.png"]
    assert not set(asked) & set(good)  # no sound header sent a file to the decoder
    lines = log.getvalue().splitlines()
    assert any(line.endswith("scan.png: TIFF is not a format the pipeline reads (PNG, JPEG, WebP, BMP, GIF)")
               for line in lines)
    assert any(line.endswith("huge.png: image is 20000x20000 pixels, above the 100-megapixel limit") for line in lines)
    assert any(line.endswith("empty.png: empty file") for line in lines)
    assert lines[-1] == "warning: skipped 4 of 9 files whose headers show no readable picture"


def test_a_broken_file_is_left_out_where_it_falls_and_the_others_keep_their_order(folder):
    root, paths = folder
    reference = ids(build_dataset(paths, CFG, True, make_example=identity_example), 20)
    broken = broken_behind_header(root / "p05.png")  # same name, same place in the shuffled list
    log = io.StringIO()
    skipped = SkippedFiles(log=log)
    stream = ids(build_dataset(paths, CFG, True, make_example=identity_example, skipped=skipped), 14)
    assert stream == [index for index in reference if index != 5][:28]
    assert log.getvalue().count(f"warning: skipping {broken}: ") == 1  # once, with its reason
    assert "Invalid PNG data" in log.getvalue()
    assert skipped.take_epoch_count() == 1 and skipped.take_epoch_count() == 0  # one file (met often), then reset


def test_a_resumed_stream_leaves_out_the_remembered_files_before_it_skips(folder):
    root, paths = folder
    broken_behind_header(root / "p03.png")
    record = str(root / "skipped_files.txt")
    first = ids(build_dataset(paths, CFG, True, make_example=identity_example,
                              skipped=SkippedFiles(record, log=io.StringIO())), 16)
    assert open(record).read() == f"{paths[3]}\n"
    resumed = build_dataset(paths, CFG, True, make_example=identity_example, start_element=14,
                            skipped=SkippedFiles(record, log=io.StringIO()))
    assert ids(resumed, 9) == first[14:]
    forgetful = build_dataset(paths, CFG, True, make_example=identity_example, start_element=14,
                              skipped=SkippedFiles(log=io.StringIO()))
    assert ids(forgetful, 9) != first[14:]  # without the record the skip lands elsewhere


def test_a_folder_where_nothing_decodes_stops_training_in_one_line(tmp_path, capsys):
    data = tmp_path / "art"
    data.mkdir()
    for index in range(4):
        broken_behind_header(data / f"cut{index}.png")
    stream = build_dataset(sorted(map(str, data.iterdir())), CFG, True, skipped=SkippedFiles(log=io.StringIO()))
    with pytest.raises(tf.errors.OpError, match=NONE_DECODES):
        next(iter(stream))
    assert train.main(TINY + ["--data", str(data), "--out", str(tmp_path / "run"), "--val-fraction", "0"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("irodori-train: error: none of the 4 pictures decodes")


def test_resizing_from_uint8_matches_resizing_the_float_picture():
    rng = np.random.default_rng(0)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (300, 450, 3), dtype=np.uint8), (0, 0), 4)  # art, not noise
    from_uint8 = augment.resize_shorter_side(tf.constant(picture), 64).numpy()
    from_float = augment.resize_shorter_side(tf.constant(picture / 255.0, tf.float32), 64).numpy()
    assert from_uint8.shape == (64, 96, 3) and from_uint8.dtype == np.float32
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-5)
    # An independent reference for the area-like downscale: OpenCV's INTER_AREA, within rounding of
    # the two antialiasing kernels.
    area = cv2.resize(picture, (96, 64), interpolation=cv2.INTER_AREA) / 255.0
    assert np.abs(from_uint8 - area).mean() < 0.005


def test_the_disk_cache_is_written_once_reused_by_a_resumed_run_and_renewed_when_a_file_changes(folder):
    root, paths = folder
    cache = str(root / "cache")
    first = ids(build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=cache), 16)
    assert sorted(set(first)) == list(range(12))
    [key] = [name for name in os.listdir(cache)]
    assert os.path.exists(os.path.join(cache, key, "pictures.index"))  # made whole after the first pass
    for path in paths:  # same size and time, other bytes: only the cache still knows these pictures
        status = os.stat(path)
        with open(path, "wb") as f:
            f.write(b"x" * status.st_size)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    resumed = build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=cache, start_element=14)
    assert ids(resumed, 9) == first[14:]  # read back in the order written: the resume is exact
    for index, path in enumerate(paths):  # new pictures (new times): a cache of their own
        flat_picture(path, 10 * ((index + 3) % 12) + 5)
    renewed = ids(build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=cache), 6)
    assert len(os.listdir(cache)) == 2 and renewed != first[:12]


def test_a_first_epoch_killed_midway_leaves_no_cache_that_is_read(folder):
    root, paths = folder
    cache = root / "cache"
    reference = ids(build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=str(root / "c0")), 12)
    build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=str(cache))  # names its folder
    [key] = os.listdir(cache)
    # What a run killed in its first epoch leaves: tf.data's lock file and part of the data, no index.
    (cache / key / "pictures_0.lockfile").write_text("left by a killed run")
    (cache / key / "pictures_0.data-00000-of-00001").write_bytes(b"half")
    stream = build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=str(cache))
    assert ids(stream, 12) == reference
    assert sorted(os.listdir(cache / key)) == ["pictures.data-00000-of-00001", "pictures.index"]


def test_training_keeps_its_cache_in_the_run_and_refuses_a_memory_cache_that_cannot_fit(folder, capsys,
                                                                                         monkeypatch):
    root, paths = folder
    out = str(root.parent / f"{root.name}-run")  # a run directory inside --data is refused
    args = TINY + ["--data", str(root), "--val-fraction", "0", "--epochs", "2", "--l1-pretrain-epochs", "0"]
    assert train.main(args + ["--out", out]) == 0
    assert any(os.path.exists(os.path.join(out, "cache", key, "pictures.index"))
               for key in os.listdir(os.path.join(out, "cache")))
    monkeypatch.setattr("pipeline.headers.available_memory", lambda: 10_000)
    capsys.readouterr()
    assert train.main(args + ["--out", out + "2", "--cache"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("irodori-train: error: --cache would keep 12 pictures at ")


def test_a_disk_cached_run_with_a_broken_file_resumes_in_a_later_epoch_exactly(folder):
    root, paths = folder
    broken_behind_header(root / "p04.png")
    record, cache = str(root / "skipped_files.txt"), str(root / "cache")
    first = ids(build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=cache,
                              skipped=SkippedFiles(record, log=io.StringIO())), 30)
    assert 4 not in first and all(sorted(first[11 * k:11 * (k + 1)]) == [0, 1, 2, 3] + list(range(5, 12))
                                  for k in range(5))  # every epoch holds each good picture once
    for start in (24, 30, 37):  # inside epochs 2 and 3: read from the cache, skipped inside one epoch only
        resumed = build_dataset(paths, CFG, True, make_example=identity_example, cache_dir=cache, start_element=start,
                                skipped=SkippedFiles(record, log=io.StringIO()))
        assert ids(resumed, 8) == first[start:start + 16]


def test_a_broken_validation_picture_never_stops_training(folder):
    root, paths = folder
    val = [broken_behind_header(root / "p00.png")]
    stream = build_dataset(val, CFG, False, make_example=identity_example, skipped=SkippedFiles(log=io.StringIO()))
    assert list(stream) == []  # it ends, empty; no error


@pytest.mark.parametrize("mode", ["files", "disk cache", "memory cache"])
def test_two_workers_share_the_files_each_sees_its_own_once_per_epoch_and_resumes_exactly(folder, mode):
    root, paths = folder
    cfg = dataclasses.replace(CFG, cache=mode == "memory cache")
    streams = []
    for worker in range(2):
        cache = str(root / f"cache{worker}") if mode == "disk cache" else None
        streams.append(ids(build_dataset(paths, cfg, True, make_example=identity_example, cache_dir=cache,
                                         share=(worker, 2)), 12))  # four epochs of a 6-picture share
        # A run resumed at global step 5 (10 elements of the global stream, 5 of each worker's).
        resumed = build_dataset(paths, cfg, True, make_example=identity_example, cache_dir=cache,
                                share=(worker, 2), start_element=10)
        assert ids(resumed, 4) == streams[-1][5:13]
    assert set(streams[0]) == set(range(0, 12, 2)) and set(streams[1]) == set(range(1, 12, 2))
    if mode != "memory cache":  # which shuffles the repeated pictures across epoch boundaries
        for stream in streams:
            assert all(sorted(stream[6 * k:6 * (k + 1)]) == sorted(set(stream)) for k in range(4))
    with pytest.raises(ValueError, match="start_element 3 is not a whole number of 2 workers' shares"):
        build_dataset(paths, CFG, True, share=(0, 2), start_element=3)
