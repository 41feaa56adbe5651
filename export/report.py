"""Evaluation results as files: metrics.json, report.md, a comparison grid and loss curves."""

import csv
import io
import json
import math
import os

import numpy as np

from export.atomic import write_atomically
from export.pictures import contact_sheet, write_png

METRICS = ("psnr", "ssim", "ciede2000", "colorfulness")
HEADERS = {"psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "ciede2000": "CIEDE2000 ↓", "colorfulness": "colourfulness"}
SOURCE_NAMES = {"model": "model", "gray": "gray baseline (a*b* = 0)", "sketch": "sketch baseline (the line art)"}


def finite_or_none(value):
    """JSON has no inf/NaN: identical images (PSNR inf) are written as null."""
    value = float(value)
    return value if math.isfinite(value) else None


def summarize(per_source, truth_colorfulness):
    """Means per source and what the model gains over each baseline.

    per_source: {"model" | "gray" | "sketch": {metric: [N] array}}.
    """
    summary = {source: {name: finite_or_none(np.mean(values[name])) for name in METRICS}
               for source, values in per_source.items()}
    summary["truth"] = {"colorfulness": finite_or_none(np.mean(truth_colorfulness))}
    model = per_source["model"]
    gains = {}
    for baseline in (source for source in per_source if source != "model"):
        other = per_source[baseline]
        gains[baseline] = {
            "psnr_gain_db": finite_or_none(np.mean(model["psnr"]) - np.mean(other["psnr"])),
            "ssim_gain": finite_or_none(np.mean(model["ssim"]) - np.mean(other["ssim"])),
            "ciede2000_reduction": finite_or_none(np.mean(other["ciede2000"]) - np.mean(model["ciede2000"])),
            "images_closer_by_psnr": int(np.sum(model["psnr"] > other["psnr"])),
        }
    truth_mean = np.mean(truth_colorfulness)
    colorfulness_ratio = finite_or_none(np.mean(model["colorfulness"]) / truth_mean) if truth_mean > 0 else None
    return summary, gains, colorfulness_ratio


def ranked_examples(psnr):
    """Indices of the best, median and worst images by the model's PSNR."""
    order = np.argsort(-np.asarray(psnr), kind="stable")
    return {"best": int(order[0]), "median": int(order[len(order) // 2]), "worst": int(order[-1])}


def markdown(result):
    """The report as Markdown: a table of means, then the gains in words."""
    count, summary = result["images"], result["summary"]
    lines = [f"# Evaluation: {result['model']}", "",
             f"{count} images, task {result['task']}, at {result['image_size']} px; data {result['data']}.", "",
             "| | " + " | ".join(HEADERS[name] for name in METRICS) + " |",
             "|---" * (len(METRICS) + 1) + "|"]

    def cell(value, name):
        if value is None:
            return "inf" if name == "psnr" else "-"
        return f"{value:.3f}" if name == "ssim" else f"{value:.2f}"

    for source in (s for s in ("model", "gray", "sketch") if s in summary):
        lines.append(f"| {SOURCE_NAMES[source]} | "
                     + " | ".join(cell(summary[source][name], name) for name in METRICS) + " |")
    lines.append("| ground truth | - | - | - | " + cell(summary["truth"]["colorfulness"], "colorfulness") + " |")
    lines.append("")
    for baseline, gain in result["gains"].items():
        lines.append(
            f"Against the {SOURCE_NAMES[baseline]}: PSNR {_signed(gain['psnr_gain_db'], ' dB')}, "
            f"SSIM {_signed(gain['ssim_gain'], '', 3)}, CIEDE2000 {_signed(_negate(gain['ciede2000_reduction']), '')} "
            "(lower is better); "
            f"the model is closer to the truth on {gain['images_closer_by_psnr']} of {count} images.")
    if result["colorfulness_vs_truth"] is not None:
        lines.append(f"Colourfulness of the model's colours: {100 * result['colorfulness_vs_truth']:.0f}% of the "
                     "ground truth's (well under 100% is the sepia/gray collapse).")
    lines.append("")
    lines.append("Examples by the model's PSNR (comparison.png: input | model | truth):")
    for rank, index in result["examples"].items():
        image = result["per_image"][index]
        lines.append(f"- {rank}: {image['path']} ({cell(image['model']['psnr'], 'psnr')} dB)")
    if "hint_sweep" in result:
        lines += ["", *hint_sweep_markdown(result["hint_sweep"], result["image_size"])]
    return "\n".join(lines) + "\n"


def hint_sweep_markdown(sweep, crop_size):
    """The ideepcolor sweep's section of report.md (lines)."""
    def number(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["## Colour hints: the ideepcolor sweep", "",
             f"Every picture coloured at its own resolution (the table above is at the {crop_size} px validation "
             f"crop, so its numbers differ) with N hints from its ground truth: {sweep['patch']} x {sweep['patch']} "
             f"px patches at the network's {sweep['model_size']} px size, centres from a normal around the "
             "picture's centre (sd a quarter of the side), each the truth's mean colour over it, drawn with a "
             "seed from the file name: every model sees the same hints, and the first N of more hints are the N. "
             "Hints obeyed: the median CIEDE2000 between the output and the hint colour carrying the picture's "
             "own L*, over all hinted pixels (lower is better; the target is 5 or less).", "",
             "| hints | PSNR (dB) ↑ | SSIM ↑ | CIEDE2000 ↓ | hints obeyed (median CIEDE2000) ↓ | hinted pixels |",
             "|---|---|---|---|---|---|"]
    for row in sweep["rows"]:
        lines.append(f"| {row['hints']} | {number(row['psnr'])} | {number(row['ssim'], 3)} | "
                     f"{number(row['ciede2000'])} | {number(row['hints_obeyed'])} | {row['hinted_pixels']} |")
    by_count = {row["hints"]: row["psnr"] for row in sweep["rows"]}
    if by_count.get(0) is not None and by_count.get(10) is not None:
        lines += ["", f"From 0 to 10 hints: {_signed(by_count[10] - by_count[0], ' dB')} "
                  "(ideepcolor on ImageNet: +3.99 dB, 24.43 -> 28.42)."]
    lines += ["", "hint_curve.png: PSNR against hints."]
    return lines


def _negate(value):
    return None if value is None else -value


def _signed(value, unit, digits=2):
    return "n/a" if value is None else f"{value:+.{digits}f}{unit}"


def comparison_grid(rows):
    """rows: [(label, input, output, truth)] uint8 -> one picture, a row per example."""
    cells, labels = [], []
    for label, *pictures in rows:
        cells += pictures
        labels += [f"{label}: input", "model", "truth"]
    return contact_sheet(cells, labels, columns=3, min_cell=192)


def _number(text):
    """A history.csv cell as a float; empty or "NA" cells (CSVLogger's gap marker) are NaN."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def plot_history(history_path, out_path):
    """Loss curves from a run's history.csv, training and validation per loss; None if empty."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    with open(history_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    losses = [name for name in rows[0] if name != "epoch" and not name.startswith("val_")]
    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, axes = plt.subplots(1, len(losses), figsize=(4 * len(losses), 3.2), squeeze=False)
    for axis, name in zip(axes[0], losses):
        axis.plot(epochs, [_number(row[name]) for row in rows], label="training")
        if f"val_{name}" in rows[0]:
            axis.plot(epochs, [_number(row[f"val_{name}"]) for row in rows], label="validation")
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    encoded = io.BytesIO()
    figure.savefig(encoded, format="png", dpi=100)
    plt.close(figure)
    return write_atomically(out_path, encoded.getvalue())


# Everything write_report may write, so callers can check the folder before the work.
REPORT_FILES = ("metrics.json", "report.md", "comparison.png", "loss_curves.png", "hint_curve.png")


def write_report(out_dir, result, grid_rows, history_path=None):
    """Write metrics.json, report.md, comparison.png (+ loss_curves.png, + hint_curve.png with a hint
    sweep); returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    written["metrics"] = write_atomically(os.path.join(out_dir, "metrics.json"), json.dumps(result, indent=2))
    written["report"] = write_atomically(os.path.join(out_dir, "report.md"), markdown(result))
    written["comparison"] = write_png(os.path.join(out_dir, "comparison.png"), comparison_grid(grid_rows))
    if history_path and os.path.exists(history_path):
        plotted = plot_history(history_path, os.path.join(out_dir, "loss_curves.png"))
        if plotted:
            written["loss_curves"] = plotted
    curve = os.path.join(out_dir, "hint_curve.png")
    if "hint_sweep" in result:
        from export.hint_sweep import plot_hint_curve

        written["hint_curve"] = plot_hint_curve(result["hint_sweep"]["rows"], curve)
    elif os.path.exists(curve):  # an earlier sweep's curve would pass for this report's
        os.remove(curve)
    return written

