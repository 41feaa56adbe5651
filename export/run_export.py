"""Export everything a trained run needs for deployment; `irodori-export RUN_DIR`.

<run>/export/irodori/<version>/     SavedModel for TF Serving (a new version each time)
<run>/export/models.config           TF Serving model config
<run>/export/tflite/model_fp32.tflite, model_fp16.tflite (+ model_dynamic / model_int8)
<run>/colorized_sample.png           gray input | colourised by the exported SavedModel | original
                                     (sketch models: sketch, every colouring, original as a sheet;
                                     models trained with hints add the colouring with 5 hints)
"""

import argparse
import io
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from export.atomic import write_atomically  # noqa: E402

EXTRA_QUANTIZATIONS = ("dynamic", "int8")
SAMPLE_NAME = "colorized_sample.png"
SAMPLE_HINTS = 5  # hints from the original in the sample of a model trained with hints


def representative_conditions(config, run_dir, count=32):
    """Network inputs from the run's own data and validation transform, for int8 calibration."""
    import dataclasses

    from pipeline.dataset import build_dataset, lab_example, sketch_example
    from pipeline.decode import find_decodable, list_image_files

    # Bad files were reported when the run trained; skip them quietly here.
    paths, _ = find_decodable(list_image_files(config.data_source(run_dir))[: count * 2], log=io.StringIO())
    paths = paths[:count]
    make_example = (sketch_example(config.data.sketch_method or "xdog") if config.data.task == "sketch"
                    else lab_example)
    dataset = build_dataset(paths, dataclasses.replace(config.pipeline, batch_size=1), training=False,
                            make_example=make_example)
    if not config.data.hints:
        return [condition.numpy() for condition, _ in dataset]
    from pipeline.hints import with_simulated_hints

    # Hints as training draws them (about half the pictures get none): the hint channels' range is
    # calibrated too, and the TFLite comparisons see hinted inputs.
    return [with_simulated_hints(condition[0], target[0], [config.pipeline.seed, index],
                                 strokes=config.data.task == "sketch")[None].numpy()
            for index, (condition, target) in enumerate(dataset)]


def write_sample(saved_model_dir, image_path, out_path, task="gray"):
    """Colour one picture at its full resolution with the reloaded SavedModel.

    The input is the picture's gray version (gray task) or its XDoG line art (sketch task).
    A model trained with hints also colours it with SAMPLE_HINTS hints from the original (the
    evaluation sweep's, export.hint_sweep, at the trained size), marked where they are:
    input | automatic | with 5 hints | original; sketches get a "5 hints" cell (first colouring).
    """
    import cv2
    import numpy as np
    import tensorflow as tf

    from export.hint_sweep import hint_patches, mark_hints, paint_hints, picture_seed
    from export.pictures import contact_sheet, write_png
    from pipeline import sketch
    from pipeline.color import to_uint8
    from pipeline.decode import read_image

    original = read_image(image_path, dtype=tf.uint8).numpy()  # every format, upright, as colorize reads it
    if task == "sketch":
        gray = to_uint8(sketch.extract(tf.constant(original, tf.float32) / 255.0, "xdog")).numpy()
    else:
        gray = cv2.cvtColor(original, cv2.COLOR_RGB2GRAY)[..., None]
    loaded = tf.saved_model.load(saved_model_dir)
    signatures, hinted = loaded.signatures, "colorize_hinted" in loaded.signatures
    if hinted:
        patches = hint_patches(original, SAMPLE_HINTS, int(loaded.trained_size.numpy()), picture_seed(image_path))
        hinted_inputs = {"images": tf.constant(gray[None]), "saturation": tf.constant(1.0),
                         "hints": tf.constant(paint_hints(patches, *original.shape[:2])[None])}
    if "colorize_all" in signatures:  # sketch model: every colouring, numbered as irodori-colorize --pick
        colorings = signatures["colorize_all"](images=tf.constant(gray[None]),
                                               saturation=tf.constant(1.0))["colorings"].numpy()[0]
        cells, labels = [gray, *colorings], ["sketch", *map(str, range(1, len(colorings) + 1))]
        if hinted:
            first = signatures["colorize_all_hinted"](**hinted_inputs)["colorings"].numpy()[0, 0]
            cells, labels = [*cells, mark_hints(first, patches)], [*labels, f"{SAMPLE_HINTS} hints"]
        return write_png(out_path, contact_sheet([*cells, original], [*labels, "original"]))
    automatic = signatures["serving_default"](images=tf.constant(gray[None]))["colorized"].numpy()[0]
    panels = [np.repeat(gray, 3, axis=-1), automatic]
    if hinted:
        panels.append(mark_hints(signatures["colorize_hinted"](**hinted_inputs)["colorized"].numpy()[0], patches))
    return write_png(out_path, np.concatenate([*panels, original], axis=1))


