"""Irodori's main job: train a colouriser, then save it.

    python train.py                      # embedded synthetic anime data, a few minutes on CPU
    python train.py --data ~/art --out runs/my-art    # your own colour images

Running the same command again resumes the run from its last checkpoint.
"""

import argparse
import csv
import dataclasses
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TF logs grappler notes such as "remapper failed" at error level though they are harmless.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Defaults that differ between the embedded demo data and a user's own images: the demo
# must show learning within minutes on two CPU cores, real art deserves pix2pix's setup.
DEMO_DEFAULTS = dict(image_size=64, num_downs=6, ngf=32, ndf=32, batch_size=16, epochs=15,
                     steps_per_epoch=None, l1_pretrain_epochs=2, cache=True)
DATA_DEFAULTS = dict(image_size=256, num_downs=8, ngf=64, ndf=64, batch_size=16, epochs=100,
                     steps_per_epoch=None, l1_pretrain_epochs=0, cache=False)
DEMO_IMAGES = 600
# Flags that may change when a run is resumed; anything else must match config.json.
RESUMABLE_KEYS = {"epochs", "verbose", "jit", "checkpoint_every", "strategy"}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and how to optimise; composed with PipelineConfig and ModelConfig."""

    epochs: int
    steps_per_epoch: int | None
    l1_pretrain_epochs: int
    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.0
    gan_weight: float = 0.0
    n_critic: int | None = None
    seed: int = 0
    verbose: str = "auto"
    mixed_precision: bool = False
    jit: bool = False
    checkpoint_every: int | None = None
    strategy: str = "default"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="irodori-train",
        description="Train Irodori's grayscale -> colour pix2pix (U-Net generator, PatchGAN "
        "discriminator, adversarial + L1 loss in L*a*b*). Without --data it trains on embedded "
        "procedural anime-style pictures with small demo settings; with --data it uses the "
        "pix2pix settings (256 px, 8 downsamplings, 64 filters). Running the same command "
        "again resumes from the last checkpoint in --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="folder (searched recursively), glob or file of colour images: "
                      "PNG, JPEG, WebP, BMP, GIF; unreadable files are skipped with a warning. "
                      "Default: the embedded synthetic data")
    data.add_argument("--task", choices=["gray", "sketch"], default="gray",
                      help="gray: colour a grayscale picture (predict a*b* from L*); sketch: colour line art "
                      "made from your colour images (predict RGB)")
    data.add_argument("--sketches", help="with --task sketch: a folder of your own line art, matched to the "
                      "colour images of --data by file name (e.g. sketches/p1.png <-> colour/p1.jpg)")
    data.add_argument("--sketch-method", choices=["random", "xdog", "morph"], default="random",
                      help="how training line art is made: XDoG, morphological (dilate minus image) or "
                      "a random choice per image; all with random line intensity")
    data.add_argument("--demo-images", type=int, default=DEMO_IMAGES,
                      help="how many synthetic pictures to draw when --data is not given")
    data.add_argument("--out", help="run directory (default: runs/<data folder name>, or runs/demo)")
    data.add_argument("--image-size", type=int, help="training crop side in px (demo 64, data 256)")
    data.add_argument("--load-size", type=int, help="side before the random crop (default image size x 286/256)")
    data.add_argument("--batch-size", type=int, help="batch size (default 16)")
    data.add_argument("--val-fraction", type=float, default=0.1,
                      help="share of images held out for validation, chosen by a hash of the file path")
    data.add_argument("--cache", action=argparse.BooleanOptionalAction, default=None,
                      help="keep decoded images in memory after the first epoch (demo: on)")
    data.add_argument("--no-flip", dest="flip", action="store_false", help="disable random horizontal flips")

    net = parser.add_argument_group("networks")
    net.add_argument("--ngf", type=int, help="generator base filters (demo 32, data 64)")
    net.add_argument("--ndf", type=int, help="discriminator base filters (demo 32, data 64)")
    net.add_argument("--num-downs", type=int, help="U-Net downsamplings; image size must be a multiple "
                     "of 2**num_downs (demo 6, data 8)")
    net.add_argument("--generator", choices=["unet", "sgru"], default="unet",
                     help="unet: pix2pix U-Net; sgru: Swish-Gated Residual U-Net with the perceptual loss "
                     "and --num-outputs colourings (sketch task, needs --vgg-weights)")
    net.add_argument("--sgru-levels", type=int, default=4, help="SGRU down blocks (channels double at each)")
    net.add_argument("--num-outputs", type=int, default=9, help="SGRU colourings per sketch")
    net.add_argument("--vgg-weights", help="local Keras weights file of VGG19(include_top=False) for the "
                     "SGRU perceptual loss (it cannot be downloaded at run time)")
    net.add_argument("--upsample", choices=["transpose", "resize"], default="transpose",
                     help="decoder upsampling: transposed conv (pix2pix) or resize + conv (no checkerboard)")
    net.add_argument("--init", choices=["normal", "xavier", "he"], default="normal",
                     help="weight init: normal(0, 0.02) as pix2pix, xavier or he")
    net.add_argument("--n-layers-d", type=int, default=3, help="PatchGAN depth (3 = 70x70 patches)")

    opt = parser.add_argument_group("training")
    opt.add_argument("--epochs", type=int, help="total epochs, L1 pretraining included (demo 15, data 100)")
    opt.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass over the training images)")
    opt.add_argument("--l1-pretrain-epochs", type=int,
                     help="first epochs train the generator on L1 alone, against dull sepia colours (demo 2, data 0)")
    opt.add_argument("--gan-mode", choices=["vanilla", "lsgan", "wgangp"], default="vanilla",
                     help="adversarial loss; wgangp uses a gradient penalty of 10 and instance norm in the critic")
    opt.add_argument("--lambda-l1", type=float, default=100.0, help="weight of the L1 loss (U-Net)")
    opt.add_argument("--gan-weight", type=float, default=0.0,
                     help="SGRU: weight of a PatchGAN term beside the perceptual loss (0 = perceptual alone, as the paper)")
    opt.add_argument("--lr-g", type=float, default=2e-4, help="generator Adam learning rate")
    opt.add_argument("--lr-d", type=float, default=2e-4, help="discriminator Adam learning rate; "
                     "lower it if d_loss falls towards 0 (the equilibrium is log 2 = 0.69 for vanilla)")
    opt.add_argument("--beta1", type=float, default=0.5, help="Adam beta_1 for both networks")
    opt.add_argument("--beta2", type=float, default=0.999, help="Adam beta_2 for both networks")
    opt.add_argument("--label-smoothing", type=float, default=0.0,
                     help="one-sided label smoothing: real pairs are labelled 1 - this")
    opt.add_argument("--n-critic", type=int, help="discriminator steps per generator step (default 5 for wgangp, else 1)")
    opt.add_argument("--quantize", action="append", choices=["dynamic", "int8"], default=[],
                     help="also export this TFLite variant besides fp32 and fp16 (repeatable)")
    opt.add_argument("--mixed-precision", action="store_true",
                     help="compute in mixed_float16 with loss scaling on a GPU, mixed_bfloat16 on CPU; weights "
                     "stay float32 and the exported models are float32 (see BENCHMARKS.md for what it buys)")
    opt.add_argument("--jit", action="store_true", help="compile the training step with XLA (jit_compile)")
    opt.add_argument("--strategy", choices=["default", "mirrored", "multiworker"], default="default",
                     help="mirrored: every GPU of this machine (or every logical CPU); multiworker: several "
                     "machines, each running this same command with its TF_CONFIG. --batch-size is the global "
                     "batch, split across replicas")
    opt.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                     help="also checkpoint every STEPS training steps (default: at the end of each epoch); "
                     "a killed run loses at most this many steps")
    opt.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling and augmentation")
    opt.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"],
                     help="Keras fit verbosity: 1 progress bar, 2 one line per epoch; auto = 1 on a terminal, else 2")
    return parser


def resolve_configs(args):
    """argparse flags -> (PipelineConfig, ModelConfig, TrainConfig), filling per-preset defaults."""
    from model.config import ModelConfig
    from pipeline.config import PipelineConfig

    preset = DEMO_DEFAULTS if args.data is None else DATA_DEFAULTS

    def pick(name):
        value = getattr(args, name)
        return preset[name] if value is None else value

    pipeline_cfg = PipelineConfig(image_size=pick("image_size"), load_size=args.load_size,
                                  batch_size=pick("batch_size"), val_fraction=args.val_fraction,
                                  flip=args.flip, cache=pick("cache"), seed=args.seed)
    model_cfg = ModelConfig(image_size=pick("image_size"), num_downs=pick("num_downs"), ngf=pick("ngf"),
                            ndf=pick("ndf"), upsample=args.upsample, init=args.init,
                            n_layers_d=args.n_layers_d, generator=args.generator,
                            sgru_levels=args.sgru_levels, num_outputs=args.num_outputs,
                            d_norm="instance" if args.gan_mode == "wgangp" else "batch")
    train_cfg = TrainConfig(epochs=pick("epochs"), steps_per_epoch=pick("steps_per_epoch"),
                            l1_pretrain_epochs=pick("l1_pretrain_epochs"), gan_mode=args.gan_mode,
                            lambda_l1=args.lambda_l1, lr_g=args.lr_g, lr_d=args.lr_d, beta1=args.beta1,
                            beta2=args.beta2, label_smoothing=args.label_smoothing, n_critic=args.n_critic,
                            gan_weight=args.gan_weight, seed=args.seed, verbose=args.verbose,
                            mixed_precision=args.mixed_precision, jit=args.jit,
                            checkpoint_every=args.checkpoint_every, strategy=args.strategy)
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be at least 1; received {args.checkpoint_every}")
    if args.sketches and (args.task != "sketch" or args.data is None):
        raise ValueError("--sketches pairs line art with the colour images of --data; add --task sketch and --data")
    if args.generator == "sgru" and args.mixed_precision:
        raise ValueError("--mixed-precision is available for the U-Net generator; the SGRU trains in float32")
    if args.generator == "sgru" and args.task != "sketch":
        raise ValueError("--generator sgru colours sketches; add --task sketch")
    if args.demo_images < 2:
        raise ValueError(f"demo_images must be >= 2; received demo_images={args.demo_images}")
    if train_cfg.epochs < 1 or train_cfg.l1_pretrain_epochs < 0:
        raise ValueError(f"epochs must be >= 1 and l1_pretrain_epochs >= 0; received epochs="
                         f"{train_cfg.epochs}, l1_pretrain_epochs={train_cfg.l1_pretrain_epochs}")
    return pipeline_cfg, model_cfg, train_cfg


def default_out(data):
    if data is None:
        return os.path.join("runs", "demo")
    name = os.path.basename(os.path.normpath(data.split("*")[0])) or "data"
    return os.path.join("runs", name)


def write_or_check_config(out, resolved):
    """Write config.json for a new run; for an existing one insist the settings match."""
    path = os.path.join(out, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        changed = []
        for section, values in resolved.items():
            for key, value in values.items():
                if key not in RESUMABLE_KEYS and saved.get(section, {}).get(key) != value:
                    changed.append(f"{key} {saved.get(section, {}).get(key)!r} -> {value!r}")
        if changed:
            raise ValueError(f"{out} holds a run with other settings ({'; '.join(changed)}); "
                             "resume it with the same flags or pass a new --out")
    with open(path + ".tmp", "w") as f:
        json.dump(resolved, f, indent=2)
    os.replace(path + ".tmp", path)


def find_training_images(args, out, image_size):
    from pipeline import decode, synthetic

    if args.data is None:
        # Drawn larger than the crops so that resizing and jitter behave as on real art.
        folder = os.path.join(out, "synthetic_data")
        paths = synthetic.write_dataset(folder, args.demo_images, size=image_size * 2, seed=0)
        return paths, folder
    paths = decode.list_image_files(args.data)
    good, _ = decode.find_decodable(paths)
    if not good:
        raise ValueError(f"none of the {len(paths)} image files in {args.data} could be decoded")
    root = args.data if os.path.isdir(args.data) else None
    return good, root


def find_sketch_partners(args, color_paths):
    """--sketches: the artist's own line art, matched to colour images by file name."""
    from pipeline import decode
    from pipeline.dataset import pair_by_name

    sketches, _ = decode.find_decodable(decode.list_image_files(args.sketches))
    colors, sketches = pair_by_name(color_paths, sketches)
    if not colors:
        raise ValueError(f"no sketch in {args.sketches} has the file name of a colour image in {args.data}")
    return colors, dict(zip(colors, sketches))


