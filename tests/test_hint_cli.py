"""irodori-colorize --hints / --hint-image: hints land where the artist put them (upright, in the
picture's own pixels), both forms agree, folders match by name, and a bad hints file costs nothing."""

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from export import colorize
from export.saved_model import export_saved_model
from model.unet import UNetGenerator
from pipeline.decode import read_image
from tests.conftest import write_rgb
from tests.references import expected_hinted_gray, hint_copying_generator

SIZE = 32
HINT = (200, 60, 40)  # a warm red: far from gray in a*b*


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A hinted gray model whose answer is its hints: their a*b* where given, gray elsewhere."""
    return export_saved_model(hint_copying_generator("gray", SIZE), str(tmp_path_factory.mktemp("hinted")), SIZE)


def picture(height=48, width=64, seed=0):
    """Colourful noise over a gradient: every pixel has its own lightness."""
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 215, width)[None, :, None] + np.linspace(-20, 20, height)[:, None, None]
    return np.clip(base + rng.integers(-30, 31, (height, width, 3)), 0, 255).astype(np.uint8)


def square(x, y, size, rgb=HINT):
    return [x, y, *rgb, size]


def write_json(path, points):
    path.write_text(json.dumps({"hints": points}))
    return str(path)


def write_hint_image(path, rgba):
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA if rgba.shape[-1] == 4 else cv2.COLOR_RGB2BGR))
    return str(path)


def run(capsys, *argv):
    code = colorize.main([str(arg) for arg in argv])
    return code, capsys.readouterr().err


def read_png(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(int)


def assert_hinted_square(output, upright, left, top, size, margin=4):
    """Inside the square (margin px from its edges, where resizing blurs): the picture's L* with the
    hint's a*b*, as skimage computes it."""
    inner = np.s_[top + margin:top + size - margin, left + margin:left + size - margin]
    expected = expected_hinted_gray(upright, HINT).astype(int)
    assert np.abs(output[inner] - expected[inner]).max() <= 2


def assert_gray(image):
    assert np.abs(image - image[..., :1]).max() <= 2  # R = G = B: a*b* = 0


def test_a_hint_square_colours_its_place_and_nothing_else(model, tmp_path, capsys):
    page = write_rgb(tmp_path / "page.png", picture())
    hints = write_json(tmp_path / "page.hints.json", [square(20.5, 24.5, 16)])  # x 13..28, y 17..32
    assert run(capsys, page, "-o", tmp_path / "plain", "--model", model)[0] == 0
    assert run(capsys, page, "-o", tmp_path / "hinted", "--model", model, "--hints", hints)[0] == 0
    plain, hinted = read_png(tmp_path / "plain" / "page.png"), read_png(tmp_path / "hinted" / "page.png")
    assert_hinted_square(hinted, picture(), 13, 17, 16)
    assert np.abs(hinted[20:30, 16:26] - hinted[20:30, 16:26, :1]).max() > 40  # really coloured
    assert_gray(plain)
    np.testing.assert_array_equal(hinted[:, 40:], plain[:, 40:])  # far from the square: as without hints
    np.testing.assert_array_equal(hinted[:10], plain[:10])


def test_points_and_the_same_hint_image_give_the_same_output(model, tmp_path, capsys):
    page = write_rgb(tmp_path / "page.png", picture())
    points = [square(10, 12, 7), square(45, 30, 5, (30, 90, 220)), square(50, 8, 1, (20, 200, 60))]
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[9:16, 7:14] = (*HINT, 255)  # a size-7 square centred on (10, 12)
    rgba[28:33, 43:48] = (30, 90, 220, 255)
    rgba[8, 50] = (20, 200, 60, 255)
    json_file = write_json(tmp_path / "points.json", points)
    image_file = write_hint_image(tmp_path / "drawn.png", rgba)
    assert run(capsys, page, "-o", tmp_path / "from_json", "--model", model, "--hints", json_file)[0] == 0
    assert run(capsys, page, "-o", tmp_path / "from_image", "--model", model, "--hint-image", image_file)[0] == 0
    from_json = read_png(tmp_path / "from_json" / "page.png")
    from_image = read_png(tmp_path / "from_image" / "page.png")
    np.testing.assert_array_equal(from_json, from_image)
    assert np.abs(from_json[10:14, 8:12] - from_json[10:14, 8:12, :1]).max() > 40  # not both hintless


@pytest.mark.parametrize("form", ["json beside", "image in the input folder"])
def test_a_folder_of_hints_is_matched_by_name(model, tmp_path, capsys, form):
    art = tmp_path / "art"
    art.mkdir()
    write_rgb(art / "a.png", picture(seed=1))
    write_rgb(art / "b.png", picture(seed=2))
    if form == "json beside":
        (tmp_path / "hints").mkdir()
        write_json(tmp_path / "hints" / "a.hints.json", [square(20.5, 24.5, 16)])
        flags = ["--hints", tmp_path / "hints"]
    else:
        rgba = np.zeros((48, 64, 4), np.uint8)
        rgba[17:33, 13:29] = (*HINT, 255)
        write_hint_image(art / "a_hints.png", rgba)
        flags = ["--hint-image", art]
    code, err = run(capsys, art, "-o", tmp_path / "out", "--model", model, *flags)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]  # a_hints.png is no picture
    assert "1 picture(s) had no hints file; coloured automatically" in err
    assert ("left out 1 hints file(s)" in err) == (form != "json beside")
    assert_hinted_square(read_png(tmp_path / "out" / "a.png"), picture(seed=1), 13, 17, 16)
    assert_gray(read_png(tmp_path / "out" / "b.png"))


def bad_json(text):
    return lambda folder: (folder / "z.hints.json").write_text(text)


