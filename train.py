"""Irodori's main job: train a colouriser, then save it.

    python train.py                      # embedded synthetic anime data, a few minutes on CPU
    python train.py --data ~/art --out runs/my-art    # your own colour images

Running the same command again resumes the run from its last checkpoint.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TF logs grappler notes such as "remapper failed" at error level though they are harmless.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from model.config import DEFAULT_TEMPERATURE  # noqa: E402  (plain Python: no TensorFlow import)

# Defaults that differ between the embedded demo data and a user's own images: the demo
# must show learning within minutes on two CPU cores, real art deserves pix2pix's setup with
# what won on a small set of real anime art (BENCHMARKS.md, "Real anime art from a small set").
# l1_pretrain_epochs None: three quarters of the epochs (DeOldify's "NoGAN" schedule).
DEMO_DEFAULTS = dict(image_size=64, ngf=32, ndf=32, batch_size=16, epochs=15,
                     steps_per_epoch=None, l1_pretrain_epochs=2, cache=True, rebalance=0.0,
                     zoom=1.0, rotate=0.0, colour_head="direct", temperature=DEFAULT_TEMPERATURE)
DATA_DEFAULTS = dict(image_size=256, ngf=64, ndf=64, batch_size=16, epochs=100,
                     steps_per_epoch=None, l1_pretrain_epochs=None, cache=False, rebalance=0.5,
                     zoom=1.5, rotate=10.0, colour_head="direct", temperature=DEFAULT_TEMPERATURE)
DEMO_IMAGES = 600


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
    data.add_argument("--hints", action=argparse.BooleanOptionalAction, default=None,
                      help="learn from colour hints simulated from the pictures (ideepcolor's points: half the "
                      "examples get none), so the model colours automatically and also follows an artist's hints; "
                      "--no-hints trains the classic pix2pix/SGRU. Default: on for a new run, as saved when resuming")
    data.add_argument("--demo-images", type=int, default=DEMO_IMAGES,
                      help="how many synthetic pictures to draw when --data is not given")
    data.add_argument("--out", help="run directory (default: runs/<data folder name>, or runs/demo)")
    data.add_argument("--image-size", type=int, help="training crop side in px (demo 64, data 256)")
    data.add_argument("--load-size", type=int, help="side before the random crop (default image size x 286/256)")
    data.add_argument("--batch-size", type=int, help="batch size (default 16)")
    data.add_argument("--val-fraction", type=float, default=0.1,
                      help="share of images held out for validation, chosen by a hash of the file path")
    data.add_argument("--cache", action=argparse.BooleanOptionalAction, default=None,
                      help="keep decoded images in memory after the first epoch (demo: on); refused when "
                      "they would not fit in the machine's memory")
    data.add_argument("--cache-dir", metavar="DIR",
                      help="without --cache: keep every picture decoded and resized to the load size on disk "
                      "in DIR, written during the first epoch and read by later epochs, resumed runs and other "
                      "runs with the same files and load size (default: <run>/cache; about load size^2 x 3 bytes "
                      "per picture)")
    data.add_argument("--no-cache-dir", dest="cache_dir", action="store_const", const="",
                      help="decode every picture again in every epoch (no disk cache)")
    data.add_argument("--no-flip", dest="flip", action="store_false", help="disable random horizontal flips")
    data.add_argument("--zoom", type=float, help="crops of several sizes: each training crop is taken between the "
                      "picture's shorter side and image size / ZOOM, then resized to the image size (scale "
                      "augmentation that keeps colours; 1 = off; demo 1, data 1.5)")
    data.add_argument("--rotate", type=float, metavar="DEGREES", help="turn each training picture by a random "
                      "angle of up to DEGREES first (0 = off, at most 45; demo 0, data 10)")

    net = parser.add_argument_group("networks")
    net.add_argument("--ngf", type=int, help="generator base filters (demo 32, data 64)")
    net.add_argument("--ndf", type=int, help="discriminator base filters (demo 32, data 64)")
    net.add_argument("--num-downs", type=int, help="U-Net downsamplings; image size must be a multiple "
                     "of 2**num_downs. Unset: as many times as the image size halves evenly, at most 8 "
                     "(64 px: 6, 128: 7, 256 and 512: 8, 320: 6); sizes that are not multiples of 32 need it set")
    net.add_argument("--generator", choices=["unet", "sgru"], default="unet",
                     help="unet: pix2pix U-Net; sgru: Swish-Gated Residual U-Net with the perceptual loss "
                     "and --num-outputs colourings (sketch task, needs --vgg-weights)")
    net.add_argument("--sgru-levels", type=int, default=4, help="SGRU down blocks (channels double at each)")
    net.add_argument("--num-outputs", type=int, default=9, help="SGRU colourings per sketch")
    net.add_argument("--vgg-weights", help="local Keras weights file of VGG19(include_top=False) for the "
                     "SGRU perceptual loss (it cannot be downloaded at run time)")
    net.add_argument("--upsample", choices=["transpose", "resize"], default="transpose",
                     help="decoder upsampling: transposed conv (pix2pix) or resize + conv (no checkerboard)")
    net.add_argument("--colour-head", choices=["direct", "bins"],
                     help="gray task, U-Net: how a*b* is predicted. direct: a tanh regression trained on L1 "
                     "(pix2pix); bins: a classification over the in-gamut colour bins (10 Lab units wide), trained "
                     "on their cross-entropy and decoded by the annealed mean (Zhang et al. 2016), meant to keep "
                     "colours that L1 averages into sepia; on a dozen pictures it did not beat direct (BENCHMARKS.md). "
                     "Default: direct")
    net.add_argument("--temperature", type=float, help="with --colour-head bins: the annealed mean's temperature "
                     "in (0, 1]; lower gives more saturated colours, 1 the plain mean (default 0.38, the paper's)")
    net.add_argument("--init", choices=["normal", "xavier", "he"], default="normal",
                     help="weight init: normal(0, 0.02) as pix2pix, xavier or he")
    net.add_argument("--n-layers-d", type=int, default=3, help="PatchGAN depth (3 = 70x70 patches)")

    opt = parser.add_argument_group("training")
    opt.add_argument("--init-from", metavar="RUN|FILE",
                     help="start the generator from a trained one (a run directory or a generator .keras file of "
                          "the same --ngf/--num-downs), e.g. a studio's model trained on a large archive, and "
                          "adapt it to your pictures; hint channels it lacks start at zero. Only a new run uses "
                          "it; a resumed run continues from its own checkpoint")
    opt.add_argument("--epochs", type=int, help="total epochs, L1 pretraining included (demo 15, data 100)")
    opt.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass over the training images)")
    opt.add_argument("--l1-pretrain-epochs", type=int,
                     help="first epochs train the generator on L1 alone, then generator and discriminator "
                          "together: DeOldify's 'NoGAN' schedule (demo 2, data three quarters of --epochs)")
    opt.add_argument("--gan-mode", choices=["vanilla", "lsgan", "wgangp"], default="vanilla",
                     help="adversarial loss; wgangp uses a gradient penalty of 10 and instance norm in the critic")
    opt.add_argument("--lambda-l1", type=float, default=100.0, help="weight of the L1 loss (U-Net)")
    opt.add_argument("--rebalance", type=float, metavar="STRENGTH",
                     help="gray task: weight each pixel's a*b* L1 against common colours (class rebalancing "
                          "of Zhang et al. 2016), so rare, saturated colours are not averaged away into sepia; "
                          "0 = plain L1, 0.5 = the paper's weights (mixed half and half with uniform ones), "
                          "1 = full inverse frequency; stronger gives more colour and more wrong colours "
                          "(demo 0, data 0.5)")
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


def resolve_configs(args, saved=None):
    """argparse flags -> RunConfig (data, pipeline, model, train), filling per-preset defaults.

    saved: the RunConfig of the run being resumed, whose hints setting an unset --hints keeps.
    """
    from model.config import ModelConfig
    from model.run_config import DataConfig, RunConfig, TrainConfig
    from pipeline.config import PipelineConfig

    preset = DEMO_DEFAULTS if args.data is None else DATA_DEFAULTS

    def pick(name, resumed=None):
        """The flag, else what the resumed run saved (when given), else the preset."""
        value = getattr(args, name)
        return value if value is not None else resumed if resumed is not None else preset[name]

    data_cfg = DataConfig(data=args.data, demo_images=None if args.data else args.demo_images, task=args.task,
                          sketch_method=args.sketch_method if args.task == "sketch" else None,
                          vgg_weights=args.vgg_weights, sketches=args.sketches,
                          hints=args.hints if args.hints is not None else (saved.data.hints if saved else True))
    pipeline_cfg = PipelineConfig(image_size=pick("image_size"), load_size=args.load_size,
                                  batch_size=pick("batch_size"), val_fraction=args.val_fraction,
                                  flip=args.flip, cache=pick("cache"), seed=args.seed,
                                  zoom=pick("zoom", saved and saved.pipeline.zoom),
                                  rotate=pick("rotate", saved and saved.pipeline.rotate),
                                  # on for a new run (unless --no-cache-dir or --cache); a resumed run keeps its own
                                  disk_cache=not pick("cache") and (args.cache_dir != "" if args.cache_dir is not None
                                                                    else saved.pipeline.disk_cache if saved else True))
    model_cfg = ModelConfig(image_size=pick("image_size"), num_downs=args.num_downs, ngf=pick("ngf"),
                            ndf=pick("ndf"), upsample=args.upsample, init=args.init,
                            n_layers_d=args.n_layers_d, generator=args.generator,
                            sgru_levels=args.sgru_levels, num_outputs=args.num_outputs,
                            d_norm="instance" if args.gan_mode == "wgangp" else "batch",
                            colour_head=pick("colour_head", saved and saved.model.colour_head)
                            if args.task == "gray" and args.generator == "unet" else args.colour_head or "direct",
                            temperature=pick("temperature", saved and saved.model.temperature))
    from model.distribute import input_share
    from model.init_from import generator_file

    # A resumed run keeps the generator it started from (its checkpoint holds what became of it).
    init_from = saved.train.init_from if saved else args.init_from and os.path.abspath(generator_file(args.init_from))
    l1_pretrain_epochs = pick("l1_pretrain_epochs", saved and saved.train.l1_pretrain_epochs)
    # Rebalancing weighs a*b* colours: the sketch task (RGB) has none to weigh unless asked (refused below).
    rebalance = pick("rebalance", saved and saved.train.rebalance) if args.task == "gray" else args.rebalance or 0.0
    if l1_pretrain_epochs is None:
        l1_pretrain_epochs = 3 * pick("epochs") // 4
    train_cfg = TrainConfig(epochs=pick("epochs"), steps_per_epoch=pick("steps_per_epoch"),
                            l1_pretrain_epochs=l1_pretrain_epochs, gan_mode=args.gan_mode,
                            lambda_l1=args.lambda_l1, rebalance=rebalance,
                            lr_g=args.lr_g, lr_d=args.lr_d, beta1=args.beta1,
                            beta2=args.beta2, label_smoothing=args.label_smoothing, n_critic=args.n_critic,
                            gan_weight=args.gan_weight, seed=args.seed, verbose=args.verbose,
                            mixed_precision=args.mixed_precision, jit=args.jit,
                            checkpoint_every=args.checkpoint_every, strategy=args.strategy,
                            init_from=init_from, input_pipelines=input_share(args.strategy)[1])
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be at least 1; received {args.checkpoint_every}")
    if args.sketches and (args.task != "sketch" or args.data is None):
        raise ValueError("--sketches pairs line art with the colour images of --data; add --task sketch and --data")
    if args.generator == "sgru" and args.mixed_precision:
        raise ValueError("--mixed-precision is available for the U-Net generator; the SGRU trains in float32")
    if train_cfg.rebalance and args.task == "sketch":
        raise ValueError("--rebalance weights a*b* colours of the gray task; the sketch task predicts RGB")
    if model_cfg.colour_head == "bins" and (args.task != "gray" or args.generator != "unet"):
        raise ValueError("--colour-head bins classifies a*b* colours: it needs the gray task and the U-Net")
    if args.temperature is not None and model_cfg.colour_head != "bins":
        raise ValueError("--temperature decodes the colour bins; add --colour-head bins")
    if not 0.0 <= train_cfg.rebalance <= 1.0:
        raise ValueError(f"--rebalance must be in [0, 1]; received {train_cfg.rebalance}")
    if args.generator == "sgru" and args.task != "sketch":
        raise ValueError("--generator sgru colours sketches; add --task sketch")
    if args.demo_images < 2:
        raise ValueError(f"demo_images must be >= 2; received demo_images={args.demo_images}")
    if train_cfg.epochs < 1 or train_cfg.l1_pretrain_epochs < 0:
        raise ValueError(f"epochs must be >= 1 and l1_pretrain_epochs >= 0; received epochs="
                         f"{train_cfg.epochs}, l1_pretrain_epochs={train_cfg.l1_pretrain_epochs}")
    return RunConfig(data_cfg, pipeline_cfg, model_cfg, train_cfg)


def default_out(data):
    if data is None:
        return os.path.join("runs", "demo")
    name = os.path.basename(os.path.normpath(data.split("*")[0])) or "data"
    return os.path.join("runs", name)


def check_out_is_not_in_data(out, data):
    """A run directory inside the --data folder would feed its own samples back as training pictures."""
    from export.outputs import is_inside

    if data and os.path.isdir(os.path.expanduser(data)):
        if is_inside(out, os.path.expanduser(data)):
            raise ValueError(f"the run directory {out} is inside --data {data}: its samples would become "
                             "training pictures; choose an --out outside it")


def saved_config(out):
    """The RunConfig of the run in out, or None for a new run."""
    from model.run_config import CONFIG_NAME, RunConfig

    path = os.path.join(out, CONFIG_NAME)
    if not os.path.exists(path):
        if os.path.isdir(os.path.join(out, "checkpoints")):  # which networks they hold is unknown: say so
            raise ValueError(f"{out} holds checkpoints but no {CONFIG_NAME}; pass a new --out")
        return None
    try:
        return RunConfig.load(out)
    except (ValueError, TypeError) as error:  # JSON or fields that are not a run's config
        raise ValueError(f"{path} is not a readable run config ({error}); pass a new --out") from None


def write_or_check_config(out, config):
    """Write config.json for a new run; for an existing one insist the settings match."""
    from model.run_config import CONFIG_NAME, RunConfig

    if os.path.exists(os.path.join(out, CONFIG_NAME)):
        changed = config.changes_from(RunConfig.load(out))
        if changed:
            raise ValueError(f"{out} holds a run with other settings ({'; '.join(changed)}); "
                             "resume it with the same flags or pass a new --out")
    config.save(out)


def run(args):
    """Train (or resume) the run of these flags; returns its directory."""
    from export.run_lock import RunLock
    from model.distribute import input_share, make_strategy
    from model.training_run import TrainingRun, nothing_decodes_is_one_line

    config = resolve_configs(args, saved_config(args.out or default_out(args.data)))
    strategy, chief, worker_index = make_strategy(config.train.strategy)  # before any other TF op
    if config.pipeline.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"--batch-size {config.pipeline.batch_size} must be a multiple of the "
                         f"{strategy.num_replicas_in_sync} replicas")
    run_dir = args.out or default_out(args.data)
    check_out_is_not_in_data(run_dir, args.data)
    # Other workers keep their own files (checkpoints they must write, logs) out of the way.
    out = run_dir if chief else os.path.join(run_dir, f".worker-{worker_index}")
    with RunLock(out, "irodori-train"), nothing_decodes_is_one_line():
        write_or_check_config(out, config)
        training = TrainingRun(config, run_dir, out, strategy, chief, cache_dir=args.cache_dir,
                               share=input_share(config.train.strategy))
        training.prepare_inputs()
        training.build()
        training.restore()
        training.fit()
        return training.finish(quantize=args.quantize)


def main(argv=None):
    from export.run_lock import RunDirectoryBusy

    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError, FloatingPointError, RunDirectoryBusy) as error:
        print(f"irodori-train: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output folder that cannot be created or written
        print(f"irodori-train: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as error:  # TensorFlow's out-of-memory error, named so TF need not be imported here
        if type(error).__name__ != "ResourceExhaustedError":
            raise
        if "No space left on device" in str(error):  # TF reports a full disk (cache, checkpoint) the same way
            print("irodori-train: error: the disk is full (no space left on device); free some space, e.g. old "
                  "runs' checkpoints or cache folders, and run the same command again to resume", file=sys.stderr)
            return 2
        print("irodori-train: error: out of memory; lower --batch-size or --image-size (the last checkpoint "
              "is kept and the same command resumes)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
