"""SavedModel export for TF Serving, with pre/post-processing inside the graph.

Signatures (a client needs only TensorFlow or TF Serving, no Irodori, no tensorflow-io):
  serving_default:   images uint8 [N, H, W, 1|3|4]             -> colorized uint8 [N, H, W, 3]
  colorize_tuned:    images uint8 [N, H, W, 1|3|4], saturation float32 [] -> colorized
  colorize_bytes:    image_bytes string [N] (PNG/JPEG/WebP/...)  -> png_bytes string [N]
Sketch models (K colourings per sketch) add
  colorize_all:      images uint8 [N, H, W, 1|3|4], saturation float32 [] -> colorings uint8 [N, K, H, W, 3]
while the three above answer with the first colouring.
Models trained with hints (train.py's default) add
  colorize_hinted:        images, hints uint8 RGBA [N, H, W, 4] at the pictures' size, saturation -> colorized
  colorize_bytes_hinted:  image_bytes string [N], hint_png_bytes string [N] (RGBA PNGs; "" = no
                          hints for that picture) -> png_bytes string [N]
and sketch models colorize_all_hinted (images, hints, saturation -> colorings). The signatures
without hints answer as before: a hinted network given no hints sees zero hint channels.
RGBA is composited on white, as files are; an empty batch gives an empty batch; pictures are
taken as sent (no EXIF rotation: a client sends what it shows).
Layout: <export_dir>/<model_name>/<version>/ as TF Serving expects, plus models.config.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from export.atomic import write_atomically
from export.colorizer import saved_model_versions
from export.colorize_graph import TASK_GRAPHS, as_uint8_rgb, sketch_colorings, with_zero_hints
from pipeline.decode import decode_image

# Unknown rank, so that a picture sent without its batch dimension meets our own check
# ("images must be uint8 [N, H, W, C]") rather than a kernel deep inside the graph.
IMAGES = tf.TensorSpec(None, tf.uint8, name="images")
SATURATION = tf.TensorSpec([], tf.float32, name="saturation")
HINTS = tf.TensorSpec(None, tf.uint8, name="hints")
IMAGE_BYTES = tf.TensorSpec([None], tf.string, name="image_bytes")


class ColorizerModule(tf.Module):
    """Holds the generator and the serving functions."""

    def __init__(self, generator, model_size, task="gray"):
        super().__init__(name="irodori_colorizer")
        if task not in TASK_GRAPHS:
            raise ValueError(f"task must be one of {tuple(TASK_GRAPHS)}; received task={task!r}")
        self.generator = generator
        self.model_size = int(model_size)
        self.task = task
        # Saved with the model so tools can run it at its trained size (e.g. evaluation).
        self.trained_size = tf.Variable(self.model_size, trainable=False, name="trained_size")
        self.in_channels = int(generator.input_shape[-1])
        self.hinted = self.in_channels > 1  # L* or line art, plus hint channels when trained with hints

    def network(self, condition):
        return self.generator(with_zero_hints(condition, self.in_channels), training=False)

    def _batch(self, images, colorize, empty_shape):
        """colorize(uint8 RGB batch) unless the batch is empty, which gives an empty batch."""
        rgb = as_uint8_rgb(images)
        shape = tf.shape(rgb)
        return tf.cond(shape[0] > 0, lambda: colorize(rgb),
                       lambda: tf.zeros(tf.concat([[0], empty_shape, shape[1:]], axis=0), tf.uint8))

    def _first(self, images, saturation, hints=None):
        colorized = self._batch(
            images, lambda rgb: TASK_GRAPHS[self.task](self.network, rgb, self.model_size, saturation, hints),
            tf.zeros([0], tf.int32))
        return tf.ensure_shape(colorized, [None, None, None, 3])  # so the signature says [N, H, W, 3]

    def serve_images(self, images):
        return {"colorized": self._first(images, 1.0)}

    def serve_tuned(self, images, saturation):
        return {"colorized": self._first(images, saturation)}

    def serve_bytes(self, image_bytes):
        def one(contents):
            rgb = decode_image(contents, dtype=tf.uint8)[None]
            return tf.io.encode_png(TASK_GRAPHS[self.task](self.network, rgb, self.model_size)[0])

        # One picture at a time: several big files decoded at once would multiply the peak memory.
        return {"png_bytes": tf.map_fn(one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string),
                                       parallel_iterations=1)}

    def serve_hinted(self, images, hints, saturation):
        return {"colorized": self._first(images, saturation, hints)}

    def serve_bytes_hinted(self, image_bytes, hint_png_bytes):
        def one(pair):
            contents, hint_contents = pair
            rgb = decode_image(contents, dtype=tf.uint8)[None]

            def hinted():
                hints = tf.io.decode_png(hint_contents)
                is_rgba = tf.debugging.Assert(tf.equal(tf.shape(hints)[-1], 4), [
                    "hint_png_bytes must be RGBA PNGs (transparent pixels: no hint); received channels",
                    tf.shape(hints)[-1]])
                with tf.control_dependencies([is_rgba]):
                    return TASK_GRAPHS[self.task](self.network, rgb, self.model_size, hints=hints[None])

            colored = tf.cond(tf.strings.length(hint_contents) > 0, hinted,
                              lambda: TASK_GRAPHS[self.task](self.network, rgb, self.model_size))
            return tf.io.encode_png(colored[0])

        # One hint entry per picture, or a shifted list would colour pictures with others' hints.
        paired = tf.debugging.assert_equal(tf.size(image_bytes), tf.size(hint_png_bytes), message=(
            "hint_png_bytes needs one entry per image_bytes entry (\"\" = no hints for that picture)"))
        with tf.control_dependencies([paired]):
            return {"png_bytes": tf.map_fn(one, (image_bytes, hint_png_bytes),
                                           fn_output_signature=tf.TensorSpec([], tf.string), parallel_iterations=1)}

    def _all_colorings(self, images, saturation, hints=None):
        count = self.generator.output_shape[-1] // 3
        colorings = self._batch(
            images, lambda rgb: sketch_colorings(self.network, rgb, self.model_size, saturation, hints),
            tf.constant([count]))
        return {"colorings": tf.ensure_shape(colorings, [None, count, None, None, 3])}

    def serve_all_colorings(self, images, saturation):
        return self._all_colorings(images, saturation)

    def serve_all_colorings_hinted(self, images, hints, saturation):
        return self._all_colorings(images, saturation, hints)


def next_version(model_dir):
    """1 + the highest integer version directory in model_dir (1 for a new model)."""
    return max(saved_model_versions(model_dir, complete=False), default=0) + 1


def write_models_config(export_dir, model_name):
    """models.config for `tensorflow_model_server --model_config_file`, paths as mounted at /models."""
    text = ("model_config_list {\n  config {\n"
            f'    name: "{model_name}"\n    base_path: "/models/{model_name}"\n'
            '    model_platform: "tensorflow"\n  }\n}\n')
    return write_atomically(os.path.join(export_dir, "models.config"), text)


def export_saved_model(generator, export_dir, model_size, model_name="irodori", task="gray"):
    """Write a new version of the colouriser; returns its directory.

    The SavedModel is written into a temporary directory beside the target and renamed
    into place, so an existing version is never overwritten and a half-written one never
    appears under a version number.
    """
    model_dir = os.path.join(export_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    module = ColorizerModule(generator, model_size, task)
    hint_bytes = tf.TensorSpec([None], tf.string, name="hint_png_bytes")
    # (name, method, inputs, wanted): traced here, so a model gets only the signatures it can serve.
    endpoints = [
        ("serving_default", module.serve_images, [IMAGES], True),
        ("colorize_tuned", module.serve_tuned, [IMAGES, SATURATION], True),
        ("colorize_bytes", module.serve_bytes, [IMAGE_BYTES], True),
        ("colorize_all", module.serve_all_colorings, [IMAGES, SATURATION], task == "sketch"),
        ("colorize_hinted", module.serve_hinted, [IMAGES, HINTS, SATURATION], module.hinted),
        ("colorize_bytes_hinted", module.serve_bytes_hinted, [IMAGE_BYTES, hint_bytes], module.hinted),
        ("colorize_all_hinted", module.serve_all_colorings_hinted, [IMAGES, HINTS, SATURATION],
         module.hinted and task == "sketch"),
    ]
    signatures = {name: tf.function(method, input_signature=inputs).get_concrete_function()
                  for name, method, inputs, wanted in endpoints if wanted}
    staging = tempfile.mkdtemp(prefix=".staging-", dir=model_dir)
    try:
        tf.saved_model.save(module, staging, signatures=signatures)
        version = next_version(model_dir)
        target = os.path.join(model_dir, str(version))
        os.rename(staging, target)  # fails if a version appeared meanwhile (unless left as an empty folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_models_config(export_dir, model_name)
    return target
