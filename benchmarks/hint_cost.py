"""What training with hints costs, side by side in one run (issue 12's target: <= 1.05x).

    python benchmarks/hint_cost.py [--count 16] [--steps 4] [--repeats 4] [--ngf 64] [--batch 8] [--pipeline-only]

On real-sized pictures (pipeline_throughput's, 1000-2500 px, written once to benchmarks/.data/),
at 256 px with --cache (decoded once, so the per-example work is what is compared):
  pipeline   examples/s of the training stream with and without simulated hints
  step       seconds per pix2pix training step (train_step under tf.function) on a batch of that
             stream held in memory: the condition is L* alone (--no-hints) or L* + hint a*b* +
             mask (--hints); the first convolutions of the generator and the discriminator see
             3 more channels
Variants alternate within each repeat (the step in A B, B A order); medians are shown with the
ratio hints / no hints.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from benchmarks.pipeline_throughput import DATA_DIR, LOAD_SIZE, SIZE, real_sized_images  # noqa: E402

VARIANTS = ("no hints", "hints")


def stream(paths, hints, batch):
    from pipeline.config import PipelineConfig
    from pipeline.dataset import build_dataset, lab_example
    from pipeline.hints import hinted_example

    cfg = PipelineConfig(image_size=SIZE, load_size=LOAD_SIZE, batch_size=batch, val_fraction=0.0, cache=True)
    return build_dataset(paths, cfg, training=True, make_example=hinted_example(lab_example) if hints else lab_example)


def pipeline_rates(paths, batch, repeats):
    """Examples/s of each stream once its cache is filled. One stream exists at a time: an idle
    iterator would keep prefetching in the background and flatter its next timing."""
    per_pass = max(1, len(paths) // batch)
    rates = {name: [] for name in VARIANTS}
    for _ in range(repeats):
        for name in VARIANTS:
            batches = iter(stream(paths, name == "hints", batch))
            for _ in range(per_pass + 1):  # the first pass decodes and fills the cache
                next(batches)
            start = time.perf_counter()
            for _ in range(3 * per_pass):
                next(batches)
            rates[name].append(3 * per_pass * batch / (time.perf_counter() - start))
            del batches
    return {name: float(np.median(values)) for name, values in rates.items()}


def step_times(paths, batch, steps, repeats, ngf):
    """Seconds per training step for each variant on one batch of its own stream held in memory
    (the pipeline is timed above), its model built and traced before any timing. The order of the
    variants alternates between repeats (A B, B A, ...): whichever ran first was measured slower."""
    import keras
    import tensorflow as tf

    from model.build import build_training
    from model.config import ModelConfig

    steps_of, batches = {}, {}
    for name in VARIANTS:
        keras.utils.set_random_seed(0)
        config = ModelConfig(image_size=SIZE, ngf=ngf, ndf=ngf)
        _, _, trainer, g_optimizer, d_optimizer = build_training(
            config, 2e-4, 2e-4, 0.5, 0.999, target_channels=2, condition_channels=4 if name == "hints" else 1)
        trainer.compile(g_optimizer, d_optimizer)
        batches[name] = next(iter(stream(paths, name == "hints", batch)))
        steps_of[name] = tf.function(trainer.train_step)
        for _ in range(2):  # trace, then one warm step
            float(steps_of[name](batches[name])["g_total"])
    times = {name: [] for name in VARIANTS}
    for repeat in range(repeats):
        for name in (VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]):
            start = time.perf_counter()
            for _ in range(steps):
                losses = steps_of[name](batches[name])
            float(losses["g_total"])  # wait for the last step
            times[name].append((time.perf_counter() - start) / steps)
    return {name: float(np.median(values)) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=16, help="real-sized pictures to read")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant and repeat")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--ngf", type=int, default=64, help="generator and discriminator width (pix2pix: 64)")
    parser.add_argument("--pipeline-only", action="store_true", help="only the pipeline comparison")
    args = parser.parse_args()

    paths = real_sized_images(DATA_DIR, args.count)
    rates = pipeline_rates(paths, args.batch, args.repeats)
    print(f"pipeline, {SIZE} px, cached, batch {args.batch}: " + ", ".join(
        f"{name} {rate:.1f} examples/s" for name, rate in rates.items())
        + f"; hints cost {rates['no hints'] / rates['hints']:.3f}x the time")
    if args.pipeline_only:
        return 0
    times = step_times(paths, args.batch, args.steps, args.repeats, args.ngf)
    print(f"train step, {SIZE} px, ngf {args.ngf}, batch {args.batch}: " + ", ".join(
        f"{name} {seconds:.3f} s" for name, seconds in times.items())
        + f"; hints / no hints = {times['hints'] / times['no hints']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
