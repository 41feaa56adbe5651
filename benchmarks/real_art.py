"""Real anime art from a small set: train on the Ren'Py illustrations, colour pictures it never saw.

    python benchmarks/renpy_art.py                      # once: the pictures (see there)
    python benchmarks/real_art.py --label today         # train + evaluate with today's defaults
    python benchmarks/real_art.py --label nogan -- --l1-pretrain-epochs 9   # extra train.py flags

Trains `train.py --data <renpy>/train` on the CPU budget of issue 15 (128 px, 12 epochs x 25
steps, no validation split) into benchmarks/.runs/real_art/<label>, then colours every held-out
picture with `irodori-evaluate` (which measures the gray picture in the same run) and prints,
for the model and for gray: PSNR, mean CIEDE2000, colourfulness against the truth's, and on how
many pictures the model is closer to the truth than gray (by PSNR), for all held-out pictures
and for each source (the demo's own, The Question's). An existing run of the same label is
evaluated again, not retrained, unless --retrain. --picture FILE also draws, for a few held-out
pictures at full resolution, a row of: its gray input | Irodori's colouring | the original.

Colouring-time variants of a trained run, evaluated in this process without retraining:
    python benchmarks/real_art.py --label today --saturation 1.2        # the saturation slider
    python benchmarks/real_art.py --label bins --temperature 0.2        # a --colour-head bins run
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, ".data", "renpy")
RUNS = os.path.join(HERE, ".runs", "real_art")
BUDGET = ["--image-size", "128", "--epochs", "12", "--steps-per-epoch", "25", "--val-fraction", "0"]


def summary(rows):
    """Means over per-image metrics of evaluate's metrics.json rows."""
    def mean(values):
        return sum(values) / len(values)

    return {
        "images": len(rows),
        "psnr": (mean([r["model"]["psnr"] for r in rows]), mean([r["gray"]["psnr"] for r in rows])),
        "ciede2000": (mean([r["model"]["ciede2000"] for r in rows]), mean([r["gray"]["ciede2000"] for r in rows])),
        "colorfulness": mean([r["model"]["colorfulness"] for r in rows]) / mean([r["truth_colorfulness"] for r in rows]),
        "closer": sum(r["model"]["psnr"] > r["gray"]["psnr"] for r in rows),
    }


def report(label, metrics, seconds):
    rows = metrics["per_image"]
    groups = [("all held-out", rows),
              ("the demo's", [r for r in rows if not os.path.basename(r["path"]).startswith("question_")]),
              ("The Question's", [r for r in rows if os.path.basename(r["path"]).startswith("question_")])]
    print(f"\n{label}: trained in {seconds:.0f} s" if seconds else f"\n{label}: (trained before)")
    print("| pictures | PSNR model / gray | CIEDE2000 model / gray | colourfulness vs truth | closer than gray |")
    print("|---|---|---|---|---|")
    for name, group in groups:
        if not group:
            continue
        s = summary(group)
        print(f"| {name} ({s['images']}) | {s['psnr'][0]:.2f} / {s['psnr'][1]:.2f} dB ({s['psnr'][0] - s['psnr'][1]:+.2f}) "
              f"| {s['ciede2000'][0]:.2f} / {s['ciede2000'][1]:.2f} | {100 * s['colorfulness']:.0f}% "
              f"| {s['closer']} of {s['images']} |")


PICTURE_EXAMPLES = ["question_sylvie_green_smile.png", "question_bg_meadow.jpg", "concert2.png"]
ROW_HEIGHT = 300


def variant_rows(run, held_out, saturation, temperature):
    """metrics.json-like per-image rows of the run's generator coloured at another saturation and/or,
    for a "bins" colour head, another annealed-mean temperature."""
    import functools

    import keras

    sys.path.insert(0, ROOT)
    from export.colorizer import Colorizer
    from export.evaluate import evaluate
    from model.run_config import RunConfig
    from model.unet import UNetGenerator
    from pipeline.decode import find_decodable, list_image_files

    generator = keras.models.load_model(os.path.join(run, "generator.keras"), compile=False)
    if temperature is not None:
        if getattr(generator, "colour_head", "direct") != "bins":
            raise SystemExit(f"real_art: error: --temperature needs a --colour-head bins run; {run} is not one")
        retempered = UNetGenerator.from_config({**generator.get_config(), "temperature": temperature})
        retempered.set_weights(generator.get_weights())
        generator = retempered
    paths, _ = find_decodable(list_image_files(held_out))  # as irodori-evaluate --data lists them
    colorizer = functools.partial(Colorizer(generator=generator), saturation=saturation)
    per_source, truth = evaluate(colorizer, paths, "gray", RunConfig.load(run).model.image_size, progress=False)
    return [{"path": path, "truth_colorfulness": float(truth[i]),
             **{source: {name: float(values[i]) for name, values in metrics.items()}
                for source, metrics in per_source.items()}} for i, path in enumerate(paths)]


