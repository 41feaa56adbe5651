"""Does --render-size help? Colour held-out pictures at the trained size and at larger working
sizes, and compare each with its original at full resolution (issue 15, DeOldify's render_factor).

    python benchmarks/real_art.py --label today     # once: the 128 px model on real art
    python benchmarks/render_size.py                # trained size vs --render-size 256 and 512
    python benchmarks/render_size.py --sizes 128 256 384 --model <run>/generator.keras

A gray model colours the picture's own L* (irodori-colorize re-colours colour inputs), so the
output differs from the original in a*b* only. Measures, with skimage (independent of
export/metrics.py): PSNR over RGB, mean CIEDE2000, both at full resolution; "gray" is the
picture's L* with a* = b* = 0, the do-nothing baseline; "wins" counts the pictures whose PSNR
beats the trained size's; seconds are the colouring alone, summed over the pictures.
"""

import argparse
import glob
import os
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def measure(output, truth):
    """(PSNR dB over RGB, mean CIEDE2000) of uint8 RGB output against uint8 RGB truth."""
    import numpy as np
    from skimage import color

    error = np.mean((output.astype(np.float64) - truth.astype(np.float64)) ** 2)
    psnr = 10 * np.log10(255.0**2 / error) if error else float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delta = color.deltaE_ciede2000(color.rgb2lab(output / 255.0), color.rgb2lab(truth / 255.0))
    return psnr, float(delta.mean())


def gray_of(truth):
    import numpy as np
    from skimage import color

    lab = color.rgb2lab(truth / 255.0)
    lab[..., 1:] = 0
    return np.round(np.clip(color.lab2rgb(lab), 0, 1) * 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(HERE, ".runs", "real_art", "today", "generator.keras"))
    parser.add_argument("--pictures", default=os.path.join(HERE, ".data", "renpy", "held_out"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="render sizes besides the trained")
    args = parser.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"no model at {args.model}: run benchmarks/real_art.py --label today first")

    import tensorflow as tf

    from export.colorizer import Colorizer, working_size
    from pipeline.decode import read_image

    colorizer = Colorizer(args.model)
    colorizer(tf.zeros([1, 64, 64, 3], tf.uint8))  # warm-up, so the first timing is not Keras' first call
    configs = [None] + args.sizes
    paths = sorted(glob.glob(os.path.join(args.pictures, "*")))
    results = {config: [] for config in configs + ["gray"]}
    seconds = dict.fromkeys(configs, 0.0)
    for path in paths:
        truth = read_image(path, dtype=tf.uint8).numpy()  # upright, RGBA on white as every tool reads it
        results["gray"].append(measure(gray_of(truth), truth))
        for config in configs:
            start = time.perf_counter()
            output = colorizer(truth[None], render_size=config)[0, 0]
            seconds[config] += time.perf_counter() - start
            results[config].append(measure(output, truth))
        sizes = " ".join(f"{config}:{'x'.join(map(str, working_size(*truth.shape[:2], config, colorizer.stride)))}"
                         for config in args.sizes)
        print(f"{os.path.basename(path)} {truth.shape[1]}x{truth.shape[0]}  working {sizes}  PSNR "
              + " ".join(f"{results[config][-1][0]:.2f}" for config in configs), file=sys.stderr)

    print(f"\n{len(paths)} pictures, model {args.model} (trained at {colorizer.size} px)")
    print(f"{'network input':<22}{'PSNR dB':>9}{'CIEDE2000':>11}{'wins':>6}{'seconds':>9}")
    trained = [psnr for psnr, _ in results[None]]
    for config in configs + ["gray"]:
        name = {None: f"trained ({colorizer.size}x{colorizer.size})", "gray": "gray (a*b* = 0)"}.get(
            config, f"--render-size {config}")
        psnr = sum(p for p, _ in results[config]) / len(paths)
        delta = sum(d for _, d in results[config]) / len(paths)
        wins = sum(p > t for (p, _), t in zip(results[config], trained)) if config is not None else "-"
        time_text = f"{seconds[config]:.1f}" if config in seconds else "-"
        print(f"{name:<22}{psnr:>9.2f}{delta:>11.2f}{wins!s:>6}{time_text:>9}")


if __name__ == "__main__":
    main()
