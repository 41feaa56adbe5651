"""Peak resident memory of colourising one big picture, against its megapixels.

    python benchmarks/memory.py [--megapixels 6 12 24 48] [--size 256 --ngf 64] [--tree DIR]

A pix2pix U-Net (by default 256 px, 8 downs, ngf 64, as `train.py --data` trains it; --size 64
--ngf 32 is the demo's; random weights: memory does not depend on them) is exported once; then, each in a fresh process so that its peak (VmHWM) is its own:
  idle       load the SavedModel and colour a 64x64 picture: the cost of TF and the model
  colorize   `irodori-colorize picture.jpg -o out --model ...` on a JPEG of that size
  bytes      the colorize_bytes signature on the same JPEG's bytes
Printed: peak MiB, bytes per pixel of the peak, and bytes per pixel above idle. The
increments between sizes show whether memory grows linearly with the picture.
--tree runs the children with another checkout's code (e.g. a `git worktree` of an older
commit) against the same model and pictures, so before and after are measured in one run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The child runs this file's child() with the measured tree first on the path, so the
# `export` it imports is that tree's.
CHILD = ("import json, runpy, sys; sys.path.insert(0, sys.argv[1]); "
         "child = runpy.run_path(sys.argv[2])['child']; print(json.dumps(child(*sys.argv[3:])))")


def write_picture(path, megapixels):
    """A smooth coloured picture with dark strokes, 4:3, as a quality-90 JPEG."""
    import cv2
    import numpy as np

    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    picture = np.empty((height, width, 3), np.uint8)
    for channel, (fy, fx) in enumerate([(3, 2), (2, 5), (7, 3)]):
        picture[..., channel] = (127.5 + 120 * np.sin(fy * np.pi * y + fx * np.pi * x)).astype(np.uint8)
    for k in range(12):  # line art
        cv2.line(picture, (k * width // 12, 0), (width - k * width // 12, height - 1), (20, 20, 20), 9)
    cv2.imwrite(path, picture, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return width * height


def child(mode, model, picture, out):
    import numpy as np
    import tensorflow as tf

    if mode == "colorize":
        from export import colorize

        code = colorize.main([picture, "-o", out, "--model", model])
        assert code == 0, code
    else:
        serve = tf.saved_model.load(model).signatures
        if mode == "idle":
            serve["serving_default"](images=tf.constant(np.zeros((1, 64, 64, 3), np.uint8)))
        else:
            with open(picture, "rb") as f:
                encoded = f.read()
            png = serve["colorize_bytes"](image_bytes=tf.constant([encoded]))["png_bytes"].numpy()[0]
            assert png[:4] == b"\x89PNG"
    with open("/proc/self/status") as f:  # VmHWM: this process's peak resident memory
        return {"peak_mib": int(next(line for line in f if line.startswith("VmHWM:")).split()[1]) / 1024}


def run_child(tree, mode, model, picture, out):
    done = subprocess.run([sys.executable, "-c", CHILD, tree, os.path.abspath(__file__), mode, model, picture, out],
                          capture_output=True, text=True, cwd=tree)
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"], None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[6, 12, 24, 48])
    parser.add_argument("--size", type=int, default=256, help="the network's trained size")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--tree", action="append", default=[], help="another checkout to measure (repeatable)")
    args = parser.parse_args()

    sys.path.insert(0, ROOT)
    import keras

    from export.saved_model import export_saved_model
    from model.config import default_num_downs
    from model.unet import UNetGenerator

    trees = [("this tree", ROOT)] + [(os.path.basename(os.path.normpath(tree)), tree) for tree in args.tree]
    with tempfile.TemporaryDirectory() as workdir:
        keras.utils.set_random_seed(0)
        model = export_saved_model(UNetGenerator(image_size=args.size, num_downs=default_num_downs(args.size),
                                                 ngf=args.ngf), os.path.join(workdir, "export"), args.size)
        print(f"U-Net {args.size} px, ngf {args.ngf}; peak resident memory (VmHWM) of one fresh process each")
        pixel_counts = {}
        for name, tree in trees:
            idle, problem = run_child(tree, "idle", model, "", "")
            print(f"\n{name}: idle (TF + model) {idle:.0f} MiB" if idle else f"\n{name}: idle failed: {problem}")
            print(f"{'MP':>5} {'mode':>9} {'peak MiB':>9} {'B/px':>6} {'B/px above idle':>16}")
            previous = {}
            for megapixels in args.megapixels:
                picture = os.path.join(workdir, f"picture_{megapixels:g}mp.jpg")
                if picture not in pixel_counts:
                    pixel_counts[picture] = write_picture(picture, megapixels)
                pixels = pixel_counts[picture]
                for mode in ("colorize", "bytes"):
                    out = tempfile.mkdtemp(dir=workdir)
                    peak, problem = run_child(tree, mode, model, picture, out)
                    if peak is None:
                        print(f"{megapixels:5g} {mode:>9} failed: {problem}")
                        continue
                    above = (peak - idle) * 2**20 / pixels if idle else float("nan")
                    step = ""
                    if mode in previous:
                        last_pixels, last_peak = previous[mode]
                        step = f"   +{(peak - last_peak) * 2**20 / (pixels - last_pixels):.1f} B/px since the last size"
                    previous[mode] = (pixels, peak)
                    print(f"{megapixels:5g} {mode:>9} {peak:9.0f} {peak * 2**20 / pixels:6.1f} {above:16.1f}{step}")


if __name__ == "__main__":
    main()