def comparison_picture(run, held_out, path):
    """Rows of gray input | colouring | original for PICTURE_EXAMPLES, each ROW_HEIGHT px high."""
    import cv2
    import numpy as np

    sys.path.insert(0, ROOT)
    from export.colorizer import Colorizer
    from pipeline.decode import read_image

    colorizer = Colorizer(os.path.join(run, "generator.keras"))
    rows = []
    for name in PICTURE_EXAMPLES:
        original = read_image(os.path.join(held_out, name), dtype="uint8").numpy()
        gray = np.repeat(cv2.cvtColor(original, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
        colored = colorizer(gray[None])[0, 0]
        cells = [cv2.resize(cell, (round(cell.shape[1] * ROW_HEIGHT / cell.shape[0]), ROW_HEIGHT),
                            interpolation=cv2.INTER_AREA) for cell in (gray, colored, original)]
        gutter = np.full((ROW_HEIGHT, 6, 3), 255, np.uint8)
        rows.append(np.concatenate([cells[0], gutter, cells[1], gutter, cells[2]], axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows)[:-6], cv2.COLOR_RGB2BGR))
    print(f"comparison picture written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--label", default="today", help="run name under benchmarks/.runs/real_art")
    parser.add_argument("--data", default=DATA, help=f"the fetched pictures (default {DATA})")
    parser.add_argument("--retrain", action="store_true", help="train again even if the run exists")
    parser.add_argument("--picture", metavar="FILE", help="also write a comparison picture of held-out art here")
    parser.add_argument("--saturation", type=float, default=1.0,
                        help="evaluate the trained run coloured at this saturation (the colouring-time slider)")
    parser.add_argument("--temperature", type=float,
                        help="evaluate a --colour-head bins run decoded at this annealed-mean temperature")
    parser.add_argument("train_flags", nargs="*", help="after --: more train.py flags")
    args = parser.parse_args(argv)
    train, held_out = os.path.join(args.data, "train"), os.path.join(args.data, "held_out")
    if not os.path.isdir(train) or not os.path.isdir(held_out):
        print(f"real_art: error: no pictures in {args.data}; run `python benchmarks/renpy_art.py` first",
              file=sys.stderr)
        return 2
    run = os.path.join(RUNS, args.label)
    seconds = None
    if args.retrain or not os.path.exists(os.path.join(run, "generator.keras")):
        shutil.rmtree(run, ignore_errors=True)
        began = time.time()
        command = [sys.executable, os.path.join(ROOT, "train.py"), "--data", train, "--out", run, "--verbose", "2",
                   *BUDGET, *args.train_flags]
        print(" ".join(command), flush=True)
        if subprocess.run(command, cwd=ROOT).returncode:
            return 1
        seconds = time.time() - began
    if args.saturation != 1.0 or args.temperature is not None:
        label = f"{args.label} at saturation {args.saturation}" + (
            f", temperature {args.temperature}" if args.temperature is not None else "")
        report(label, {"per_image": variant_rows(run, held_out, args.saturation, args.temperature)}, seconds)
        return 0
    evaluation = os.path.join(run, "held_out_evaluation")
    evaluate = [os.path.join(os.path.dirname(sys.executable), "irodori-evaluate"), "--model", run,
                "--data", held_out, "--out", evaluation, "--overwrite"]
    if subprocess.run(evaluate, cwd=ROOT, stdout=subprocess.DEVNULL).returncode:
        return 1
    with open(os.path.join(evaluation, "metrics.json")) as f:
        report(args.label, json.load(f), seconds)
    if args.picture:
        comparison_picture(run, held_out, args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
