import io

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipeline.decode import decode_image, find_decodable, list_image_files
from tests.conftest import write_rgb

RGB = np.random.default_rng(0).integers(0, 256, size=(12, 20, 3), dtype=np.uint8)


def decode_file(path):
    return decode_image(tf.io.read_file(str(path))).numpy()


@pytest.mark.parametrize("ext", ["png", "bmp", "webp"])
def test_lossless_formats_decode_exactly(tmp_path, ext):
    if ext == "webp":
        path = tmp_path / "x.webp"
        assert cv2.imwrite(str(path), cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
    else:
        path = write_rgb(tmp_path / f"x.{ext}", RGB)
    image = decode_file(path)
    assert image.shape == (12, 20, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image * 255.0, RGB, atol=1e-3)


def test_jpeg_decodes_close(tmp_path):
    # A smooth picture, like art and unlike noise, on which JPEG decoders agree closely.
    ramp = np.linspace(0, 255, 20)[None, :, None] * np.array([1.0, 0.5, 0.2])
    smooth = np.broadcast_to(ramp, (12, 20, 3)).astype(np.uint8)
    image = decode_file(write_rgb(tmp_path / "x.jpg", smooth))
    assert image.shape == (12, 20, 3)
    error = np.abs(image * 255.0 - smooth)  # lossy (OpenCV writes quality 95)
    assert error.mean() < 3 and error.max() <= 8  # a channel swap would be off by > 50


def test_gray_png_becomes_three_equal_channels(tmp_path):
    gray = RGB[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    image = decode_file(tmp_path / "g.png")
    assert image.shape == (12, 20, 3)
    for channel in range(3):
        np.testing.assert_allclose(image[..., channel] * 255.0, gray, atol=1e-3)


def test_16_bit_png_scales_to_unit_range(tmp_path):
    deep = np.full((6, 7), 65535, np.uint16)
    deep[0, 0] = 0
    deep[1, 1] = 32768
    assert cv2.imwrite(str(tmp_path / "d.png"), deep)
    image = decode_file(tmp_path / "d.png")
    assert image.shape == (6, 7, 3)
    assert image[0, 0, 0] == 0.0 and image[2, 2, 0] == pytest.approx(1.0)
    assert image[1, 1, 0] == pytest.approx(0.5, abs=1e-4)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[0, 0, 3] = 255  # opaque red
    rgba[0, 1, 3] = 0  # fully transparent -> white
    rgba[0, 2, 3] = 128  # half -> pink
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = decode_file(tmp_path / "a.png")
    np.testing.assert_allclose(image[0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(image[0, 1], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(image[0, 2], [1, 127 / 255, 127 / 255], atol=1e-3)


def test_gray_alpha_is_composited_on_white(tmp_path):
    Image.fromarray(np.dstack([np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8)]), "LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(decode_file(tmp_path / "la.png"), 1.0)


def test_palette_png(tmp_path):
    Image.fromarray(RGB).quantize(16).save(tmp_path / "p.png")
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_allclose(decode_file(tmp_path / "p.png") * 255.0, expected, atol=1e-3)


def test_gif_gives_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((5, 5, 3), value, np.uint8)) for value in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    image = decode_file(tmp_path / "anim.gif")
    assert image.shape == (5, 5, 3)
    np.testing.assert_allclose(image, 0.0, atol=1 / 255)


@pytest.mark.parametrize("cmyk", [(55, 225, 225, 0), (20, 200, 120, 60), (180, 40, 0, 100), (0, 0, 0, 255)])
def test_cmyk_jpeg_decodes_to_rgb(tmp_path, cmyk):
    # A flat CMYK picture (Pillow writes Adobe CMYK JPEGs, as print workflows do), with and
    # without black ink. Reference: R = (255 - C)(255 - K) / 255, and likewise G from M and B
    # from Y, computed by hand here and by Pillow's own CMYK -> RGB conversion.
    buffer = io.BytesIO()
    Image.new("CMYK", (16, 16), cmyk).save(buffer, "JPEG", quality=100)
    (tmp_path / "c.jpg").write_bytes(buffer.getvalue())
    image = decode_file(tmp_path / "c.jpg")
    assert image.shape == (16, 16, 3)
    *inks, black = cmyk
    expected = np.array([(255 - ink) * (255 - black) / 255 for ink in inks])
    pillow = np.asarray(Image.open(tmp_path / "c.jpg").convert("RGB"), np.float64)
    np.testing.assert_allclose(pillow, np.broadcast_to(expected, pillow.shape), atol=1.5)
    # Within 2 levels everywhere (JPEG rounding); inverted or K-less CMYK is off by > 50.
    np.testing.assert_allclose(image * 255.0, np.broadcast_to(expected, image.shape), atol=2.0)


def make_bad_files(folder):
    good = write_rgb(folder / "good.png", RGB)
    write_rgb(folder / "full.jpg", RGB)
    png = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 3])
    jpg = (folder / "full.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpg[:200])
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not a picture")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    return good


def test_bad_files_are_skipped_with_one_line_each_and_counted(tmp_path, capsys):
    make_bad_files(tmp_path)
    paths = list_image_files(str(tmp_path))
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "empty.png", "full.jpg", "good.png", "text.png", "truncated.jpg", "truncated.png"]
    good, bad = find_decodable(paths)
    assert [p.rsplit("/", 1)[1] for p in good] == ["full.jpg", "good.png"]
    assert len(bad) == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5
    assert all(line.startswith("warning: skipping ") for line in lines[:4])
    assert "empty.png: empty file" in lines[0]
    assert lines[4] == "warning: skipped 4 of 6 files that do not decode"


def test_folder_is_searched_recursively_and_hidden_files_left_out(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    write_rgb(tmp_path / "a" / "b" / "deep.PNG", RGB)
    write_rgb(tmp_path / ".hidden" / "h.png", RGB)
    write_rgb(tmp_path / "top.jpg", RGB)
    found = list_image_files(str(tmp_path))
    assert [p[len(str(tmp_path)) + 1:] for p in found] == ["a/b/deep.PNG", "top.jpg"]
    assert list_image_files(str(tmp_path / "*.jpg")) == [str(tmp_path / "top.jpg")]


def test_home_in_a_quoted_glob_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_rgb(tmp_path / "art.png", RGB)
    assert list_image_files("~/*.png") == [str(tmp_path / "art.png")]


def test_empty_folder_and_missing_path_raise_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image files"):
        list_image_files(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no such file, folder or matching pattern"):
        list_image_files(str(tmp_path / "missing"))


def test_large_jpeg_decodes_at_a_reduced_scale_that_keeps_min_side():
    rng = np.random.default_rng(7)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (600, 900, 3), dtype=np.uint8), (9, 9), 3)
    jpeg = tf.constant(cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    full = decode_image(jpeg)
    assert full.shape == (600, 900, 3)
    # 600 / 4 = 150 >= 140 but 600 / 8 = 75 < 140: quarter scale
    assert decode_image(jpeg, min_side=140).shape == (150, 225, 3)
    assert decode_image(jpeg, min_side=300).shape == (300, 450, 3)
    assert decode_image(jpeg, min_side=301).shape == (600, 900, 3)
    # The reduced decode is a proper downscale of the same picture.
    reduced = decode_image(jpeg, min_side=140)
    reference = tf.image.resize(full, (150, 225), method="area")
    assert float(tf.reduce_mean(tf.abs(reduced - reference))) < 0.01
    # PNGs ignore min_side; truncated JPEGs still fail.
    png = tf.io.encode_png(picture)
    assert decode_image(png, min_side=140).shape == (600, 900, 3)
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(tf.constant(jpeg.numpy()[: len(jpeg.numpy()) // 2]), min_side=140)


def test_pictures_above_the_pixel_limit_are_refused_before_decoding():
    from pipeline.decode import short_error
    from tests.test_bad_inputs import png_header_only

    with pytest.raises(tf.errors.InvalidArgumentError) as refused:
        decode_image(tf.constant(png_header_only(20000, 20000)))
    assert short_error(refused.value) == "image is 20000x20000 pixels, above the 100-megapixel limit"
    # a big JPEG is fine when the pipeline only needs a small version of it
    rng = np.random.default_rng(3)
    jpeg = tf.io.encode_jpeg(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    assert decode_image(jpeg, min_side=16).shape == (16, 16, 3)