def trim_history(path, finished_epochs):
    """Drop history rows of epochs a checkpoint does not cover (a run killed mid-save)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) < finished_epochs]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(kept)


def run(args):
    import keras
    import tensorflow as tf

    from model.callbacks import RunCheckpoint, SampleGrid, StopOnNonFiniteLoss
    from model.build import build_training, seed_states
    from model.distribute import make_strategy, replica_spread, set_precision_policy
    from pipeline import color
    from pipeline.dataset import build_dataset, lab_example, paired_example, sketch_example, split_train_val

    pipeline_cfg, model_cfg, train_cfg = resolve_configs(args)
    strategy, chief, worker_index = make_strategy(train_cfg.strategy)  # before any other TF op
    if pipeline_cfg.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"--batch-size {pipeline_cfg.batch_size} must be a multiple of the "
                         f"{strategy.num_replicas_in_sync} replicas")
    run_dir = args.out or default_out(args.data)
    # Other workers keep their own files (checkpoints they must write, logs) out of the way.
    out = run_dir if chief else os.path.join(run_dir, f".worker-{worker_index}")
    os.makedirs(out, exist_ok=True)
    resolved = {"data": {"data": args.data, "demo_images": None if args.data else args.demo_images,
                         "task": args.task, "sketch_method": args.sketch_method if args.task == "sketch" else None,
                         "vgg_weights": args.vgg_weights, "sketches": args.sketches},
                "pipeline": dataclasses.asdict(pipeline_cfg),
                "model": dataclasses.asdict(model_cfg), "train": dataclasses.asdict(train_cfg)}
    write_or_check_config(out, resolved)

    paths, root = find_training_images(args, out, pipeline_cfg.image_size)
    partner = None
    if args.sketches:
        paths, partner = find_sketch_partners(args, paths)
    train_paths, val_paths = split_train_val(paths, pipeline_cfg.val_fraction, root=root)
    print(f"{len(train_paths)} training and {len(val_paths)} validation images; run directory {out}")
    sketch_task = args.task == "sketch"
    make_example = sketch_example(args.sketch_method) if sketch_task else lab_example
    if partner:
        make_example = paired_example

    def dataset(paths, training, start_step=0):
        """A resumed run's training stream starts at its global step: it sees the batches it missed."""
        sketches = [partner[p] for p in paths] if partner else None
        built = build_dataset(paths, pipeline_cfg, training, make_example=make_example, sketch_paths=sketches,
                              start_element=start_step * pipeline_cfg.batch_size)
        # Under multiworker each worker builds the same stream and keeps its share of every batch.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return built.with_options(options)

    def train_from(step):
        return dataset(train_paths, training=True, start_step=step)

    val_ds = dataset(val_paths, training=False) if val_paths else None
    if val_ds is not None and strategy.num_replicas_in_sync > 1:
        # Distributed validation needs whole batches; the final evaluation still sees every image.
        if len(val_paths) < pipeline_cfg.batch_size:
            print(f"note: fewer validation images ({len(val_paths)}) than one batch; no val_* losses per epoch")
            val_ds = None
        else:
            val_ds = val_ds.unbatch().batch(pipeline_cfg.batch_size, drop_remainder=True)
    target_channels = 3 if sketch_task else 2
    steps = train_cfg.steps_per_epoch or max(1, len(train_paths) // pipeline_cfg.batch_size)

    policy = set_precision_policy(train_cfg.mixed_precision)
    keras.utils.set_random_seed(train_cfg.seed)
    with strategy.scope():
        generator, discriminator, pix2pix, g_optimizer, d_optimizer = build_training(
            model_cfg, train_cfg.lr_g, train_cfg.lr_d, train_cfg.beta1, train_cfg.beta2, target_channels,
            train_cfg.gan_weight, args.vgg_weights, loss_scaling=policy == "mixed_float16")
    sgru = model_cfg.generator == "sgru"

    def compile_phase(adversarial):
        # The SGRU's perceptual loss keeps its paper scale (weight 1); its GAN term is opt-in.
        with strategy.scope():
            pix2pix.compile(g_optimizer, d_optimizer, gan_mode=train_cfg.gan_mode,
                            l1_weight=1.0 if sgru else train_cfg.lambda_l1, n_critic=train_cfg.n_critic,
                            label_smoothing=train_cfg.label_smoothing,
                            adversarial=adversarial and (not sgru or train_cfg.gan_weight > 0),
                            jit_compile=train_cfg.jit)

    with strategy.scope():
        compile_phase(adversarial=True)  # builds both optimizers' slots before any restore
        finished = tf.Variable(0, dtype=tf.int64, name="finished_epochs")
        epoch_start_step = tf.Variable(0, dtype=tf.int64, name="epoch_start_step")
    step = g_optimizer.iterations  # one generator update per training step: the global step
    checkpoint = tf.train.Checkpoint(generator=generator, discriminator=discriminator, g_optimizer=g_optimizer,
                                     d_optimizer=d_optimizer, epoch=finished, epoch_start_step=epoch_start_step,
                                     seed_states=seed_states(generator, pix2pix))
    # Every worker restores the chief's checkpoint; only the chief writes to the run directory.
    latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(out, "checkpoints"), max_to_keep=3)
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        done = int(step.numpy() - epoch_start_step.numpy())
        where = (f"epoch {int(finished.numpy()) + 1}, {done} of its steps done" if done
                 else f"after epoch {int(finished.numpy())}")
        print(f"resumed from step {int(step.numpy())} ({where}; {latest})")
    start = int(finished.numpy())
    history_path = os.path.join(out, "history.csv")
    trim_history(history_path, start)

    sample_condition, sample_target = next(iter((val_ds or train_from(0)).unbatch().batch(4)))

    def render(condition, prediction, target):
        prediction = tf.cast(prediction, tf.float32)  # bfloat16/float16 under --mixed-precision
        if sketch_task:  # everything in [-1, 1]; the sketch is gray; the SGRU's first colouring
            return [(tensor + 1.0) * 0.5 for tensor in (tf.tile(condition, [1, 1, 1, 3]), prediction[..., :3], target)]
        gray = color.model_lab_to_rgb(condition, tf.zeros_like(target))
        return gray, color.model_lab_to_rgb(condition, prediction), color.model_lab_to_rgb(condition, target)

    log_dir = os.path.join(out, "logs")
    callbacks = [
        StopOnNonFiniteLoss(),
        keras.callbacks.CSVLogger(history_path, append=True),
        keras.callbacks.TensorBoard(log_dir, write_graph=False),
        SampleGrid(sample_condition, sample_target, render, os.path.join(out, "samples"), log_dir),
        RunCheckpoint(manager, step, finished, epoch_start_step, train_cfg.checkpoint_every),
    ]
    # A progress bar redrawn into a log file is unreadable: one line per epoch there.
    verbose = int(train_cfg.verbose) if train_cfg.verbose != "auto" else (1 if sys.stdout.isatty() else 2)
    phases = [(False, train_cfg.l1_pretrain_epochs), (True, train_cfg.epochs)]
    began = time.time()
    for adversarial, phase_end in phases:
        phase_end = min(phase_end, train_cfg.epochs)
        if int(finished.numpy()) >= phase_end:
            continue
        print("L1 pretraining of the generator" if not adversarial else
              "training the generator on the perceptual loss" if sgru and not train_cfg.gan_weight else
              "training generator and discriminator")
        while int(finished.numpy()) < phase_end:
            compile_phase(adversarial)
            epoch, done = int(finished.numpy()), int(step.numpy() - epoch_start_step.numpy())
            # A run stopped mid-epoch first finishes that epoch's remaining steps.
            with strategy.scope():
                history = pix2pix.fit(train_from(int(step.numpy())), epochs=epoch + 1 if done else phase_end,
                                      initial_epoch=epoch, steps_per_epoch=steps - done if done else steps,
                                      validation_data=val_ds, callbacks=callbacks, shuffle=False,
                                      verbose=verbose)  # the dataset shuffles itself
            if pix2pix.stop_training:  # only StopOnNonFiniteLoss stops a fit early
                last = {k: v[-1] for k, v in history.history.items()}
                kept = (f"the last good checkpoint, {manager.latest_checkpoint}, is kept and resumes with the same "
                        "command" if manager.latest_checkpoint else "no checkpoint was written")
                losses_text = ", ".join(f"{name} {value:.4g}" for name, value in last.items())
                raise FloatingPointError(f"training stopped at step {int(step.numpy())}: a loss became NaN or Inf "
                                         f"({losses_text}); {kept}")
    print(f"trained to epoch {int(finished.numpy())} in {time.time() - began:.0f} s")

    if strategy.num_replicas_in_sync > 1 and train_cfg.strategy == "mirrored":
        print(f"{strategy.num_replicas_in_sync} replicas ended in sync: largest weight difference "
              f"{replica_spread(generator.trainable_weights, strategy):.3g}")
    if policy != "float32" or train_cfg.strategy != "default":
        # Deploy a plain float32 generator: rebuilt outside any strategy, with the trained weights.
        keras.mixed_precision.set_global_policy("float32")
        trained = generator
        generator = type(trained).from_config(trained.get_config())
        generator.set_weights(trained.get_weights())
    generator_path = os.path.join(out, "generator.keras")
    generator.save(generator_path + ".tmp.keras")
    os.replace(generator_path + ".tmp.keras", generator_path)
    print(f"generator saved to {generator_path}")
    if not chief:  # the chief exports and evaluates
        return out

    from export.run_export import export_run

    export_run(out, generator=generator, quantize=args.quantize, sample_image=(val_paths or train_paths)[0])
    if val_paths:
        from export.colorizer import Colorizer
        from export.evaluate import evaluate_to

        evaluate_to(os.path.join(out, "evaluation"), Colorizer(generator=generator), val_paths,
                    data_label=f"validation split of {args.data or 'the demo data'}", model_label=out,
                    sketch_method=args.sketch_method if sketch_task else "xdog",
                    sketch_paths=[partner[p] for p in val_paths] if partner else None,
                    history_path=history_path, progress=False)
    return out


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"irodori-train: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output folder that cannot be created or written
        print(f"irodori-train: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as error:  # TensorFlow's out-of-memory error, named so TF need not be imported here
        if type(error).__name__ != "ResourceExhaustedError":
            raise
        print("irodori-train: error: out of memory; lower --batch-size or --image-size (the last checkpoint "
              "is kept and the same command resumes)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
