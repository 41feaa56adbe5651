"""Training step time at the pix2pix reference configuration, side by side in one run.

    python benchmarks/train_step.py [--batch 1 4] [--rounds 5] [--image-size 256]
    python benchmarks/train_step.py --adam          only: Keras' Adam against FusedAdam
    python benchmarks/train_step.py --profile       only: TF profiler, op time by type
    python benchmarks/train_step.py --inter-op 1 (or --intra-op 1) --variants reference irodori
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/train_step.py --variants reference irodori

Variants (each builds the same networks from the same seed):
  reference  the straightforward two-tape tf.function step (benchmarks/reference_step.py,
             as the TensorFlow pix2pix tutorial writes it) with Keras' Adam
  irodori    Pix2Pix.train_step as model.fit runs it, with FusedAdam: the same losses and
             updates (tests/test_pix2pix.py checks this)
  irodori+xla      the same with jit_compile=True (train.py --jit)
  irodori+bf16     mixed_bfloat16 (train.py --mixed-precision on CPU): not the same
                   arithmetic, shown for what it buys
Rounds alternate between variants so machine drift hits all alike; the median is shown.
The ideal time is the step's convolution FLOPs / the sustained fp32 matmul rate measured
here, so "of ideal" says how close to the hardware the step runs.

--adam times one optimizer update of the generator's variables alone (random gradients):
Keras' Adam against model/fused_adam.py's FusedAdam, rounds alternating, medians.
--profile traces `--rounds` irodori steps at the first --batch with the TF profiler and
prints each op type's share of the summed op self-time (idle excluded).
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.reference_step import make_reference_step  # noqa: E402
from model.fused_adam import FusedAdam  # noqa: E402
from model.patchgan import PatchGANDiscriminator  # noqa: E402
from model.pix2pix import Pix2Pix  # noqa: E402
from model.unet import UNetGenerator  # noqa: E402


def conv_flops(network, input_shapes):
    """Multiply-adds x 2 of every Conv2D / Conv2DTranspose for one forward pass."""
    total = 0
    probe = keras.Model(network.inputs, [layer.output for layer in network.layers
                                         if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))])
    outputs = probe([np.zeros(shape, "float32") for shape in input_shapes] if len(input_shapes) > 1
                    else np.zeros(input_shapes[0], "float32"))
    convs = [layer for layer in network.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    for layer, output in zip(convs, outputs):
        kernel_h, kernel_w, a, b = layer.kernel.shape
        batch, height, width, _ = output.shape
        if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel (h, w, out, in); work per input pixel
            height, width = height // layer.strides[0], width // layer.strides[1]
        total += 2 * batch * height * width * kernel_h * kernel_w * a * b
    return total


def matmul_rate(n=2048, repeats=10):
    """Sustained fp32 matmul FLOP/s of TensorFlow on this machine."""
    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))

    @tf.function
    def chain():
        x = a
        for _ in range(repeats):
            x = tf.matmul(x, b) * (1.0 / n)
        return x

    chain().numpy()
    best = min(_time(lambda: chain().numpy()) for _ in range(3))
    return 2 * n**3 * repeats / best


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build(args, batch, variant):
    keras.utils.set_random_seed(0)
    if variant == "irodori+bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        generator = UNetGenerator(image_size=args.image_size, num_downs=args.num_downs, ngf=args.ngf)
        discriminator = PatchGANDiscriminator(ndf=args.ngf)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(0)
    condition = tf.constant(rng.uniform(-1, 1, (batch, args.image_size, args.image_size, 1)).astype("float32"))
    target = tf.constant(rng.uniform(-1, 1, (batch, args.image_size, args.image_size, 2)).astype("float32"))
    if variant == "reference":
        step = make_reference_step(generator, discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5),
                                   keras.optimizers.Adam(2e-4, beta_1=0.5))
        return lambda: [t.numpy() for t in step(condition, target)], (generator, discriminator)
    model = Pix2Pix(generator, discriminator)
    model.compile(FusedAdam(2e-4, beta_1=0.5), FusedAdam(2e-4, beta_1=0.5), jit_compile=variant == "irodori+xla")
    model.make_train_function()
    batches = iter(tf.data.Dataset.from_tensors((condition, target)).repeat())
    return lambda: {k: v.numpy() for k, v in model.train_function(batches).items()}, (generator, discriminator)


def adam_update_times(args):
    """Median seconds of one Adam update of the generator's variables: Keras' vs FusedAdam."""
    keras.utils.set_random_seed(0)
    generator = UNetGenerator(image_size=args.image_size, num_downs=args.num_downs, ngf=args.ngf)
    variables = generator.trainable_variables
    rng = np.random.default_rng(0)
    gradients = [tf.constant(rng.normal(0, 1e-3, v.shape).astype("float32")) for v in variables]

    def make_update(optimizer):
        optimizer.build(variables)

        @tf.function
        def update():
            optimizer.apply(gradients, variables)
            return optimizer.iterations + 0

        return lambda: update().numpy()

    updates = {"keras Adam": make_update(keras.optimizers.Adam(2e-4, beta_1=0.5)),
               "FusedAdam": make_update(FusedAdam(2e-4, beta_1=0.5))}
    for update in updates.values():
        for _ in range(2):
            update()
    times = {name: [] for name in updates}
    for _ in range(args.rounds):
        for name, update in updates.items():
            times[name].append(_time(update))
    return generator.count_params(), {name: float(np.median(t)) for name, t in times.items()}


def op_time_by_type(args, batch):
    """Share of the summed op self-time per op type over `rounds` profiled irodori steps."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as profiler_plugin

    step, _ = build(args, batch, "irodori")
    for _ in range(2):
        step()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(args.rounds):
            step()
        tf.profiler.experimental.stop()
        planes = [os.path.join(root, name) for root, _, names in os.walk(logdir)
                  for name in names if name.endswith(".xplane.pb")]
        data, ok = profiler_plugin.xspace_to_tools_data(planes, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"profiler tool failed: {data[:200]}")
    table = json.loads(data)[0]  # the tool's first table includes idle time, its second repeats it without
    columns = [column["id"] for column in table["cols"]]
    totals = {}
    for row in table["rows"]:
        cells = dict(zip(columns, [cell.get("v") for cell in row["c"]]))
        if cells["type"] != "IDLE":
            totals[cells["type"]] = totals.get(cells["type"], 0.0) + cells["total_self_time"]
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per variant (after 2 warm-up steps)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--num-downs", type=int, default=8)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--variants", nargs="+", default=["reference", "irodori", "irodori+xla", "irodori+bf16"])
    parser.add_argument("--inter-op", type=int, default=0, help="TF inter-op threads (0: TensorFlow's choice)")
    parser.add_argument("--intra-op", type=int, default=0, help="TF intra-op threads (0: TensorFlow's choice)")
    parser.add_argument("--adam", action="store_true", help="only time Keras' Adam against FusedAdam")
    parser.add_argument("--profile", action="store_true", help="only profile the irodori step: op time by type")
    args = parser.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    print(f"{os.cpu_count()} CPUs; TF {tf.__version__}; inter-op threads {args.inter_op or 'default'}, "
          f"intra-op {args.intra_op or 'default'}, TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")

    if args.adam:
        parameters, times = adam_update_times(args)
        print(f"one optimizer update of the generator's {parameters / 1e6:.1f} M parameters "
              f"({args.image_size} px, ngf {args.ngf}, {args.num_downs} downs), median of {args.rounds}:")
        for name, seconds in times.items():
            print(f"  {name:<11} {seconds * 1000:6.0f} ms")
        return
    if args.profile:
        totals = op_time_by_type(args, args.batch[0])
        whole = sum(totals.values())
        convolutions = sum(t for name, t in totals.items() if "Conv2D" in name)
        print(f"irodori step, batch {args.batch[0]}, {args.rounds} steps profiled: "
              f"convolutions and their gradients (op types with Conv2D) {convolutions / whole:.0%} of op self-time")
        for name, seconds in sorted(totals.items(), key=lambda item: -item[1])[:10]:
            print(f"  {name:<40} {seconds / whole:6.1%}")
        return

    rate = matmul_rate()
    print(f"sustained fp32 matmul: {rate / 1e9:.0f} GFLOP/s")
    print(f"reference configuration: {args.image_size} px, ngf/ndf {args.ngf}, {args.num_downs} downs")
    for batch in args.batch:
        steps, times = {}, {}
        for variant in args.variants:
            steps[variant], networks = build(args, batch, variant)
            for _ in range(2):  # trace, then one more to settle
                steps[variant]()
            times[variant] = []
        generator, discriminator = networks
        g_flops = conv_flops(generator, [(batch, args.image_size, args.image_size, 1)])
        d_flops = conv_flops(discriminator, [(batch, args.image_size, args.image_size, 1),
                                             (batch, args.image_size, args.image_size, 2)])
        # G forward + its two backward products; D(real) forward + two; D(fake) forward +
        # weight gradients + activation gradients for D's loss and again for G's.
        step_flops = 3 * g_flops + 7 * d_flops
        for _ in range(args.rounds):
            for variant in args.variants:
                times[variant].append(_time(steps[variant]))
        base = np.median(times["reference"]) if "reference" in times else None
        ideal = step_flops / rate
        print(f"\nbatch {batch}: {step_flops / 1e9:.1f} GFLOP of convolutions per step, ideal {ideal * 1000:.0f} ms "
              f"(generator {generator.count_params() / 1e6:.1f} M parameters, "
              f"discriminator {discriminator.count_params() / 1e6:.1f} M)")
        print(f"{'variant':<14} {'ms/step':>8} {'vs reference':>13} {'of ideal':>9}")
        for variant, measured in times.items():
            median = np.median(measured)
            ratio = f"{median / base:.2f}x" if base else "-"
            print(f"{variant:<14} {median * 1000:8.0f} {ratio:>13} {ideal / median:9.0%}")


if __name__ == "__main__":
    main()
