"""One training run in named steps: inputs, models, restore, fit, finish (train.py calls them in order).

Model Garden's Task split: each step is a method with the state it leaves on the run, so
train.run() reads as the sequence it is and each step can be followed on its own.
"""

import contextlib
import csv
import io
import os
import sys
import time
import warnings

import keras
import tensorflow as tf

from export.atomic import staged, write_atomically
from model.build import build_training, seed_states
from model.callbacks import RunCheckpoint, SampleGrid, StopOnNonFiniteLoss
from model.distribute import replica_spread, set_precision_policy
from pipeline.hints import condition_channels


SKIPPED_FILES = "skipped_files.txt"


@contextlib.contextmanager
def nothing_decodes_is_one_line():
    """The input pipeline's "no picture to train on" (every file failed to decode) as a ValueError."""
    from pipeline.dataset import NONE_DECODES

    try:
        yield
    except tf.errors.OpError as error:
        found = [line for line in error.message.splitlines() if NONE_DECODES in line]
        if not found:
            raise
        raise ValueError(found[0].split(f"{NONE_DECODES}: ", 1)[1].strip()) from None


def find_training_images(data_cfg, out, image_size):
    from pipeline import decode, synthetic
    from pipeline.headers import find_readable

    if data_cfg.data is None:
        # Drawn larger than the crops so that resizing and jitter behave as on real art.
        folder = os.path.join(out, "synthetic_data")
        paths = synthetic.write_dataset(folder, data_cfg.demo_images, size=image_size * 2, seed=0)
        return paths, folder
    paths = decode.list_image_files(data_cfg.data)
    good, _ = find_readable(paths)  # headers only: a file broken behind its header is skipped in the stream
    if not good:
        raise ValueError(f"none of the {len(paths)} image files in {data_cfg.data} is a picture the pipeline reads")
    root = data_cfg.data if os.path.isdir(data_cfg.data) else None
    return good, root


def find_sketch_partners(data_cfg, color_paths):
    """--sketches: the artist's own line art, matched to colour images by file name."""
    from pipeline import decode
    from pipeline.dataset import pair_by_name
    from pipeline.headers import find_readable

    sketches, _ = find_readable(decode.list_image_files(data_cfg.sketches))
    colors, sketches = pair_by_name(color_paths, sketches)
    if not colors:
        raise ValueError(f"no sketch in {data_cfg.sketches} has the file name of a colour image in {data_cfg.data}")
    return colors, dict(zip(colors, sketches))


