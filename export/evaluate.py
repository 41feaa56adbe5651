"""`irodori-evaluate`: how good is a model, and does it beat doing nothing?

Runs a model (SavedModel, .tflite, .keras or a training run directory) over colour images
prepared by the training pipeline's validation transform, and measures its colours and two
baselines (the gray picture itself; for sketches, the line art) against the originals.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def evaluation_dataset(paths, image_size, task, sketch_method="xdog", sketch_paths=None, batch_size=16):
    """(model input, truth) batches, float RGB [B, S, S, 3] in [0, 1], in file order.

    Gray task: the input is the truth with a*b* = 0 (its own lightness). Sketch task: the
    line art the validation split uses (or the artist's own, with sketch_paths).
    """
    from pipeline.config import PipelineConfig
    from pipeline.dataset import build_dataset

    def make(image, seed=None):
        return model_input(image, task, sketch_method, paired=sketch_paths is not None)

    cfg = PipelineConfig(image_size=image_size, batch_size=batch_size, val_fraction=0.0)
    return build_dataset(paths, cfg, training=False, make_example=make, sketch_paths=sketch_paths)


def model_input(image, task, sketch_method="xdog", paired=False):
    """One colour picture, float RGB [H, W, 3] in [0, 1] (paired: RGB + the artist's sketch,
    [H, W, 4]) -> (model input, truth), float RGB [H, W, 3] in [0, 1].

    Gray task: the truth with a*b* = 0 (its own lightness). Sketch task: the artist's sketch,
    else the line art the validation split uses (sketch_method without jitter).
    """
    import tensorflow as tf

    from pipeline import color
    from pipeline.dataset import sketch_example

    if paired:
        rgb, lines = image[..., :3], image[..., 3:]
    elif task == "sketch":
        rgb, lines = image, (sketch_example(sketch_method or "xdog")(image)[0] + 1.0) * 0.5
    else:
        gray = color.model_lab_to_rgb(color.rgb_to_model_lab(image)[0], tf.zeros_like(image[..., :2]))
        return tf.clip_by_value(gray, 0.0, 1.0), image
    return tf.tile(lines, [1, 1, 3]), rgb


def evaluate(colorizer, paths, task, image_size, sketch_method="xdog", sketch_paths=None, batch_size=16,
             progress=True):
    """Per-image metrics of the model and the baselines, plus the inputs needed for the grid.

    Returns ({source: {metric: [N]}}, truth colourfulness [N]).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from export import metrics

    dataset = evaluation_dataset(paths, image_size, task, sketch_method, sketch_paths, batch_size)
    sources = ("model", "gray", "sketch") if task == "sketch" else ("model", "gray")
    collected = {source: {name: [] for name in ("psnr", "ssim", "ciede2000", "colorfulness")} for source in sources}
    truth_colorfulness = []
    bar = keras.utils.Progbar(len(paths), unit_name="image", verbose=1 if progress else 0)
    for inputs, truth in dataset:
        outputs = {"model": tf.cast(colorizer(inputs)[:, 0], tf.float32) / 255.0}
        # The gray baseline keeps the truth's lightness; for the gray task that is the input.
        outputs["gray"] = tf.clip_by_value(tf.tile(tf.image.rgb_to_grayscale(truth), [1, 1, 1, 3]), 0.0, 1.0) \
            if task == "sketch" else inputs
        if task == "sketch":
            outputs["sketch"] = inputs
        for source in sources:
            for name, values in metrics.all_metrics(outputs[source], truth).items():
                collected[source][name].append(values)
        truth_colorfulness.append(metrics.colorfulness(truth).numpy())
        bar.add(int(truth.shape[0]))
    per_source = {source: {name: np.concatenate(values) for name, values in by_name.items()}
                  for source, by_name in collected.items()}
    return per_source, np.concatenate(truth_colorfulness)


def grid_rows(colorizer, paths, indices, task, image_size, sketch_method="xdog", sketch_paths=None):
    """(label, input, output, truth) uint8 for the chosen images, recomputed (cheap, 3 images)."""
    chosen = [paths[index] for index in indices.values()]
    partners = [sketch_paths[index] for index in indices.values()] if sketch_paths else None
    inputs, truth = next(iter(evaluation_dataset(chosen, image_size, task, sketch_method, partners,
                                                 batch_size=len(chosen))))
    from pipeline.color import to_uint8

    outputs = colorizer(inputs)[:, 0]
    inputs, truth = to_uint8(inputs).numpy(), to_uint8(truth).numpy()
    return [(rank, inputs[i], outputs[i], truth[i]) for i, rank in enumerate(indices)]


def evaluate_to(out_dir, colorizer, paths, data_label, model_label, image_size=None, sketch_method="xdog",
                sketch_paths=None, history_path=None, batch_size=16, progress=True, log=print, hint_counts=None):
    """Evaluate and write metrics.json, report.md, comparison.png (+ loss_curves.png).

    image_size: the side images are cropped to (the validation transform); by default the
    model's trained size. hint_counts: also run the ideepcolor sweep (export.hint_sweep) with
    these numbers of hints, into metrics.json, report.md and hint_curve.png (hinted models only).
    Returns (result dict as in metrics.json, written paths).
    """
    task, image_size = colorizer.task, image_size or colorizer.size
    from export.report import METRICS, finite_or_none, ranked_examples, summarize, write_report

    per_source, truth_colorfulness = evaluate(colorizer, paths, task, image_size, sketch_method, sketch_paths,
                                              batch_size, progress)
    summary, gains, colorfulness_ratio = summarize(per_source, truth_colorfulness)
    examples = ranked_examples(per_source["model"]["psnr"])
    per_image = [{"path": path, **{source: {name: finite_or_none(values[name][index]) for name in METRICS}
                                   for source, values in per_source.items()},
                  "truth_colorfulness": float(truth_colorfulness[index])}
                 for index, path in enumerate(paths)]
    result = {"model": model_label, "data": data_label, "task": task, "image_size": image_size,
              "images": len(paths), "summary": summary, "gains": gains,
              "colorfulness_vs_truth": colorfulness_ratio, "examples": examples, "per_image": per_image}
    if hint_counts:
        from export import hint_sweep

        log(f"hint sweep: {len(paths)} images with {', '.join(map(str, hint_counts))} hints")
        model_size = colorizer.size or image_size
        result["hint_sweep"] = {
            "patch": hint_sweep.PATCH, "model_size": model_size, "resolution": "each picture's own",
            "seed": "sha256 of the file name", "rows": hint_sweep.sweep(
                colorizer, paths, hint_counts, sketch_method, sketch_paths, model_size, progress)}
    rows = grid_rows(colorizer, paths, examples, task, image_size, sketch_method, sketch_paths)
    written = write_report(out_dir, result, rows, history_path)
    model_psnr = summary["model"]["psnr"]
    gray_gain = gains["gray"]["psnr_gain_db"]
    log(f"evaluated {len(paths)} images: PSNR {model_psnr if model_psnr is None else round(model_psnr, 2)} dB "
        f"({'n/a' if gray_gain is None else f'{gray_gain:+.2f}'} dB against gray), SSIM "
        f"{summary['model']['ssim']:.3f}, CIEDE2000 {summary['model']['ciede2000']:.2f}; report in {written['report']}")
    for row in result.get("hint_sweep", {}).get("rows", []):
        psnr, obeyed = row["psnr"], row["hints_obeyed"]
        log(f"  {row['hints']:>4} hints: PSNR {'inf' if psnr is None else f'{psnr:.2f}'} dB, hints obeyed "
            f"{'-' if obeyed is None else f'{obeyed:.2f}'} (median CIEDE2000)")
    return result, written


def run_validation_inputs(run_dir, log=None):
    """A training run's config, validation files and their sketches (None unless it trained on pairs).

    The split hashes each file's own path, so it is made on the listed files and only the
    validation ones are decoded to drop bad files: a tenth of the work of checking them all.
    """
    import io

    from model.run_config import RunConfig
    from pipeline.dataset import pair_by_name, split_train_val
    from pipeline.decode import find_decodable, list_image_files

    config = RunConfig.load(run_dir)
    source = config.data_source(run_dir)
    paths = list_image_files(source)
    partner = None
    if config.data.sketches:  # the run paired these by name (and warned about the rest)
        paths, sketches = pair_by_name(paths, list_image_files(config.data.sketches), log=io.StringIO())
        partner = dict(zip(paths, sketches))
    _, val_paths = split_train_val(paths, config.pipeline.val_fraction,
                                   root=source if os.path.isdir(source) else None)
    val_paths, _ = find_decodable(val_paths, log=log)
    if partner:
        good_sketches = set(find_decodable([partner[p] for p in val_paths], log=log)[0])
        val_paths = [p for p in val_paths if partner[p] in good_sketches]
    if not val_paths:
        raise ValueError(f"{run_dir} has no validation images; evaluate it on a folder with --data")
    return config, val_paths, [partner[p] for p in val_paths] if partner else None


def check_report_folder(out, inputs, overwrite):
    """Refuse (ValueError, one line) a report that would replace an input, or an old report unasked."""
    from export.outputs import refuse_inputs
    from export.report import REPORT_FILES

    outputs = [os.path.join(out, name) for name in REPORT_FILES]
    refuse_inputs(outputs, inputs)
    existing = [os.path.basename(path) for path in outputs if os.path.exists(path)]
    if existing and not overwrite:
        raise ValueError(f"{out} already holds a report ({', '.join(existing)}); pass --overwrite to replace it "
                         "or choose another --out")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="irodori-evaluate",
        description="Measure a model against the original colours: PSNR and SSIM on RGB, mean CIEDE2000 "
        "colour difference and Hasler-Suesstrunk colourfulness, per image and in total, for the model and "
        "for doing nothing (the gray picture; for sketches also the line art). Writes metrics.json, "
        "report.md, comparison.png (best, median and worst images) and, for a run directory, "
        "loss_curves.png.")
    parser.add_argument("--model", required=True,
                        help="a training run directory (its generator, on its validation split unless --data "
                        "is given), a SavedModel, a .tflite or a .keras file")
    parser.add_argument("--data", help="a folder, file or glob of colour images (inputs are made from them)")
    parser.add_argument("--task", choices=("gray", "sketch"), help="checked against the model, which knows its task")
    parser.add_argument("--sketch-method", choices=("xdog", "morph"), default=None,
                        help="line art for the sketch task (default: the run's validation method, or xdog)")
    parser.add_argument("--image-size", type=int,
                        help="crop the pictures to this size (default: the model's trained size; needed for "
                        "SavedModels exported without it)")
    parser.add_argument("--limit", type=int, help="evaluate at most this many images (in file order)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hint-sweep", metavar="COUNTS",
                        help="models trained with hints: also colour every picture with each of these numbers of "
                        "hints from its ground truth (e.g. 0,1,2,5,10,20,50,100; ideepcolor's sweep) and report "
                        "PSNR, SSIM, CIEDE2000 and how well the hints are obeyed per number, with hint_curve.png")
    parser.add_argument("--out", help="report folder (default: <run>/evaluation, else ./evaluation)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a report already in --out (default: refuse and keep it; a run's own "
                        "<run>/evaluation is always rewritten, as training rewrites it)")
    return parser


