"""TFLite sizes and colour quality against the ground truth, per quantization, for a trained run.

    python benchmarks/tflite_quality.py [RUN_DIR]      (default runs/demo)

Converts the run's generator.keras to fp32, fp16, dynamic-range and full int8 (calibrated
on the run's own pictures, as irodori-export does), runs each through irodori-evaluate's
code on the run's validation split, and prints size vs fp32 and PSNR / SSIM / CIEDE2000
against the original colours, with each model's PSNR loss relative to fp32. Nothing is
written into the run.
"""

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(run_dir):
    from export import tflite
    from export.colorizer import Colorizer
    from export.evaluate import evaluate_to, run_validation_inputs
    from export.run_export import representative_conditions

    config, val_paths, sketch_paths = run_validation_inputs(run_dir)
    generator = Colorizer(os.path.join(run_dir, "generator.keras")).generator
    size = config.model.image_size
    calibration = representative_conditions(config, run_dir)
    print(f"{run_dir}: {len(val_paths)} validation images at {size} px; int8 calibrated on {len(calibration)}")
    print(f"{'model':<8} {'MiB':>6} {'vs fp32':>8} {'PSNR dB':>8} {'vs fp32 dB':>11} {'SSIM':>6} {'CIEDE2000':>10}")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, quantization in (("fp32", "none"), ("fp16", "fp16"), ("dynamic", "dynamic"), ("int8", "int8")):
            data = tflite.convert(generator, size, quantization,
                                  representative_inputs=calibration if quantization == "int8" else None)
            path = os.path.join(workdir, f"{name}.tflite")
            with open(path, "wb") as f:
                f.write(data)
            result, _ = evaluate_to(os.path.join(workdir, name), Colorizer(path), val_paths, "validation split",
                                    name, sketch_method=config.data.sketch_method or "xdog",
                                    sketch_paths=sketch_paths, progress=False, log=lambda *_: None)
            summary = result["summary"]["model"]
            results[name] = {"bytes": len(data), **summary}
            base = results["fp32"]
            print(f"{name:<8} {len(data) / 2**20:6.1f} {len(data) / base['bytes']:8.3f} {summary['psnr']:8.2f} "
                  f"{summary['psnr'] - base['psnr']:+11.2f} {summary['ssim']:6.3f} {summary['ciede2000']:10.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("runs", "demo"))
