"""Export everything a trained run needs for deployment; `irodori-export RUN_DIR`.

<run>/export/irodori/<version>/     SavedModel for TF Serving (a new version each time)
<run>/export/models.config           TF Serving model config
<run>/export/tflite/model_fp32.tflite, model_fp16.tflite (+ model_dynamic / model_int8)
<run>/colorized_sample.png           gray input | colourised by the exported SavedModel | original
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXTRA_QUANTIZATIONS = ("dynamic", "int8")


def _write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def representative_conditions(config, count=32):
    """Network inputs from the run's own data and validation transform, for int8 calibration."""
    from pipeline.config import PipelineConfig
    from pipeline.dataset import build_dataset
    from pipeline.decode import list_image_files

    source = config["data"]["data"] or os.path.join(config["run_dir"], "synthetic_data")
    pipeline_cfg = PipelineConfig(**{**config["pipeline"], "batch_size": 1})
    paths = list_image_files(source)[:count]
    return [condition.numpy() for condition, _ in build_dataset(paths, pipeline_cfg, training=False)]


def write_sample(saved_model_dir, image_path, out_path):
    """Colour one picture at its full resolution with the reloaded SavedModel."""
    import cv2
    import numpy as np
    import tensorflow as tf

    original = cv2.cvtColor(cv2.imread(image_path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    gray = cv2.cvtColor(original, cv2.COLOR_RGB2GRAY)[..., None]
    serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    colored = serve(images=tf.constant(gray[None]))["colorized"].numpy()[0]
    row = np.concatenate([np.repeat(gray, 3, axis=-1), colored, original], axis=1)
    cv2.imwrite(out_path, cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    return out_path


def export_run(run_dir, generator=None, quantize=(), sample_image=None, log=print):
    """Export a run's generator (loaded from generator.keras unless given); returns paths."""
    import keras

    from export import tflite
    from export.saved_model import export_saved_model
    import model.unet  # noqa: F401  (registers UNetGenerator for loading)

    with open(os.path.join(run_dir, "config.json")) as f:
        config = {**json.load(f), "run_dir": run_dir}
    if generator is None:
        generator = keras.models.load_model(os.path.join(run_dir, "generator.keras"))
    size = config["model"]["image_size"]
    export_dir = os.path.join(run_dir, "export")
    saved_model_dir = export_saved_model(generator, export_dir, size)
    log(f"SavedModel written to {saved_model_dir}")
    written = {"saved_model": saved_model_dir}
    for quantization in ("none", "fp16", *quantize):
        inputs = representative_conditions(config) if quantization == "int8" else None
        data = tflite.convert(generator, size, quantization, representative_inputs=inputs)
        name = "fp32" if quantization == "none" else quantization
        path = os.path.join(export_dir, "tflite", f"model_{name}.tflite")
        _write_bytes(path, data)
        log(f"TFLite {name} written to {path} ({len(data) / 2**20:.1f} MiB)")
        written[name] = path
    if sample_image:
        written["sample"] = write_sample(saved_model_dir, sample_image, os.path.join(run_dir, "colorized_sample.png"))
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
    for name in ("config.json", "generator.keras"):
        if not os.path.exists(os.path.join(args.run_dir, name)):
            print(f"irodori-export: error: {args.run_dir} has no {name}; is it a finished training run?",
                  file=sys.stderr)
            return 2
    export_run(args.run_dir, quantize=args.quantize, sample_image=args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
