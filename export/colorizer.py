"""One interface over the three forms a trained generator takes: SavedModel, .tflite, .keras.

colorize, evaluate and the training run's own evaluation all colour through it, so the
numbers a user reads are for the same computation they deploy.
"""

import glob
import os


def saved_model_versions(model_dir, complete=True):
    """The integer version directories of a TF Serving model directory, ascending.

    complete: only those holding a saved_model.pb (a version being written has none yet).
    """
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir) if name.isdigit()
                  and (not complete or os.path.exists(os.path.join(model_dir, name, "saved_model.pb"))))


def resolve_saved_model(path):
    """A version directory as given, or the highest version inside a model directory."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = saved_model_versions(path)
    if not versions:
        raise FileNotFoundError(f"{path} holds no SavedModel (saved_model.pb) nor version directories")
    return os.path.join(path, str(versions[-1]))


def newest_version(model_dirs):
    """The most recently written complete SavedModel version inside any of these model directories, or None."""
    candidates = [os.path.join(model_dir, str(version))
                  for model_dir in model_dirs for version in saved_model_versions(model_dir)]
    return max(candidates, key=os.path.getmtime, default=None)


def latest_saved_model(runs_dir="runs"):
    """The most recently written SavedModel version under runs/*/export/*/<version>, or None."""
    return newest_version(glob.glob(os.path.join(runs_dir, "*", "export", "*")))


def run_saved_model(run_dir):
    """The most recently written SavedModel version of one training run (<run>/export/*/<version>), or None."""
    return newest_version(glob.glob(os.path.join(run_dir, "export", "*")))


# The SavedModel signature Colorizer calls, by (task, with hints): every colouring of a sketch.
SIGNATURES = {("gray", False): "colorize_tuned", ("gray", True): "colorize_hinted",
              ("sketch", False): "colorize_all", ("sketch", True): "colorize_all_hinted"}


def _stride(generator):
    """The side every input must be a multiple of: 2**num_downs (U-Net), 2**num_levels (SGRU);
    1 for a generator that records neither (e.g. a test's slicing network, which takes any size)."""
    for name in ("num_downs", "num_levels"):
        if getattr(generator, name, None):
            return 2 ** int(getattr(generator, name))
    return 1


MAX_RENDER_SIZE = 4096  # shorter side: a 64-filter U-Net needs several GB of activations above it


def working_size(height, width, render_size, stride=1):
    """(h, w) at which the network colours a height x width picture for a render size: the
    shorter side render_size, the longer one in proportion, rounded to the nearest multiple of
    stride (at least stride), so the picture keeps its shape within stride / 2 px."""
    short, long = min(height, width), max(height, width)
    other = max(stride, round(long * render_size / max(short, 1) / stride) * stride)
    return (render_size, other) if height <= width else (other, render_size)


def _task_of_output_channels(channels):
    """a*b* (2 channels) is the grayscale task; 3K channels are K RGB colourings of a sketch."""
    return ("gray", 1) if channels == 2 else ("sketch", channels // 3)


class Colorizer:
    """Colours pictures at any size: uint8 [N, H, W, 1|3|4] (or float RGB in [0, 1]) -> uint8 [N, K, H, W, 3].

    Built from a path (SavedModel directory, .tflite or .keras file) or from a generator
    in memory. task is "gray" (a*b* prediction) or "sketch"; colorings is K, the colourings
    per input (K > 1 for the Swish-Gated Residual U-Net); size is the trained input size
    (None for SavedModels exported before it was recorded); hinted says whether the model was
    trained with colour hints and so takes them (see colorize).
    """

    def __init__(self, model_path=None, generator=None):
        import tensorflow as tf

        if generator is not None or model_path.endswith(".keras"):
            if generator is None:
                import keras

                import model.sgru  # noqa: F401  (registers the generator classes for loading)
                import model.unet  # noqa: F401

                generator = keras.models.load_model(model_path)
            self.generator, self.kind = generator, "keras"
            self.size = int(generator.image_size)  # inputs are any-size; this is what it trained at
            self.task, self.colorings = _task_of_output_channels(int(generator.output_shape[-1]))
            self.in_channels = int(generator.input_shape[-1])
            self.stride = _stride(generator)
        elif model_path.endswith(".tflite"):
            from export import tflite

            self.interpreter, self.kind = tflite.interpreter(model_path), "tflite"
            self.size = int(self.interpreter.get_input_details()[0]["shape"][1])
            channels = int(self.interpreter.get_output_details()[0]["shape"][-1])
            self.task, self.colorings = _task_of_output_channels(channels)
            self.in_channels = int(self.interpreter.get_input_details()[0]["shape"][-1])
        else:
            loaded = tf.saved_model.load(resolve_saved_model(model_path))
            signatures, self.kind = loaded.signatures, "saved_model"
            self.size = int(loaded.trained_size.numpy()) if hasattr(loaded, "trained_size") else None
            # Sketch exports carry colorize_all; grayscale ones have one colouring. Hinted
            # exports add the *_hinted signatures.
            self.signatures = signatures
            if "colorize_all" in signatures:
                self.task = "sketch"
                self.colorings = signatures["colorize_all"].structured_outputs["colorings"].shape[1]
            else:
                self.task, self.colorings = "gray", 1
            self.in_channels = None
            self.hinted = "colorize_hinted" in signatures
        if self.kind != "saved_model":
            self.hinted = self.in_channels > 1

    def render_size_problem(self, render_size):
        """Why the network cannot colour at a working size whose shorter side is render_size
        (one line, to follow "render size N: "), or None."""
        if self.kind == "tflite":
            return f"a .tflite model has a fixed {self.size} x {self.size} input and colours at that size only"
        if self.kind == "saved_model":
            return f"a SavedModel's signatures run the network at its trained size ({self.size} px) only"
        if render_size > MAX_RENDER_SIZE:
            return (f"is above {MAX_RENDER_SIZE} px, the largest working size (the network's memory grows with "
                    "its area)")
        if render_size < 1 or render_size % self.stride:
            halvings = self.stride.bit_length() - 1
            return (f"must be a positive multiple of {self.stride} (the network halves a picture "
                    f"{halvings} times)")
        return None

    def network(self, condition):
        """The bare network: normalised condition [N, S, S, 1 (+ hint channels)] -> raw output
        [N, S, S, C] (h x w for a render size). A hinted network given the condition alone gets
        zero hint channels."""
        import numpy as np
        import tensorflow as tf

        from export.colorize_graph import with_zero_hints

        condition = with_zero_hints(condition, self.in_channels)
        if self.kind == "keras":
            return self.generator(condition, training=False)
        from export import tflite

        # The interpreter's input has batch 1.
        return tf.constant(np.concatenate([tflite.run(self.interpreter, row[None]) for row in condition.numpy()]))

    def __call__(self, images, saturation=1.0, hints=None, render_size=None):
        """uint8 [N, H, W, 1|3|4] (or float RGB in [0, 1]) -> uint8 colourings [N, K, H, W, 3], NumPy."""
        import numpy as np

        colorings = self.colorize(images, saturation, hints, render_size)
        return colorings if isinstance(colorings, np.ndarray) else colorings.numpy()

    def colorize(self, images, saturation=1.0, hints=None, render_size=None):
        """As __call__, without the copy into NumPy that a SavedModel's tensor would need: a
        tf.Tensor for SavedModels, a NumPy array otherwise (irodori-colorize writes either).

        hints: None, or uint8 RGBA [N, H, W, 4] at the pictures' size (export.hints makes them
        from points or a hint image); only for a model trained with hints.
        render_size: None (the network sees the picture squeezed to its trained size, S x S), or
        the shorter side of the working size the network sees instead, the picture's shape kept
        (working_size; .keras models only, see render_size_problem).
        """
        import tensorflow as tf

        from export.colorize_graph import as_uint8_rgb, colorize_rgb, sketch_colorings
        from pipeline.color import to_uint8

        if hints is not None and not self.hinted:
            raise ValueError("this model was trained without hints (--no-hints): it takes none; colour without "
                             "hints, or with a model trained with hints")
        size = self.size
        if render_size is not None:
            problem = self.render_size_problem(render_size)
            if problem:
                raise ValueError(f"render size {render_size}: {problem}")
            images = as_uint8_rgb(images)  # its shape sets the working size
            size = working_size(int(images.shape[1]), int(images.shape[2]), render_size, self.stride)
            if hints is not None:
                # Refused in one line here, eagerly; the graph's own check reports an assertion.
                hints = tf.convert_to_tensor(hints, tf.uint8)
                if hints.shape.rank != 4 or list(hints.shape[:3]) != list(images.shape[:3]) or hints.shape[-1] != 4:
                    raise ValueError(f"hints must be uint8 RGBA [N, H, W, 4] of the pictures' own size; received "
                                     f"{list(hints.shape)} for pictures {list(images.shape[:3])}")
        elif self.kind == "saved_model":
            name = SIGNATURES[self.task, hints is not None]
            inputs = {"images": to_uint8(images), "saturation": tf.constant(saturation, tf.float32)}
            if hints is not None:
                inputs["hints"] = tf.convert_to_tensor(hints, tf.uint8)
            outputs = self.signatures[name](**inputs)
            return outputs["colorings"] if self.task == "sketch" else outputs["colorized"][:, None]
        if self.task == "sketch":
            return sketch_colorings(self.network, images, size, saturation, hints)
        return colorize_rgb(self.network, images, size, saturation, hints)[:, None]
