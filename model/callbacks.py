"""Callbacks for the training run: sample grids, image summaries, checkpoints."""

import os

import cv2
import keras
import numpy as np
import tensorflow as tf

from export.pictures import write_png
from pipeline.color import to_uint8


def sample_grid(rows):
    """rows: list of lists of uint8 RGB images of equal size -> one uint8 RGB grid image."""
    return np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, colour a fixed batch and save `samples/epoch_NNN.png`.

    Each row is one example: input | generated | ground truth, as seed 002's visualize.
    The same grid goes to TensorBoard as an image summary.
    render(condition, prediction, target) -> three float RGB batches in [0, 1].
    """

    def __init__(self, condition, target, render, directory, log_dir=None, min_side=128):
        super().__init__()
        self.condition = condition
        self.target = target
        self.render = render
        self.directory = directory
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "images")) if log_dir else None
        self.min_side = min_side

    def on_epoch_end(self, epoch, logs=None):
        prediction = self.model.generator(self.condition, training=False)
        panels = [to_uint8(batch).numpy() for batch in self.render(self.condition, prediction, self.target)]
        grid = sample_grid([[panel[i] for panel in panels] for i in range(len(panels[0]))])
        side = panels[0].shape[1]
        if side < self.min_side:  # small training crops are hard to judge at 1:1
            scale = int(np.ceil(self.min_side / side))
            grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        write_png(os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png"), grid)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("samples (input | generated | truth)", grid[None], step=epoch + 1)
            self.writer.flush()


def all_finite(logs):
    """True when every scalar in a Keras logs dict is a finite number."""
    return all(np.isfinite(float(np.asarray(value))) for value in (logs or {}).values() if np.ndim(value) == 0)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops fit at the first step whose losses are NaN or Inf.

    keras.callbacks.TerminateOnNaN watches only a "loss" entry, which the GAN's logs
    (d_loss, g_gan, g_l1, g_total) do not have.
    """

    def on_train_batch_end(self, batch, logs=None):
        if not all_finite(logs):
            self.model.stop_training = True


class RunCheckpoint(keras.callbacks.Callback):
    """Saves a tf.train.CheckpointManager checkpoint every `every` steps and after every epoch.

    The checkpoint holds both networks, both optimizers (whose iteration counter is the
    global step), the number of finished epochs and the step at which the current epoch
    began, which is everything a run needs to continue where it stopped. A state whose
    losses are NaN or Inf is never saved, so the last checkpoint is always a good one.
    Checkpoints are numbered by global step.
    """

    def __init__(self, manager, step, finished_epochs, epoch_start_step, every=None):
        super().__init__()
        self.manager = manager
        self.step = step  # a variable: the generator optimizer's iteration counter
        self.finished_epochs = finished_epochs
        self.epoch_start_step = epoch_start_step
        self.every = every

    def _save(self):
        self.manager.save(checkpoint_number=int(self.step.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        last_of_epoch = batch + 1 == self.params.get("steps")  # saved by on_epoch_end instead
        if self.every and int(self.step.numpy()) % self.every == 0 and not last_of_epoch and all_finite(logs):
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if not all_finite(logs):  # e.g. a NaN validation loss: the epoch is not counted or saved
            self.model.stop_training = True
            return
        self.finished_epochs.assign(epoch + 1)
        self.epoch_start_step.assign(self.step)
        self._save()