def main(argv=None):
    from export.run_lock import RunDirectoryBusy

    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError, RunDirectoryBusy) as error:
        print(f"irodori-evaluate: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"irodori-evaluate: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2


def run(args):
    if not os.path.exists(args.model):
        raise FileNotFoundError(f"model not found: {args.model}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1; received {args.limit}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1; received {args.batch_size}")
    from export.hint_sweep import parse_counts

    hint_counts = parse_counts(args.hint_sweep) if args.hint_sweep is not None else None
    from model.run_config import CONFIG_NAME

    is_run = os.path.exists(os.path.join(args.model, CONFIG_NAME))
    if not is_run and not args.data:
        raise ValueError("--data is needed to evaluate an exported model (or pass a training run directory)")

    from contextlib import nullcontext

    from export.colorizer import Colorizer
    from export.run_lock import RunLock
    from pipeline.decode import find_decodable, list_image_files

    sketch_method, history_path, data_label, sketch_paths = args.sketch_method, None, args.data, None
    if is_run:
        from model.run_config import RunConfig

        # --data replaces the run's validation split (a run trained with --val-fraction 0 has none).
        config, paths, sketch_paths = (RunConfig.load(args.model), None, None) if args.data else \
            run_validation_inputs(args.model)
        sketch_method = sketch_method or config.data.sketch_method
        history_path = os.path.join(args.model, "history.csv")
        colorizer = Colorizer(os.path.join(args.model, "generator.keras"))
        data_label = data_label or f"validation split of {config.data.data or 'the demo data'}"
    else:
        colorizer = Colorizer(args.model)
    if args.data:
        sketch_paths = None  # a plain folder of colour images: sketches are extracted
        paths, _ = find_decodable(list_image_files(args.data))
        if not paths:
            raise ValueError(f"no decodable images in {args.data}")
    if args.task and args.task != colorizer.task:
        raise ValueError(f"the model colours {'sketches' if colorizer.task == 'sketch' else 'grayscale images'}, "
                         f"not --task {args.task}")
    if args.image_size is not None and args.image_size < 11:
        raise ValueError(f"--image-size must be at least 11 (SSIM's window); received {args.image_size}")
    if hint_counts is not None and not colorizer.hinted:
        raise ValueError(f"{args.model} was trained without hints (--no-hints), so --hint-sweep has nothing to "
                         "measure; evaluate it without --hint-sweep")
    if colorizer.size is None and not args.image_size:
        raise ValueError("this SavedModel does not record its trained size; pass --image-size")
    paths = paths[: args.limit] if args.limit else paths
    # A run's own <run>/evaluation is Irodori's output, which training rewrites each time too:
    # evaluating the run again replaces it (under the run's lock). Any other folder is the user's.
    own_report = is_run and args.out is None
    out = args.out or (os.path.join(args.model, "evaluation") if is_run else "evaluation")
    check_report_folder(out, inputs=[*paths, *(sketch_paths or []), args.model],
                        overwrite=args.overwrite or own_report)
    with RunLock(args.model, "irodori-evaluate", hint="wait for it to finish") if own_report else nullcontext():
        os.makedirs(out, exist_ok=True)
        evaluate_to(out, colorizer, paths, data_label, args.model, args.image_size, sketch_method or "xdog",
                    sketch_paths, history_path, args.batch_size, progress=sys.stdout.isatty(), hint_counts=hint_counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
