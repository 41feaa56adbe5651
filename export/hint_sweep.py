"""The ideepcolor sweep: how much do N colour hints from the ground truth help?

Zhang et al. 2017 ("Real-Time User-Guided Image Colorization with Learned Deep Priors",
figure 4) colour every validation picture with N hints taken from its own colours and plot
PSNR against N. Here a hint is a 6 x 6 patch in network pixels (6H/S x 6W/S picture pixels
for an H x W picture and a network of size S), its centre drawn from a normal around the
picture's centre (sd a quarter of the side, as the training simulation in pipeline.hints),
its colour the truth's mean over the patch. Each picture's hints come from a seed made from
its file name, so every model sees the same hints, and the first N of N + k hints are the N
hints: the curve measures more hints, not other hints.
"""

import hashlib
import os
from collections import namedtuple

import numpy as np

PATCH = 6  # network pixels a side, as ideepcolor's published sweep
# "Hints obeyed" is a median over every hinted pixel of every picture, which can be hundreds of
# millions of values: it is taken from a histogram of this resolution instead of the values.
OBEYED_BIN, OBEYED_MAX = 0.01, 200.0

Patch = namedtuple("Patch", "top left height width rgb")


def picture_seed(path):
    """A seed from the file's name (not its folder, not Python's per-process hash())."""
    return int.from_bytes(hashlib.sha256(os.path.basename(path).encode("utf-8")).digest()[:8], "little")


