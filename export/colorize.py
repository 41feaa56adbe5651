"""`irodori-colorize`: colour image files at their own resolution with an exported model."""

import argparse
import glob
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def latest_saved_model(runs_dir="runs"):
    """The newest SavedModel version under runs/*/export/*/<version>, or None."""
    candidates = [path for path in glob.glob(os.path.join(runs_dir, "*", "export", "*", "*"))
                  if os.path.basename(path).isdigit() and os.path.exists(os.path.join(path, "saved_model.pb"))]
    return max(candidates, key=os.path.getmtime, default=None)


def resolve_saved_model(path):
    """A version directory as given, or the highest version inside a model directory."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = [name for name in os.listdir(path) if name.isdigit()
                and os.path.exists(os.path.join(path, name, "saved_model.pb"))]
    if not versions:
        raise FileNotFoundError(f"{path} holds no SavedModel (saved_model.pb) nor version directories")
    return os.path.join(path, max(versions, key=int))


class Colorizer:
    """Colours float RGB images [1, H, W, 3] with a SavedModel or a .tflite model."""

    def __init__(self, model_path):
        import tensorflow as tf

        if model_path.endswith(".tflite"):
            from export import tflite

            self.interpreter = tflite.interpreter(model_path)
            self.size = int(self.interpreter.get_input_details()[0]["shape"][1])
            # a*b* (2 channels) means the grayscale task; RGB colourings mean sketches.
            outputs = int(self.interpreter.get_output_details()[0]["shape"][-1])
            self.task = "gray" if outputs == 2 else "sketch"
            self.kind = "tflite"
        else:
            self.signature = tf.saved_model.load(resolve_saved_model(model_path)).signatures["colorize_tuned"]
            self.kind = "saved_model"

    def __call__(self, rgb, saturation):
        import tensorflow as tf

        from export.colorize_graph import TASK_GRAPHS, to_uint8

        if self.kind == "saved_model":
            images = to_uint8(rgb)
            return self.signature(images=images, saturation=tf.constant(saturation, tf.float32))["colorized"]
        from export import tflite

        def network(condition):
            return tf.constant(tflite.run(self.interpreter, condition.numpy()))

        return to_uint8(TASK_GRAPHS[self.task](network, rgb, self.size, saturation))


def output_path(out_dir, path, used):
    stem = os.path.splitext(os.path.basename(path))[0]
    name, counter = f"{stem}.png", 1
    while name in used:  # same file name from different folders
        counter += 1
        name = f"{stem}_{counter}.png"
    used.add(name)
    return os.path.join(out_dir, name)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="irodori-colorize",
        description="Colour grayscale (or colour, which is re-coloured) images at their own resolution: "
        "the network runs at its trained size, its colours are upsampled and combined with each "
        "picture's full-resolution lightness. Writes one PNG per input into OUTDIR.")
    parser.add_argument("inputs", nargs="+", help="image files, folders (recursive) or glob patterns")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--model", help="a SavedModel (version or model directory) or a .tflite file "
                        "(default: the newest export under runs/)")
    parser.add_argument("--saturation", type=float, default=1.0, help="scale the predicted colours (1 = as predicted)")
    args = parser.parse_args(argv)

    model_path = args.model or latest_saved_model()
    if model_path is None:
        print("irodori-colorize: error: no exported model under runs/; train one with `python train.py` "
              "or pass --model", file=sys.stderr)
        return 2
    if not os.path.exists(model_path):
        print(f"irodori-colorize: error: model not found: {model_path}", file=sys.stderr)
        return 2

    import keras
    import tensorflow as tf

    from pipeline.decode import decode_image, list_image_files, short_error

    paths = []
    for source in args.inputs:
        try:
            paths += list_image_files(source)
        except FileNotFoundError as error:
            print(f"warning: {error}", file=sys.stderr)
    if not paths:
        print("irodori-colorize: error: no input images", file=sys.stderr)
        return 2
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        print(f"irodori-colorize: error: cannot create {args.out}: {error.strerror}", file=sys.stderr)
        return 2

    colorizer = Colorizer(model_path)
    progress = keras.utils.Progbar(len(paths), unit_name="image")
    used, failed = set(), 0
    for path in paths:
        try:
            rgb = decode_image(tf.io.read_file(path))[None]
            colored = colorizer(rgb, args.saturation)[0]
            tf.io.write_file(output_path(args.out, path, used), tf.io.encode_png(colored))
        except tf.errors.OpError as error:
            failed += 1
            print(f"\nwarning: skipping {path}: {short_error(error)}", file=sys.stderr)
        progress.add(1)
    print(f"coloured {len(paths) - failed} of {len(paths)} images into {args.out}"
          + (f"; {failed} skipped" if failed else ""))
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main())
