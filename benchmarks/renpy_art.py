"""Real anime art to develop on: the illustrations Debian ships inside two Ren'Py games.

    python benchmarks/renpy_art.py [--out benchmarks/.data/renpy]

Downloads the Debian packages renpy-demo and renpy-thequestion with `apt-get download` (no
root needed; only the package registry is reached), unpacks them with `dpkg -x` into a
temporary folder, and copies the illustrations, never the interface graphics, into
  <out>/train      the demo's character sprites (RGBA PNG, read over white paper) and
                   backgrounds (JPEG, WebP, PNG); the 5842 px panorama becomes four tiles
  <out>/held_out   pictures the training never sees: one of each kind from the demo (a
                   sprite, a concert scene, a background) and all of The Question, another
                   game by other hands (its sprites and backgrounds)
Already fetched files are kept; the script only adds what is missing. CI never needs it.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, ".data", "renpy")
DEMO_IMAGES = "usr/share/games/renpy/demo/game/images"
QUESTION_IMAGES = "usr/share/games/renpy/the_question/game/images"
# The demo's illustrations (the rest are buttons, bars, masks and screenshots of the launcher).
DEMO_ART = ["eileen happy.png", "eileen vhappy.png", "lucy happy.png", "lucy mad.png",
            "concert1.png", "concert3.png", "bg cave.jpg", "bg washington.jpg", "bg panorama.webp"]
DEMO_HELD_OUT = ["eileen concerned.png", "concert2.png", "bg whitehouse.jpg"]
PANORAMA_TILES = 4


def unpack(package, into):
    """apt-get download + dpkg -x: the package's files under `into`."""
    subprocess.run(["apt-get", "download", package], cwd=into, check=True, capture_output=True)
    [deb] = glob.glob(os.path.join(into, f"{package}_*.deb"))
    subprocess.run(["dpkg", "-x", deb, os.path.join(into, package)], check=True)
    return os.path.join(into, package)


def safe_name(name):
    return name.replace(" ", "_")


def copy_new(source, target):
    if not os.path.exists(target):
        shutil.copyfile(source, target)


def panorama_tiles(source, folder):
    """The 5842x720 panorama as PANORAMA_TILES side-by-side pictures of about 2:1."""
    from PIL import Image

    with Image.open(source) as picture:
        width, height = picture.size
        step = width // PANORAMA_TILES
        for index in range(PANORAMA_TILES):
            target = os.path.join(folder, f"bg_panorama_{index}.png")
            if not os.path.exists(target):
                picture.crop((index * step, 0, (index + 1) * step, height)).convert("RGB").save(target)


def fetch(out):
    train, held_out = os.path.join(out, "train"), os.path.join(out, "held_out")
    os.makedirs(train, exist_ok=True)
    os.makedirs(held_out, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        demo = os.path.join(unpack("renpy-demo", scratch), DEMO_IMAGES)
        question = os.path.join(unpack("renpy-thequestion", scratch), QUESTION_IMAGES)
        for name in DEMO_ART:
            if name == "bg panorama.webp":
                panorama_tiles(os.path.join(demo, name), train)
            else:
                copy_new(os.path.join(demo, name), os.path.join(train, safe_name(name)))
        for name in DEMO_HELD_OUT:
            copy_new(os.path.join(demo, name), os.path.join(held_out, safe_name(name)))
        for path in sorted(glob.glob(os.path.join(question, "*"))):
            copy_new(path, os.path.join(held_out, "question_" + safe_name(os.path.basename(path))))
    for folder in (train, held_out):
        print(f"{len(os.listdir(folder))} pictures in {folder}")
    return train, held_out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"where the pictures go (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        fetch(args.out)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        detail = getattr(error, "stderr", b"") or b""
        print(f"renpy_art: error: {error}{': ' + detail.decode().strip() if detail else ''}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