def export_run(run_dir, generator=None, quantize=(), sample_image=None, log=print):
    """Export a run's generator (loaded from generator.keras unless given); returns paths."""
    import keras

    from export import tflite
    from export.saved_model import export_saved_model
    import model.sgru  # noqa: F401  (registers the generator classes for loading)
    import model.unet  # noqa: F401
    from model.run_config import RunConfig

    config = RunConfig.load(run_dir)
    if generator is None:
        generator = keras.models.load_model(os.path.join(run_dir, "generator.keras"))
    size = config.model.image_size
    export_dir = os.path.join(run_dir, "export")
    task = config.data.task
    saved_model_dir = export_saved_model(generator, export_dir, size, task=task)
    log(f"SavedModel written to {saved_model_dir}")
    written = {"saved_model": saved_model_dir}
    conditions = representative_conditions(config, run_dir)
    models, report = {}, {}
    for quantization in ("none", "fp16", *quantize):
        inputs = conditions if quantization == "int8" else None
        models[quantization] = tflite.convert(generator, size, quantization, representative_inputs=inputs)
        name = "fp32" if quantization == "none" else quantization
        path = os.path.join(export_dir, "tflite", f"model_{name}.tflite")
        write_atomically(path, models[quantization])
        # fp32 is the reference itself: nothing to compare.
        psnr = float("inf") if quantization == "none" else tflite.psnr_against(
            models["none"], models[quantization], conditions[:8])
        report[name] = {"path": path, "bytes": len(models[quantization]),
                        "size_vs_fp32": len(models[quantization]) / len(models["none"]),
                        "psnr_vs_fp32_db": None if psnr == float("inf") else round(psnr, 2)}
        log(f"TFLite {name} written to {path} ({len(models[quantization]) / 2**20:.1f} MiB"
            + ("" if quantization == "none" else f", {report[name]['size_vs_fp32']:.2f}x fp32, "
               f"PSNR {psnr:.1f} dB against fp32 on {len(conditions[:8])} images") + ")")
        written[name] = path
    write_atomically(os.path.join(export_dir, "tflite", "report.json"), json.dumps(report, indent=2).encode())
    if sample_image:
        written["sample"] = write_sample(saved_model_dir, sample_image, os.path.join(run_dir, SAMPLE_NAME), task)
        log(f"colourised sample written to {written['sample']}")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="irodori-export",
        description="Export a training run's generator again: a new SavedModel version for TF "
        "Serving and TFLite models (fp32, fp16, optionally dynamic-range or int8).")
    parser.add_argument("run_dir", help="a run directory written by irodori-train")
    parser.add_argument("--quantize", action="append", choices=EXTRA_QUANTIZATIONS, default=[],
                        help="also write this TFLite variant (repeatable); int8 calibrates on the run's data")
    parser.add_argument("--sample", help="an image to colour as colorized_sample.png")
    args = parser.parse_args(argv)
    from model.run_config import CONFIG_NAME

    for name in (CONFIG_NAME, "generator.keras"):
        if not os.path.exists(os.path.join(args.run_dir, name)):
            print(f"irodori-export: error: {args.run_dir} has no {name}; is it a finished training run?",
                  file=sys.stderr)
            return 2
    from export.outputs import InputWouldBeOverwritten, refuse_inputs
    from export.run_lock import RunDirectoryBusy, RunLock

    try:
        if args.sample:
            refuse_inputs([os.path.join(args.run_dir, SAMPLE_NAME)], [args.sample])
        with RunLock(args.run_dir, "irodori-export", hint="wait for it to finish"):  # not while it trains or exports
            export_run(args.run_dir, quantize=args.quantize, sample_image=args.sample)
    except (InputWouldBeOverwritten, RunDirectoryBusy) as error:
        print(f"irodori-export: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