def bad_image(rgba):
    return lambda folder: write_hint_image(folder / "z_hints.png", rgba)


BAD_HINTS = {
    "malformed json": (bad_json('[[1, 2, 3, 4, 5]'), "not valid JSON"),
    "point outside": (bad_json("[[64, 10, 255, 0, 0]]"), "outside the 64x48 picture"),
    "bad colour": (bad_json("[[5, 10, 256, 0, 0]]"), "whole numbers from 0 to 255"),
    "wrong size image": (bad_image(np.full((48, 48, 4), 255, np.uint8)), "is 48x48; the picture is 64x48"),
    "image without alpha": (bad_image(np.full((48, 64, 3), 255, np.uint8)), "needs transparency"),
}


@pytest.mark.parametrize("case", BAD_HINTS)
def test_a_bad_hints_file_is_one_line_and_nothing_is_written(model, tmp_path, capsys, case):
    write_bad, words = BAD_HINTS[case]
    art, hints = tmp_path / "art", tmp_path / "hints"
    art.mkdir(), hints.mkdir()
    for name in ("a", "m", "z"):  # a and m come first, with good hints or none
        write_rgb(art / f"{name}.png", picture())
    points = "json" in case or case in ("point outside", "bad colour")
    if points:
        write_json(hints / "a.hints.json", [square(5, 5, 3)])
    else:
        good = np.zeros((48, 64, 4), np.uint8)
        good[5:8, 5:8] = (*HINT, 255)
        write_hint_image(hints / "a_hints.png", good)
    write_bad(hints)
    flag = "--hints" if points else "--hint-image"
    code, err = run(capsys, art, "-o", tmp_path / "out", "--model", model, flag, hints)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("irodori-colorize: error: "), err
    assert words in lines[0] and str(hints / "z") in lines[0]  # names the bad file
    assert not os.path.exists(tmp_path / "out")


def test_one_hints_file_for_several_pictures_is_refused(model, tmp_path, capsys):
    pages = [write_rgb(tmp_path / f"{name}.png", picture()) for name in ("a", "b")]
    hints = write_json(tmp_path / "page.hints.json", [square(5, 5, 3)])
    code, err = run(capsys, *pages, "-o", tmp_path / "out", "--model", model, "--hints", hints)
    assert code == 2 and err.startswith("irodori-colorize: error: one hints file") and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "out")


def test_a_model_without_hints_refuses_them_before_writing(tmp_path, capsys):
    plain = export_saved_model(UNetGenerator(image_size=SIZE, num_downs=5, ngf=4), str(tmp_path / "export"), SIZE)
    page = write_rgb(tmp_path / "page.png", picture())
    hints = write_json(tmp_path / "page.hints.json", [square(5, 5, 3)])
    code, err = run(capsys, page, "-o", tmp_path / "out", "--model", plain, "--hints", hints)
    assert code == 2 and err.count("\n") == 1 and "trained without hints" in err, err
    assert not os.path.exists(tmp_path / "out")


def test_hints_on_an_exif_rotated_jpeg_are_in_upright_pixels(model, tmp_path, capsys):
    stored = picture(height=32, width=48)  # shown 32 wide and 48 tall (orientation 6: turn clockwise)
    exif = Image.Exif()
    exif[0x0112] = 6
    page = tmp_path / "page.jpg"
    Image.fromarray(stored).save(page, "JPEG", exif=exif.tobytes(), quality=95)
    upright = read_image(str(page), dtype=tf.uint8).numpy()
    assert upright.shape == (48, 32, 3)
    hints = write_json(tmp_path / "page.hints.json", [square(12.5, 33.5, 14)])  # y 27..40: below the stored height
    code, err = run(capsys, page, "-o", tmp_path / "out", "--model", model, "--hints", hints)
    assert code == 0, err
    output = read_png(tmp_path / "out" / "page.png")
    assert output.shape == (48, 32, 3)
    assert_hinted_square(output, upright, 6, 27, 14)
    assert_gray(output[:18])


@pytest.mark.parametrize("flag, name, words", [("--hints", "a_hints.png", "--hints takes a .json points file"),
                                               ("--hint-image", "a.hints.json", "--hint-image takes an RGBA")])
def test_each_flag_takes_its_own_form_of_hints(model, tmp_path, capsys, flag, name, words):
    page = write_rgb(tmp_path / "a.png", picture())
    if name.endswith(".json"):
        write_json(tmp_path / name, [square(5, 5, 3)])
    else:
        write_hint_image(tmp_path / name, np.zeros((48, 64, 4), np.uint8))
    code, err = run(capsys, page, "-o", tmp_path / "out", "--model", model, flag, tmp_path / name)
    assert code == 2 and err.strip().count("\n") == 0 and words in err, err
    assert not os.path.exists(tmp_path / "out")


def test_an_output_never_lands_on_a_hints_file(model, tmp_path, capsys):
    """pages/a_hints.png is a picture to colour; its output would be hints/a_hints.png, the hint image
    of pages/a.png: refused even with --overwrite, and the hint image is unchanged."""
    pages, hints = tmp_path / "pages", tmp_path / "hints"
    pages.mkdir(), hints.mkdir()
    write_rgb(pages / "a.png", picture())
    write_rgb(pages / "a_hints.png", picture(seed=2))
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[5:8, 5:8] = (*HINT, 255)
    write_hint_image(hints / "a_hints.png", rgba)
    before = (hints / "a_hints.png").read_bytes()
    code, err = run(capsys, pages, "-o", hints, "--model", model, "--hint-image", hints, "--overwrite")
    assert code == 2 and "a_hints.png" in err and err.strip().count("\n") == 0, err
    assert (hints / "a_hints.png").read_bytes() == before and sorted(os.listdir(hints)) == ["a_hints.png"]
