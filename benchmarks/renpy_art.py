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

    python benchmarks/renpy_art.py --archive [--archive-out benchmarks/.data/wallpapers]

also fetches a stand-in for a studio's larger archive, to pretrain a generator for --init-from:
the colour desktop backgrounds of gnome-backgrounds, plasma-workspace-wallpapers,
mate-backgrounds and ukui-wallpapers (illustrations, abstract art and nature photographs; about
80 pictures, none anime), the largest file of each, none under 600 px or stored gray.
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
DEFAULT_ARCHIVE_OUT = os.path.join(HERE, ".data", "wallpapers")
ARCHIVE_PACKAGES = ["gnome-backgrounds", "plasma-workspace-wallpapers", "mate-backgrounds", "ukui-wallpapers"]
PICTURE_ENDINGS = (".png", ".jpg", ".jpeg", ".webp")


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


def archive_pictures(unpacked):
    """The backgrounds of an unpacked package: Plasma keeps one folder of resolutions per
    wallpaper (the largest file is taken), the others plain files under backgrounds/."""
    pictures = []
    resolutions = glob.glob(os.path.join(unpacked, "usr/share/wallpapers/*/contents/images/*"))
    for folder in sorted(set(map(os.path.dirname, resolutions))):
        files = [f for f in glob.glob(os.path.join(folder, "*")) if f.lower().endswith(PICTURE_ENDINGS)]
        if files:
            pictures.append(max(files, key=os.path.getsize))
    pictures += sorted(f for f in glob.glob(os.path.join(unpacked, "usr/share/backgrounds/**/*"), recursive=True)
                       if f.lower().endswith(PICTURE_ENDINGS))
    return pictures


def fetch_archive(out):
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for package in ARCHIVE_PACKAGES:
            unpacked = unpack(package, scratch)
            for path in archive_pictures(unpacked):
                with Image.open(path) as picture:
                    if min(picture.size) < 600 or picture.mode in ("L", "LA", "1", "I", "I;16"):
                        continue
                relative = os.path.relpath(path, os.path.join(unpacked, "usr/share"))
                copy_new(path, os.path.join(out, safe_name(relative.replace("/contents/images/", "_")
                                                           .replace("/", "_"))))
    print(f"{len(os.listdir(out))} pictures in {out}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"where the pictures go (default {DEFAULT_OUT})")
    parser.add_argument("--archive", action="store_true", help="also fetch the desktop backgrounds (a pretraining "
                        "archive for --init-from)")
    parser.add_argument("--archive-out", default=DEFAULT_ARCHIVE_OUT,
                        help=f"where the backgrounds go (default {DEFAULT_ARCHIVE_OUT})")
    args = parser.parse_args(argv)
    try:
        fetch(args.out)
        if args.archive:
            fetch_archive(args.archive_out)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        detail = getattr(error, "stderr", b"") or b""
        print(f"renpy_art: error: {error}{': ' + detail.decode().strip() if detail else ''}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
