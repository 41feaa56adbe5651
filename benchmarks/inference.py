"""Inference latency, peak memory and model sizes; colourise time against megapixels.

    python benchmarks/inference.py [--sizes 256 512] [--ngf 64] [--repeats 5] [--scaling-only]

A pix2pix reference U-Net (8 downs, ngf 64; random weights: speed does not depend on
them) is run at each size as
  keras        the generator, batch 1, inference mode
  saved_model  the exported serving_default signature on a uint8 picture of that size
  tflite-fp32 / tflite-fp16 / tflite-int8   LiteRT with XNNPACK, converted at that size
Each variant runs in its own process so its peak memory (VmHWM) is its own.
Then the SavedModel colourises pictures of 0.25 to 8 megapixels (the network at 256 px,
colour upsampled to the picture): if time grows linearly, seconds per megapixel is flat.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

VARIANTS = ("keras", "saved_model", "tflite-fp32", "tflite-fp16", "tflite-int8")
QUANTIZATION = {"tflite-fp32": "none", "tflite-fp16": "fp16", "tflite-int8": "int8"}


def build_generator(size, ngf):
    import keras

    from model.unet import UNetGenerator

    keras.utils.set_random_seed(0)
    return UNetGenerator(image_size=size, num_downs=8, ngf=ngf)


def prepare(workdir, size, ngf):
    """Write the generator, its SavedModel and TFLite files once; returns their paths and sizes."""
    import numpy as np

    from export import tflite
    from export.saved_model import export_saved_model

    generator = build_generator(size, ngf)
    paths = {"keras": os.path.join(workdir, f"generator_{size}.keras")}
    generator.save(paths["keras"])
    paths["saved_model"] = export_saved_model(generator, os.path.join(workdir, f"export_{size}"), size)
    rng = np.random.default_rng(0)
    calibration = [rng.uniform(-1, 1, (1, size, size, 1)).astype("float32") for _ in range(8)]
    for variant, quantization in QUANTIZATION.items():
        data = tflite.convert(generator, size, quantization,
                              representative_inputs=calibration if quantization == "int8" else None)
        paths[variant] = os.path.join(workdir, f"{variant}_{size}.tflite")
        with open(paths[variant], "wb") as f:
            f.write(data)
    return paths


def measure(variant, path, size, repeats):
    """Run in a fresh process: median latency (s) and peak RSS (MiB) of one variant."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(1)
    if variant == "keras":
        import keras

        import model.unet  # noqa: F401  (registers the class)

        generator = keras.models.load_model(path)
        condition = tf.constant(rng.uniform(-1, 1, (1, size, size, 1)).astype("float32"))
        run = tf.function(lambda x: generator(x, training=False))
        call = lambda: run(condition).numpy()  # noqa: E731
    elif variant == "saved_model":
        serve = tf.saved_model.load(path).signatures["serving_default"]
        image = tf.constant(rng.integers(0, 256, (1, size, size, 1), dtype=np.uint8))
        call = lambda: serve(images=image)["colorized"].numpy()  # noqa: E731
    else:
        from export import tflite

        interpreter = tflite.interpreter(path)
        condition = rng.uniform(-1, 1, (1, size, size, 1)).astype("float32")
        call = lambda: tflite.run(interpreter, condition)  # noqa: E731
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"latency_s": float(np.median(times)), "peak_mib": peak_resident_mib()}


def peak_resident_mib():
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss would
    carry the parent's peak over into the child."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def megapixel_scaling(saved_model_dir, repeats):
    import numpy as np
    import tensorflow as tf

    serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    rows = []
    for megapixels in (0.25, 0.5, 1, 2, 4, 8):
        side = int(round((megapixels * 1e6) ** 0.5))
        image = tf.constant(np.random.default_rng(2).integers(0, 256, (1, side, side, 1), dtype=np.uint8))
        serve(images=image)
        times = []
        for _ in range(max(2, repeats // 2)):
            start = time.perf_counter()
            serve(images=image)["colorized"].numpy()
            times.append(time.perf_counter() - start)
        rows.append((megapixels, side, float(np.median(times))))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scaling-only", action="store_true",
                        help="only the colourise time against picture size (SavedModel at the first size)")
    parser.add_argument("--measure", nargs=4, metavar=("VARIANT", "PATH", "SIZE", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # the child process
        variant, path, size, repeats = args.measure
        print(json.dumps(measure(variant, path, int(size), int(repeats))))
        return

    with tempfile.TemporaryDirectory() as workdir:
        if args.scaling_only:
            from export.saved_model import export_saved_model

            size = args.sizes[0]
            rows = megapixel_scaling(export_saved_model(build_generator(size, args.ngf), workdir, size), args.repeats)
        for size in [] if args.scaling_only else args.sizes:
            paths = prepare(workdir, size, args.ngf)
            fp32_bytes = os.path.getsize(paths["tflite-fp32"])
            print(f"\n{size} px, U-Net ngf {args.ngf}, batch 1")
            print(f"{'variant':<13} {'latency ms':>10} {'peak MiB':>9} {'file MiB':>9} {'vs fp32':>8}")
            for variant in VARIANTS:
                child = subprocess.run([sys.executable, __file__, "--measure", variant, paths[variant], str(size),
                                        str(args.repeats)], capture_output=True, text=True, cwd=ROOT)
                if child.returncode != 0:
                    print(f"{variant:<13} failed: {child.stderr.strip().splitlines()[-1]}")
                    continue
                result = json.loads(child.stdout.strip().splitlines()[-1])
                size_text = ratio = "-"
                if variant.startswith("tflite"):
                    size_text = f"{os.path.getsize(paths[variant]) / 2**20:.1f}"
                    ratio = f"{os.path.getsize(paths[variant]) / fp32_bytes:.3f}"
                print(f"{variant:<13} {result['latency_s'] * 1000:10.0f} {result['peak_mib']:9.0f} "
                      f"{size_text:>9} {ratio:>8}")
            if size == args.sizes[0]:
                scaling_dir = paths["saved_model"]
                rows = megapixel_scaling(scaling_dir, args.repeats)
        print(f"\ncolourise time against picture size (SavedModel, network at {args.sizes[0]} px):")
        print(f"{'MP':>5} {'side px':>8} {'seconds':>8} {'s per MP':>9}")
        for megapixels, side, seconds in rows:
            print(f"{megapixels:5.2f} {side:8d} {seconds:8.3f} {seconds / megapixels:9.3f}")
        slopes = [(b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(rows, rows[1:])]
        print(f"incremental seconds per MP between sizes: {', '.join(f'{s:.3f}' for s in slopes)}")


if __name__ == "__main__":
    main()