def hint_patches(rgb, count, model_size, seed):
    """uint8 RGB [H, W, 3] -> `count` Patches (top, left, height, width, uint8 RGB mean of rgb over it).

    Drawn one after another from one generator, so a larger count extends a smaller one.
    """
    from pipeline.hints import SPREAD  # (imports TensorFlow: not when the module is, for quick flag checks)

    rgb = np.asarray(rgb)
    height, width = rgb.shape[:2]
    side_h = int(min(height, max(1, round(PATCH * height / model_size))))
    side_w = int(min(width, max(1, round(PATCH * width / model_size))))
    rng = np.random.default_rng(seed)
    patches = []
    for _ in range(count):
        centre = np.floor(np.clip(rng.normal(0.5, SPREAD, 2), 0.0, 1.0) * [height - 1, width - 1]).astype(int)
        top = int(np.clip(centre[0] - (side_h - 1) // 2, 0, height - side_h))  # whole patches, inside
        left = int(np.clip(centre[1] - (side_w - 1) // 2, 0, width - side_w))
        mean = rgb[top:top + side_h, left:left + side_w].reshape(-1, 3).astype(np.float64).mean(axis=0)
        patches.append(Patch(top, left, side_h, side_w, tuple(int(c) for c in np.round(mean))))
    return patches


def paint_hints(patches, height, width):
    """Patches -> uint8 RGBA hint image [height, width, 4]; a later patch covers an earlier one."""
    hints = np.zeros((height, width, 4), np.uint8)
    for patch in patches:
        hints[patch.top:patch.top + patch.height, patch.left:patch.left + patch.width] = (*patch.rgb, 255)
    return hints


def truth_hints(rgb, count, model_size, seed):
    """uint8 RGB [H, W, 3] -> uint8 RGBA [H, W, 4]: `count` hints from the picture's own colours."""
    height, width = np.asarray(rgb).shape[:2]
    return paint_hints(hint_patches(rgb, count, model_size, seed), height, width)


def mark_hints(picture, patches):
    """uint8 RGB [H, W, 3] with each hint marked: a black, then a white square just outside the
    patch, and the hint colour in the patch's middle third (all of it when under 3 px), so the
    model's colour around it, inside the frame, can be compared with what was asked."""
    import cv2

    marked = np.ascontiguousarray(picture, dtype=np.uint8).copy()
    for top, left, height, width, _ in patches:
        bottom, right = top + height - 1, left + width - 1
        cv2.rectangle(marked, (left - 2, top - 2), (right + 2, bottom + 2), (255, 255, 255), 1)
        cv2.rectangle(marked, (left - 1, top - 1), (right + 1, bottom + 1), (0, 0, 0), 1)
    for patch in patches:
        inset_h, inset_w = patch.height // 3, patch.width // 3
        marked[patch.top + inset_h:patch.top + patch.height - inset_h,
               patch.left + inset_w:patch.left + patch.width - inset_w] = patch.rgb
    return marked


def parse_counts(text):
    """"0,1,2,5" -> [0, 1, 2, 5] (sorted, without repeats); ValueError (one line) otherwise."""
    counts = set()
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit():  # digits only: no signs, no fractions, no empty items
            raise ValueError(f"--hint-sweep takes hint counts as non-negative whole numbers separated by commas "
                             f"(e.g. 0,1,2,5,10,20,50,100); received {text!r}")
        counts.add(int(item))
    return sorted(counts)


def _picture(path, sketch_path=None):
    """(uint8 RGB truth [H, W, 3], float picture for evaluate.model_input: RGB, + the sketch when paired)."""
    import tensorflow as tf

    from pipeline.dataset import with_sketch
    from pipeline.decode import read_image

    truth = read_image(path, dtype=tf.uint8)
    image = tf.image.convert_image_dtype(truth, tf.float32)
    if sketch_path is not None:  # the artist's sketch, at the picture's size (as pipeline.dataset pairs them)
        image = with_sketch(image, sketch_path)
    return truth.numpy(), image


def obeyed_differences(output, truth, hints):
    """CIEDE2000 [M] at the M hinted pixels between the output and the hint colour carrying the
    truth's L* (the colour a hint asks for: its hue and chroma, the picture's own lightness)."""
    import tensorflow as tf

    from export import metrics
    from pipeline import color

    hinted = hints[..., 3] > 0
    if not hinted.any():
        return np.zeros([0], np.float32)
    as_lab = lambda rgb: color.rgb_to_lab(tf.constant(rgb, tf.float32) / 255.0)  # noqa: E731
    asked = as_lab(hints[hinted][:, :3])
    asked = tf.concat([as_lab(truth[hinted])[:, :1], asked[:, 1:]], axis=-1)
    return metrics.ciede2000(as_lab(output[hinted]), asked).numpy()


def sweep(colorizer, paths, counts, sketch_method="xdog", sketch_paths=None, model_size=None, progress=True):
    """Colour every picture at its own resolution with N truth hints for each N in counts.

    model_size: the network's size, which sets the patch size (default: colorizer.size).
    Returns one row per N: {"hints", "psnr", "ssim", "ciede2000" (means over pictures),
    "hints_obeyed" (median CIEDE2000 over hinted pixels, None without hints), "hinted_pixels"}.
    """
    import keras
    import tensorflow as tf

    from export import metrics
    from export.evaluate import model_input
    from export.report import finite_or_none

    model_size = model_size or colorizer.size
    bins = int(OBEYED_MAX / OBEYED_BIN)
    measured = {count: {"psnr": [], "ssim": [], "ciede2000": [], "obeyed": np.zeros(bins, np.int64)}
                for count in counts}
    bar = keras.utils.Progbar(len(paths), unit_name="image", verbose=1 if progress else 0)
    for index, path in enumerate(paths):
        truth, image = _picture(path, sketch_paths[index] if sketch_paths else None)
        inputs, truth_float = model_input(image, colorizer.task, sketch_method, paired=bool(sketch_paths))
        height, width = truth.shape[:2]
        patches = hint_patches(truth, max(counts), model_size, picture_seed(path))
        for count in counts:
            hints = paint_hints(patches[:count], height, width)
            output = colorizer(inputs[None], hints=hints[None])[0, 0]  # uint8 [H, W, 3], the first colouring
            values = metrics.all_metrics(tf.constant(output[None], tf.float32) / 255.0, truth_float[None])
            for name in ("psnr", "ssim", "ciede2000"):
                measured[count][name].append(float(values[name][0]))
            differences = obeyed_differences(output, truth, hints)
            measured[count]["obeyed"] += np.bincount(
                np.minimum(differences / OBEYED_BIN, bins - 1).astype(np.int64), minlength=bins)
        bar.add(1)
    rows = []
    for count in counts:
        histogram = measured[count]["obeyed"]
        total = int(histogram.sum())
        median = None
        if total:
            median = (int(np.searchsorted(np.cumsum(histogram), total / 2.0)) + 0.5) * OBEYED_BIN
        rows.append({"hints": count, **{name: finite_or_none(np.mean(measured[count][name]))
                                        for name in ("psnr", "ssim", "ciede2000")},
                     "hints_obeyed": None if median is None else round(median, 3), "hinted_pixels": total})
    return rows


def plot_hint_curve(rows, out_path):
    """hint_curve.png: mean PSNR against hints per picture, on a symlog axis (linear from 0 to 1,
    logarithmic above), so 0 hints is drawn where it is rather than left off a log axis."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    from export.atomic import write_atomically

    points = [(row["hints"], row["psnr"]) for row in rows if row["psnr"] is not None]
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    if points:
        counts, psnr = zip(*points)
        axis.plot(counts, psnr, marker="o")
        for count, value in points:
            axis.annotate(f"{value:.2f}", (count, value), textcoords="offset points", xytext=(0, 6),
                          ha="center", fontsize=7)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xticks(counts)
        axis.set_xticklabels([str(count) for count in counts])
        axis.minorticks_off()
    axis.set_xlabel(f"hints per picture ({PATCH}x{PATCH} network px each; axis linear 0-1, log above)")
    axis.set_ylabel("PSNR (dB)")
    axis.set_title("Colourisation with hints from the ground truth")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    encoded = io.BytesIO()
    figure.savefig(encoded, format="png", dpi=100)
    plt.close(figure)
    return write_atomically(out_path, encoded.getvalue())
