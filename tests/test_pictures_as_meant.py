"""Pictures the way they are meant to be seen: EXIF orientation, WebP sizes, serving edge cases,
and full-resolution colouring in strips that joins into the whole-picture result."""

import io
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps
from skimage import color as skcolor

from export import colorize, colorize_graph
from export.colorizer import Colorizer
from export.saved_model import export_saved_model
from model.sgru import SGRUGenerator
from model.unet import UNetGenerator
from pipeline.config import PipelineConfig
from pipeline.dataset import build_dataset
from pipeline.decode import decode_image, read_image
from tests.references import independent_gray_reference

SIZE = 32


def quadrants(height=36, width=52):
    """A picture whose every orientation differs: four flat colours and a gradient."""
    picture = np.zeros((height, width, 3), np.uint8)
    picture[: height // 2, : width // 2] = (230, 30, 30)
    picture[: height // 2, width // 2:] = (30, 200, 40)
    picture[height // 2:, : width // 2] = (40, 40, 220)
    picture[height // 2:, width // 2:] = (240, 230, 20)
    picture[..., 2] = np.clip(picture[..., 2].astype(int) + np.arange(width)[None, :], 0, 255)
    return picture


def save_with_orientation(path, picture, orientation, fmt):
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(picture).save(path, fmt, exif=exif.tobytes(), **options)
    return str(path)


# JPEG: TF's and Pillow's libjpeg settings differ by a few levels at colour edges; a wrong
# orientation of the quadrants would differ by about 100 on average.
@pytest.mark.parametrize("fmt, suffix, tolerance", [("JPEG", "jpg", 1.5), ("PNG", "png", 0), ("WEBP", "webp", 0)])
def test_every_exif_orientation_is_shown_as_pillow_shows_it(tmp_path, fmt, suffix, tolerance):
    picture = quadrants()
    for orientation in range(1, 9):
        path = save_with_orientation(tmp_path / f"o{orientation}.{suffix}", picture, orientation, fmt)
        with Image.open(path) as opened:
            expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB")).astype(int)
        ours = np.round(read_image(path).numpy() * 255).astype(int)
        assert ours.shape == expected.shape, (orientation, ours.shape, expected.shape)
        difference = np.abs(ours - expected)
        assert (difference.mean() if fmt == "JPEG" else difference.max()) <= tolerance, orientation
        # Serving takes bytes as sent: the stored pixels, not turned.
        stored = decode_image(tf.io.read_file(path)).numpy()
        assert stored.shape == picture.shape


def test_exif_far_into_a_big_file_is_found(tmp_path):
    """WebP keeps EXIF after the pixels; PNG may have big chunks before it. Noise does not compress."""
    from pipeline.decode import EXIF_HEAD_BYTES

    noise = np.random.default_rng(15).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    path = save_with_orientation(tmp_path / "big.webp", noise, 6, "WEBP")
    assert os.path.getsize(path) > 2 * EXIF_HEAD_BYTES
    assert read_image(path).shape == (400, 300, 3)


def test_a_phone_jpeg_is_coloured_and_written_upright(tmp_path):
    keras.utils.set_random_seed(9)
    model = export_saved_model(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8), str(tmp_path / "export"), SIZE)
    # Stored 70 wide x 45 high, shown 45 wide x 70 high ("rotate 90 clockwise").
    phone = save_with_orientation(tmp_path / "phone.jpg", quadrants(45, 70), 6, "JPEG")
    assert colorize.main([phone, "-o", str(tmp_path / "out"), "--model", model]) == 0
    written = cv2.imread(str(tmp_path / "out" / "phone.png"))
    assert written.shape == (70, 45, 3)
    with Image.open(phone) as opened:
        upright = np.asarray(ImageOps.exif_transpose(opened))
    lightness = cv2.cvtColor(written, cv2.COLOR_BGR2LAB)[..., 0].astype(int)
    assert np.abs(lightness - cv2.cvtColor(upright, cv2.COLOR_RGB2LAB)[..., 0]).mean() < 4


def test_training_and_evaluation_pipelines_see_the_upright_picture(tmp_path):
    picture = quadrants(40, 64)
    turned = np.asarray(Image.fromarray(picture).transpose(Image.Transpose.ROTATE_90))  # stored turned left
    rotated = save_with_orientation(tmp_path / "turned.png", turned, 6, "PNG")  # EXIF: turn it back right
    upright = str(tmp_path / "upright.png")
    Image.fromarray(picture).save(upright)
    cfg = PipelineConfig(image_size=32, batch_size=1, val_fraction=0.0)
    (ours, _), (reference, _) = [next(iter(build_dataset([path], cfg, training=False))) for path in (rotated, upright)]
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=1e-6)


# -- WebP sizes come from the header ---------------------------------------------------------------

def webp_bytes(picture, **options):
    encoded = io.BytesIO()
    Image.fromarray(picture).save(encoded, "WEBP", **options)
    return encoded.getvalue()


@pytest.mark.parametrize("kind, options, chunk", [
    ("lossy", {"quality": 80}, b"VP8 "), ("lossless", {"lossless": True}, b"VP8L"),
    ("extended", {"quality": 80, "exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"}, b"VP8X")])
def test_webp_sizes_are_read_from_the_header_and_the_limit_applies_before_decoding(kind, options, chunk):
    from pipeline.decode import _header_size

    picture = quadrants(37, 61)
    data = webp_bytes(picture, **options)
    assert data[12:16] == chunk
    assert tuple(int(v) for v in _header_size(tf.constant(data))) == (37, 61)  # Pillow wrote 61 x 37

    # The same file claiming 12000 x 9000 (108 MP): refused by the limit, not by the decoder.
    huge = bytearray(data)
    if chunk == b"VP8X":
        huge[24:27], huge[27:30] = (11999).to_bytes(3, "little"), (8999).to_bytes(3, "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(huge[21:25], "little")
        bits = (bits & ~((1 << 28) - 1)) | 11999 | (8999 << 14)
        huge[21:25] = bits.to_bytes(4, "little")
    else:
        huge[26:28], huge[28:30] = (12000).to_bytes(2, "little"), (9000).to_bytes(2, "little")
    with pytest.raises(tf.errors.InvalidArgumentError, match="12000x9000 pixels, above the 100-megapixel limit"):
        decode_image(tf.constant(bytes(huge)))


# -- serving edge cases ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signatures(tmp_path_factory):
    keras.utils.set_random_seed(11)
    folder = tmp_path_factory.mktemp("serving")
    gray = export_saved_model(UNetGenerator(image_size=SIZE, num_downs=5, ngf=8), str(folder / "gray"), SIZE)
    sketch = export_saved_model(SGRUGenerator(image_size=SIZE, num_levels=2, filters=4, num_outputs=2),
                                str(folder / "sketch"), SIZE, task="sketch")
    return tf.saved_model.load(gray).signatures, tf.saved_model.load(sketch).signatures


def test_signatures_declare_their_output_shapes(signatures):
    gray, sketch = signatures
    for name in ("serving_default", "colorize_tuned"):
        assert gray[name].structured_outputs["colorized"].shape.as_list() == [None, None, None, 3]
    assert sketch["colorize_all"].structured_outputs["colorings"].shape.as_list() == [None, 2, None, None, 3]


def test_rgba_is_composited_on_white_like_files(signatures):
    serve = signatures[0]["serving_default"]
    rgba = np.random.default_rng(3).integers(0, 256, (2, 30, 44, 4), dtype=np.uint8)
    alpha = rgba[..., 3:4] / 255.0
    on_white = np.round(rgba[..., :3] / 255.0 * alpha * 255 + (1 - alpha) * 255).astype(np.uint8)
    np.testing.assert_array_equal(serve(images=tf.constant(rgba))["colorized"].numpy(),
                                  serve(images=tf.constant(on_white))["colorized"].numpy())


def test_an_empty_batch_gives_an_empty_batch(signatures):
    gray, sketch = signatures
    empty = tf.zeros((0, 30, 44, 3), tf.uint8)
    assert gray["serving_default"](images=empty)["colorized"].shape == (0, 30, 44, 3)
    assert gray["colorize_tuned"](images=empty, saturation=tf.constant(0.5))["colorized"].shape == (0, 30, 44, 3)
    assert sketch["colorize_all"](images=tf.zeros((0, 30, 44, 1), tf.uint8),
                                  saturation=tf.constant(1.0))["colorings"].shape == (0, 2, 30, 44, 3)
    assert gray["colorize_bytes"](image_bytes=tf.constant([], tf.string))["png_bytes"].shape == (0,)


def test_a_picture_without_its_batch_dimension_is_told_the_expected_shape(signatures):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be uint8 \[N, H, W, C\]"):
        signatures[0]["serving_default"](images=tf.zeros((30, 44, 3), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"1 \(gray\), 3 \(RGB\) or 4 \(RGBA\) channels"):
        signatures[0]["serving_default"](images=tf.zeros((1, 30, 44, 2), tf.uint8))


# -- strips join into the whole picture ------------------------------------------------------------

def test_colouring_in_many_strips_matches_an_independent_whole_picture_reference(monkeypatch):
    keras.utils.set_random_seed(12)
    generator = UNetGenerator(image_size=SIZE, num_downs=5, ngf=8)
    # Vivid colours that vary over the picture, so a misplaced strip or a wrong resize shows.
    network = lambda condition: generator(condition, training=False) * 6.0 + [0.3, -0.25]  # noqa: E731
    colorizer = Colorizer(generator=generator)
    colorizer.network = network
    picture = np.random.default_rng(13).integers(60, 200, (75, 53, 3), dtype=np.uint8)
    def reference_of(image):
        return independent_gray_reference(lambda c, training=False: network(c), image[None], SIZE)[0].astype(int)

    reference = reference_of(picture)
    assert np.abs(skcolor.rgb2lab(reference / 255.0)[..., 1:]).mean() > 10  # colourful enough to mean something
    for strip_pixels in (53 * 4, 53 * 11, 1 << 20):  # 19 strips, 7 strips, one strip
        monkeypatch.setattr(colorize_graph, "STRIP_PIXELS", strip_pixels)
        eager = colorizer(tf.constant(picture[None]))[0, 0].astype(int)  # irodori-colorize's way
        assert np.abs(eager - reference).max() <= 2, strip_pixels
        # The SavedModel's way: traced now, so with this strip size; two pictures in one batch.
        graph = tf.function(lambda images: colorize_graph.colorize_rgb(network, images, SIZE))
        both = graph(tf.constant(np.stack([picture, picture[::-1]]))).numpy().astype(int)
        assert np.abs(both[0] - reference).max() <= 2, strip_pixels
        assert np.abs(both[1] - reference_of(picture[::-1])).max() <= 2


def test_png_writer_round_trips_arrays_and_tensors_and_leaves_the_array_as_it_was(tmp_path):
    from export.pictures import write_png

    picture = np.random.default_rng(14).integers(0, 256, (301, 67, 3), dtype=np.uint8)  # rows > one swap block
    kept = picture.copy()
    for name, value in (("array.png", picture), ("tensor.png", tf.constant(picture))):
        write_png(str(tmp_path / name), value)
        read_back = cv2.cvtColor(cv2.imread(str(tmp_path / name)), cv2.COLOR_BGR2RGB)  # OpenCV, independently
        np.testing.assert_array_equal(read_back, kept)
    np.testing.assert_array_equal(picture, kept)  # the in-place channel swap was undone
    assert sorted(os.listdir(tmp_path)) == ["array.png", "tensor.png"]  # no temporary files left
