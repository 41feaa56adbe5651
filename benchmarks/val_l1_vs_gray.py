"""Validation a*b* L1 of a run's generator against the gray baseline (a*b* = 0).

    python benchmarks/val_l1_vs_gray.py runs/demo
"""

import dataclasses
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import model.unet  # noqa: E402,F401  (registers the generator class)
from export.colorize_graph import with_zero_hints  # noqa: E402
from export.evaluate import run_validation_inputs  # noqa: E402
from pipeline.dataset import build_dataset  # noqa: E402


def main(run_dir):
    config, val_paths, _ = run_validation_inputs(run_dir)
    generator = keras.models.load_model(os.path.join(run_dir, "generator.keras"))
    dataset = build_dataset(val_paths, dataclasses.replace(config.pipeline, batch_size=16), training=False)
    model_errors, gray_errors, counts = [], [], []
    for lightness, ab in dataset:
        # A hinted generator colours automatically with its hint channels at zero, as in validation.
        condition = with_zero_hints(lightness, generator.input_shape[-1])
        model_errors.append(float(np.abs(generator(condition, training=False).numpy() - ab).mean()))
        gray_errors.append(float(np.abs(ab.numpy()).mean()))
        counts.append(int(lightness.shape[0]))
    model_l1 = np.average(model_errors, weights=counts)
    gray_l1 = np.average(gray_errors, weights=counts)
    print(f"{len(val_paths)} validation images: generator L1 {model_l1:.3f}, gray baseline L1 {gray_l1:.3f}, "
          f"ratio {model_l1 / gray_l1:.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