def trim_history(path, finished_epochs):
    """Drop history rows of epochs a checkpoint does not cover (a run killed mid-save)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    # Rows that are not epochs (a second header left by two runs that once shared the folder) go too.
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) < finished_epochs]
    text = io.StringIO()
    csv.writer(text).writerows(kept)
    write_atomically(path, text.getvalue())


class TrainingRun:
    """config: a RunConfig; run_dir: the run directory (the chief's); out: where this worker writes."""

    def __init__(self, config, run_dir, out, strategy, chief=True, cache_dir=None, share=(0, 1)):
        """cache_dir: where the decoded pictures are kept on disk ("" for nowhere; default <out>/cache).
        share: (this worker's input pipeline, number of them) under multiworker (model.distribute.input_share)."""
        self.config, self.run_dir, self.out, self.share = config, run_dir, out, share
        self.cache_dir = os.path.join(out, "cache") if not cache_dir else cache_dir  # out: this worker's own
        if cache_dir and out != run_dir:  # another worker under a --cache-dir: a cache of its own beside the chief's
            self.cache_dir = os.path.join(cache_dir, os.path.basename(out))
        if not config.pipeline.disk_cache:
            self.cache_dir = None
        self.strategy, self.chief = strategy, chief
        self.sketch_task = config.data.task == "sketch"
        self.sgru = config.model.generator == "sgru"
        self.history_path = os.path.join(out, "history.csv")

    # -- inputs ------------------------------------------------------------------------------------
    def prepare_inputs(self):
        """List and split the pictures, and build the validation stream."""
        from pipeline.dataset import lab_example, paired_example, sketch_example, split_train_val
        data = self.config.data
        paths, root = find_training_images(data, self.out, self.config.pipeline.image_size)
        self.partner = None
        if data.sketches:
            paths, self.partner = find_sketch_partners(data, paths)
        self.train_paths, self.val_paths = split_train_val(paths, self.config.pipeline.val_fraction, root=root)
        print(f"{len(self.train_paths)} training and {len(self.val_paths)} validation images; "
              f"run directory {self.out}")
        self.make_example = (paired_example if self.partner else
                             sketch_example(data.sketch_method) if self.sketch_task else lab_example)
        if data.hints:
            from pipeline.hints import hinted_example

            self.make_example = hinted_example(self.make_example, strokes=self.sketch_task)
        batch_size = self.config.pipeline.batch_size
        from pipeline.dataset import SkippedFiles

        # Files broken behind a good header: left out of the stream, remembered for exact resumes. Each
        # worker reads only its share of the training files, so each keeps its own record in its folder.
        self.skipped = SkippedFiles(os.path.join(self.out, SKIPPED_FILES))
        self.val_ds = self.dataset(self.val_paths, training=False) if self.val_paths else None
        if self.val_ds is not None and self.strategy.num_replicas_in_sync > 1:
            # Distributed validation needs whole batches; the final evaluation still sees every image.
            if len(self.val_paths) < batch_size:
                print(f"note: fewer validation images ({len(self.val_paths)}) than one batch; no val_* losses "
                      "per epoch")
                self.val_ds = None
            else:
                self.val_ds = self.val_ds.unbatch().batch(batch_size, drop_remainder=True)
        self.steps = self.config.train.steps_per_epoch or max(1, len(self.train_paths) // batch_size)
        if len(self.train_paths) < self.share[1]:
            raise ValueError(f"{len(self.train_paths)} training pictures cannot be shared among {self.share[1]} "
                             "workers; add pictures or use fewer workers")
        if self.config.pipeline.cache:
            self.check_memory_cache_fits()

    def check_memory_cache_fits(self):
        """--cache keeps every training picture decoded in RAM: refused in one line when it cannot fit."""
        from pipeline.headers import available_memory, decoded_bytes

        load_size = self.config.pipeline.resolved_load_size
        index, count = self.share
        needed = decoded_bytes(self.train_paths[index::count], load_size, 4 if self.partner else 3)
        available = available_memory()
        if available is not None and needed > 0.8 * available:
            share = len(self.train_paths[index::count])
            raise ValueError(f"--cache would keep {share} pictures at {load_size} px in memory, about "
                             f"{needed / 2**30:.1f} GiB, and the machine has {available / 2**30:.1f} GiB available; "
                             "train without --cache (decoded pictures are then kept on disk, see --cache-dir)")

    def dataset(self, paths, training, start_step=0):
        """A resumed run's training stream starts at its global step: it sees the batches it missed."""
        from pipeline.dataset import build_dataset

        sketches = [self.partner[p] for p in paths] if self.partner else None
        built = build_dataset(paths, self.config.pipeline, training, make_example=self.make_example,
                              sketch_paths=sketches, start_element=start_step * self.config.pipeline.batch_size,
                              skipped=self.skipped, cache_dir=self.cache_dir,
                              share=self.share if training else (0, 1))
        # Under multiworker a training stream is this worker's own (build_dataset shares the files out),
        # so tf.distribute must not shard it again; a validation stream is the same on every worker,
        # which keeps its share of every batch.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF if training and self.share[1] > 1
            else tf.data.experimental.AutoShardPolicy.DATA)
        return built.with_options(options)

    # -- models ------------------------------------------------------------------------------------
    def build(self):
        """Networks, training model and optimizers under the strategy, compiled once to build the slots."""
        train = self.config.train
        self.policy = set_precision_policy(train.mixed_precision)
        keras.utils.set_random_seed(train.seed)
        with self.strategy.scope():
            (self.generator, self.discriminator, self.trainer, self.g_optimizer,
             self.d_optimizer) = build_training(
                self.config.model, train.lr_g, train.lr_d, train.beta1, train.beta2,
                3 if self.sketch_task else 2, train.gan_weight, self.config.data.vgg_weights,
                loss_scaling=self.policy == "mixed_float16",
                condition_channels=condition_channels(self.config.data.task, self.config.data.hints))
            self.compile_phase(adversarial=True)  # builds both optimizers' slots before any restore
            self.finished = tf.Variable(0, dtype=tf.int64, name="finished_epochs")
            self.epoch_start_step = tf.Variable(0, dtype=tf.int64, name="epoch_start_step")
        self.step = self.g_optimizer.iterations  # one generator update per training step: the global step

    def compile_phase(self, adversarial):
        train = self.config.train
        # The SGRU's perceptual loss keeps its paper scale (weight 1); its GAN term is opt-in.
        with self.strategy.scope():
            self.trainer.compile(self.g_optimizer, self.d_optimizer, gan_mode=train.gan_mode,
                                 l1_weight=1.0 if self.sgru else train.lambda_l1, n_critic=train.n_critic,
                                 label_smoothing=train.label_smoothing, rebalance=train.rebalance,
                                 adversarial=adversarial and (not self.sgru or train.gan_weight > 0),
                                 jit_compile=train.jit)

    # -- restore -----------------------------------------------------------------------------------
    def restore(self):
        """Continue from the chief's last checkpoint, if any (every worker restores the same one)."""
        checkpoint = tf.train.Checkpoint(
            generator=self.generator, discriminator=self.discriminator, g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer, epoch=self.finished, epoch_start_step=self.epoch_start_step,
            seed_states=seed_states(self.generator, self.trainer))
        latest = tf.train.latest_checkpoint(os.path.join(self.run_dir, "checkpoints"))
        self.manager = tf.train.CheckpointManager(checkpoint, os.path.join(self.out, "checkpoints"), max_to_keep=3)
        if self.config.train.init_from and not latest:  # a resumed run continues from its own checkpoint
            from model.init_from import initialise_from

            print(f"generator initialised from {initialise_from(self.generator, self.config.train.init_from)}")
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            done = self.steps_done_in_epoch()
            where = (f"epoch {int(self.finished.numpy()) + 1}, {done} of its steps done" if done
                     else f"after epoch {int(self.finished.numpy())}")
            print(f"resumed from step {int(self.step.numpy())} ({where}; {latest})")
        trim_history(self.history_path, int(self.finished.numpy()))

    def steps_done_in_epoch(self):
        return int(self.step.numpy() - self.epoch_start_step.numpy())

    # -- fit ---------------------------------------------------------------------------------------
    def render(self, condition, prediction, target):
        """The sample grid's panels: input, colouring, original as float RGB in [0, 1]."""
        from pipeline import color

        prediction = tf.cast(prediction, tf.float32)  # bfloat16/float16 under --mixed-precision
        condition = condition[..., :1]  # L* or the line art; hint channels (zero in validation) follow
        if self.sketch_task:  # everything in [-1, 1]; the sketch is gray; the SGRU's first colouring
            return [(tensor + 1.0) * 0.5 for tensor in (tf.tile(condition, [1, 1, 1, 3]), prediction[..., :3], target)]
        gray = color.model_lab_to_rgb(condition, tf.zeros_like(target))
        return gray, color.model_lab_to_rgb(condition, prediction), color.model_lab_to_rgb(condition, target)

    def callbacks(self):
        try:
            sample_condition, sample_target = next(iter((self.val_ds or self.dataset(self.train_paths, True))
                                                        .unbatch().batch(4)))
        except StopIteration:  # every validation picture failed to decode: show training pictures
            sample_condition, sample_target = next(iter(self.dataset(self.train_paths, True).unbatch().batch(4)))
        log_dir = os.path.join(self.out, "logs")
        return [
            StopOnNonFiniteLoss(),
            keras.callbacks.CSVLogger(self.history_path, append=True),
            keras.callbacks.TensorBoard(log_dir, write_graph=False),
            SampleGrid(sample_condition, sample_target, self.render, os.path.join(self.out, "samples"), log_dir),
            RunCheckpoint(self.manager, self.step, self.finished, self.epoch_start_step,
                          self.config.train.checkpoint_every),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self.report_skipped(epoch)),
        ]

    def report_skipped(self, epoch):
        count = self.skipped.take_epoch_count()
        if count:
            print(f"warning: epoch {epoch + 1}: {count} file(s) failed to decode and were left out "
                  f"(listed in {os.path.join(self.out, SKIPPED_FILES)})", file=sys.stderr)

    def fit(self):
        """L1 pretraining (if asked), then the adversarial phase, each resumed where it stopped."""
        train = self.config.train
        callbacks = self.callbacks()
        # A progress bar redrawn into a log file is unreadable: one line per epoch there.
        verbose = int(train.verbose) if train.verbose != "auto" else (1 if sys.stdout.isatty() else 2)
        began = time.time()
        for adversarial, phase_end in [(False, train.l1_pretrain_epochs), (True, train.epochs)]:
            phase_end = min(phase_end, train.epochs)
            if int(self.finished.numpy()) >= phase_end:
                continue
            print("L1 pretraining of the generator" if not adversarial else
                  "training the generator on the perceptual loss" if self.sgru and not train.gan_weight else
                  "training generator and discriminator")
            while int(self.finished.numpy()) < phase_end:
                self.compile_phase(adversarial)
                epoch, done = int(self.finished.numpy()), self.steps_done_in_epoch()
                # A run stopped mid-epoch first finishes that epoch's remaining steps.
                with self.strategy.scope(), warnings.catch_warnings():
                    # The validation stream's length is known only after its first pass (files that fail
                    # to decode are left out), and Keras says so once, as if data were missing.
                    warnings.filterwarnings("ignore", message="Your input ran out of data")
                    history = self.trainer.fit(
                        self.dataset(self.train_paths, True, start_step=int(self.step.numpy())),
                        epochs=epoch + 1 if done else phase_end, initial_epoch=epoch,
                        steps_per_epoch=self.steps - done if done else self.steps,
                        validation_data=self.val_ds, callbacks=callbacks, shuffle=False,
                        verbose=verbose)  # the dataset shuffles itself
                if self.trainer.stop_training:  # only StopOnNonFiniteLoss stops a fit early
                    self.stopped_on_non_finite(history)
        print(f"trained to epoch {int(self.finished.numpy())} in {time.time() - began:.0f} s")

    def stopped_on_non_finite(self, history):
        last = {name: values[-1] for name, values in history.history.items()}
        kept = (f"the last good checkpoint, {self.manager.latest_checkpoint}, is kept and resumes with the same "
                "command" if self.manager.latest_checkpoint else "no checkpoint was written")
        losses = ", ".join(f"{name} {value:.4g}" for name, value in last.items())
        raise FloatingPointError(f"training stopped at step {int(self.step.numpy())}: a loss became NaN or Inf "
                                 f"({losses}); {kept}")

    # -- finish ------------------------------------------------------------------------------------
    def deployable_generator(self):
        """A plain float32 generator outside any strategy, with the trained weights."""
        train = self.config.train
        if self.strategy.num_replicas_in_sync > 1 and train.strategy == "mirrored":
            print(f"{self.strategy.num_replicas_in_sync} replicas ended in sync: largest weight difference "
                  f"{replica_spread(self.generator.trainable_weights, self.strategy):.3g}")
        if self.policy == "float32" and train.strategy == "default":
            return self.generator
        keras.mixed_precision.set_global_policy("float32")
        generator = type(self.generator).from_config(self.generator.get_config())
        generator.set_weights(self.generator.get_weights())
        return generator

    def finish(self, quantize=()):
        """Save generator.keras; the chief also exports and evaluates the validation split."""
        generator = self.deployable_generator()
        generator_path = os.path.join(self.out, "generator.keras")
        with staged(generator_path) as temporary:
            generator.save(temporary)
        print(f"generator saved to {generator_path}")
        if not self.chief:
            return self.out

        from export.run_export import export_run

        export_run(self.out, generator=generator, quantize=quantize,
                   sample_image=(self.val_paths or self.train_paths)[0])
        if self.val_paths:
            from export.colorizer import Colorizer
            from export.evaluate import evaluate_to

            data = self.config.data
            evaluate_to(os.path.join(self.out, "evaluation"), Colorizer(generator=generator), self.val_paths,
                        data_label=f"validation split of {data.data or 'the demo data'}", model_label=self.out,
                        sketch_method=data.sketch_method if self.sketch_task else "xdog",
                        sketch_paths=[self.partner[p] for p in self.val_paths] if self.partner else None,
                        history_path=self.history_path, progress=False)
        return self.out
