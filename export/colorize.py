"""`irodori-colorize`: colour image files at their own resolution with an exported model.

Models trained with hints also take colour hints (--hints / --hint-image): a points JSON file
or an RGBA hint image per picture, in the picture's own upright pixel coordinates, matched by
name when a folder is given (page.png -> page.hints.json or page.json for --hints,
page_hints.png or page_hints.webp for --hint-image). Every hints file is checked before
anything is written.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def unique_stem(path, used):
    """The input's file name without extension, numbered when two inputs share it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, counter = stem, 1
    while name in used:  # same file name from different folders
        counter += 1
        name = f"{stem}_{counter}"
    used.add(name)
    return name


def output_names(stem, colorings, pick=None, sheet=True):
    """The files one input becomes: <stem>.png for one colouring (or --pick K); for several,
    <stem>_1.png ... <stem>_K.png and, with sheet, <stem>_sheet.png."""
    if pick is not None or colorings == 1:
        return [f"{stem}.png"]
    return [f"{stem}_{index}.png" for index in range(1, colorings + 1)] + ([f"{stem}_sheet.png"] if sheet else [])


def write_colorings(out_dir, stem, sketch, colorings, pick=None, sheet=True):
    """Write one input's results (named as output_names says); returns the paths written.

    The sheet shows the input and every colouring, numbered as --pick counts them.
    """
    from export.pictures import contact_sheet, write_png

    names = output_names(stem, len(colorings), pick, sheet)
    if pick is not None:
        return [write_png(os.path.join(out_dir, names[0]), colorings[pick - 1])]
    written = [write_png(os.path.join(out_dir, name), coloring) for name, coloring in zip(names, colorings)]
    if sheet and len(colorings) > 1:
        labels = ["input"] + [str(index) for index in range(1, len(colorings) + 1)]
        written.append(write_png(os.path.join(out_dir, names[-1]), contact_sheet([sketch, *colorings], labels)))
    return written


def check_model_fits(colorizer, task, pick):
    """One-line reasons why the flags do not fit the model, or None."""
    if task and task != colorizer.task:
        kind = "grayscale images (a*b* output)" if colorizer.task == "gray" else "sketches"
        return f"the model colours {kind}, not --task {task}"
    if pick is not None:
        if pick < 1:
            return f"--pick counts colourings from 1; received {pick}"
        if colorizer.colorings is not None and pick > colorizer.colorings:
            return f"--pick {pick}: the model gives {colorizer.colorings} colouring(s) per input"
    return None


def keras_model_beside(model_path):
    """The training run's generator.keras for a SavedModel under <run>/export/<name>[/<version>], or None."""
    folder = os.path.abspath(model_path)
    for _ in range(3):
        folder = os.path.dirname(folder)
        if os.path.isfile(os.path.join(folder, "generator.keras")):
            return os.path.join(folder, "generator.keras")
    return None


def upright_size(path):
    """(width, height) of a picture as the artist sees it (after EXIF orientation), read from the
    header by Pillow without decoding the pixels; None when Pillow cannot read it (the decoder
    then reports the file, and its hints are checked against the decoded size)."""
    import io
    import warnings

    from PIL import Image

    from pipeline.decode import exif_orientation

    try:
        with open(path, "rb") as f:
            contents = f.read()
        with warnings.catch_warnings():  # size limits are the decoder's (MAX_MEGAPIXELS) to enforce
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(contents)) as image:
                width, height = image.size
    except Exception:
        return None
    return (height, width) if exif_orientation(contents) in (5, 6, 7, 8) else (width, height)


def is_hints_file(path, hints_source):
    """True for a listed picture that is a hints file, not a picture to colour: the hints source
    itself, or a <name>_hints.png/.webp directly inside a hints folder."""
    from export.hints import HINT_IMAGE_SUFFIXES

    if not os.path.isdir(hints_source):
        return os.path.realpath(path) == os.path.realpath(hints_source)
    return (os.path.dirname(os.path.realpath(path)) == os.path.realpath(hints_source)
            and os.path.basename(path).endswith(HINT_IMAGE_SUFFIXES))  # the names hints_for looks for


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="irodori-colorize",
        description="Colour images at their own resolution with an exported model. Grayscale models "
        "(colour inputs are re-coloured) run at their trained size (or --render-size) and their colours are "
        "combined with each picture's full-resolution lightness: one PNG per input. Sketch models colour line art; "
        "when they give several colourings, each is written as <name>_<k>.png plus a contact sheet "
        "<name>_sheet.png, or only one with --pick K. Models trained with hints take colour hints "
        "(--hints or --hint-image) in each picture's own pixel coordinates, upright as it is shown "
        "(after EXIF orientation); all hints files are checked before anything is written.")
    parser.add_argument("inputs", nargs="+", help="image files, folders (recursive) or glob patterns")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--model", help="a SavedModel (version or model directory), a .tflite file or a "
                        "training run's generator.keras (default: the newest export under runs/)")
    parser.add_argument("--saturation", type=float, default=1.0, help="scale the predicted colours (1 = as predicted)")
    parser.add_argument("--task", choices=("gray", "sketch"),
                        help="what the inputs are; checked against the model, which knows its task")
    parser.add_argument("--pick", type=int, metavar="K",
                        help="sketch models: write only colouring K (1-based, as numbered on the sheet)")
    parser.add_argument("--no-sheet", dest="sheet", action="store_false",
                        help="sketch models: do not write the <name>_sheet.png contact sheet")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that already exist (default: keep them and skip those inputs); "
                        "an input picture is never replaced")
    parser.add_argument("--render-size", metavar="N",
                        help="run the network at a working size whose shorter side is N px (the picture's shape "
                        "kept, the longer side rounded to the network's stride) instead of squeezing the picture "
                        "to the trained size; the colours are still brought back to the full-size picture. Meant for "
                        "big pictures (1-2 MP art), whose detail the trained size blurs away; it helps when the "
                        "model learnt that detail (trained on crops of big pictures), and can hurt a model that "
                        "saw whole pictures at its size (measure: benchmarks/render_size.py). Costs time and "
                        "memory roughly with the working area. N must be a multiple of 2**num_downs (the stride), at "
                        "most 4096; "
                        "N above the picture's shorter side is allowed (the picture is enlarged for the network). "
                        ".keras models only (a SavedModel or .tflite runs at its trained size); default: the "
                        "trained size")
    hint_flags = parser.add_mutually_exclusive_group()
    hint_flags.add_argument("--hints", metavar="PATH",
                            help="colour hints as points: a JSON file of [x, y, r, g, b] or [x, y, r, g, b, size] "
                            "(a size x size px square; default 1) in the picture's pixels, x to the right and y "
                            "down from the top-left of the upright picture, for one input picture; or a folder "
                            "where each picture's points are found by name (page.png -> page.hints.json or "
                            "page.json); pictures without one are coloured automatically. Only for models "
                            "trained with hints")
    hint_flags.add_argument("--hint-image", metavar="PATH",
                            help="colour hints as PaintsChainer draws them: an RGBA PNG or WebP of the picture's "
                            "upright size whose non-transparent pixels are the hints, for one input picture; or a "
                            "folder matched by name (page.png -> page_hints.png or page_hints.webp; it may be the "
                            "input folder: its *_hints.png and *_hints.webp files are then hints, not pictures "
                            "to colour)")
    args = parser.parse_args(argv)
    if args.render_size is not None:
        if not args.render_size.strip().isdecimal() or int(args.render_size) < 1:
            print(f"irodori-colorize: error: --render-size takes a positive number of pixels; received "
                  f"{args.render_size!r}", file=sys.stderr)
            return 2
        args.render_size = int(args.render_size)
    hints_source = args.hints or args.hint_image
    if hints_source is not None and not os.path.exists(hints_source):
        print(f"irodori-colorize: error: no such hints file or folder: {hints_source}", file=sys.stderr)
        return 2

    from export.colorizer import latest_saved_model

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

    from export.colorizer import Colorizer
    from export.hints import HintError, check_form, hints_for, load_hints
    from export.outputs import InputWouldBeOverwritten, is_inside, refuse_inputs, skipped_line, split_existing
    from pipeline.decode import list_image_files, read_image, short_error

    paths, earlier_outputs, hint_files = [], 0, []
    for source in args.inputs:
        try:
            listed = list_image_files(source)
        except FileNotFoundError as error:
            print(f"warning: {error}", file=sys.stderr)
            continue
        if not os.path.isfile(source):  # a folder or pattern that holds -o: our earlier outputs are no inputs
            kept = [path for path in listed if not is_inside(path, args.out)]
            earlier_outputs += len(listed) - len(kept)
            listed = kept
        if hints_source is not None:  # a hints file is never a picture to colour
            hint_files += [path for path in listed if is_hints_file(path, hints_source)]
            listed = [path for path in listed if not is_hints_file(path, hints_source)]
        paths += listed
    if earlier_outputs:
        print(f"left out {earlier_outputs} picture(s) inside the output folder {args.out}", file=sys.stderr)
    if not paths:
        print("irodori-colorize: error: no input images", file=sys.stderr)
        return 2
    if hints_source is not None and not os.path.isdir(hints_source) and len(paths) > 1:
        print(f"irodori-colorize: error: one hints file ({hints_source}) for {len(paths)} pictures; "
              "give a folder of hints files named after the pictures", file=sys.stderr)
        return 2

    colorizer = Colorizer(model_path)
    problem = check_model_fits(colorizer, args.task, args.pick)
    if problem:
        print(f"irodori-colorize: error: {problem}", file=sys.stderr)
        return 2
    problem = colorizer.render_size_problem(args.render_size) if args.render_size is not None else None
    if problem:
        if colorizer.kind != "keras":
            beside = keras_model_beside(model_path)
            problem += "; give --model the training run's generator.keras" + (f" ({beside})" if beside else "")
        print(f"irodori-colorize: error: --render-size {args.render_size}: {problem}", file=sys.stderr)
        return 2
    if hints_source is not None and not colorizer.hinted:
        flag = "--hints" if args.hints else "--hint-image"
        print(f"irodori-colorize: error: the model was trained without hints; colour without {flag}, "
              "or with a model trained with hints", file=sys.stderr)
        return 2
    used = set()
    stems = {path: unique_stem(path, used) for path in paths}
    planned = {path: [os.path.join(args.out, name)
                      for name in output_names(stems[path], colorizer.colorings or 1, args.pick, args.sheet)]
               for path in paths}
    form = "points" if args.hints else "image"
    all_hints = {path: hints_for(path, hints_source, form) for path in paths} if hints_source else {}
    try:  # hints files are inputs too: no output may land on one
        refuse_inputs([output for outputs in planned.values() for output in outputs],
                      paths + hint_files + [hint_path for hint_path in all_hints.values() if hint_path])
    except InputWouldBeOverwritten as error:
        print(f"irodori-colorize: error: {error}", file=sys.stderr)
        return 2
    to_write, skipped = split_existing(planned, args.overwrite)
    # Every hints file that will be used is read and checked now, so a bad one costs no output.
    hint_paths = {path: all_hints[path] for path in to_write} if hints_source else {}
    try:
        for path, hint_path in hint_paths.items():
            if hint_path:
                check_form(hint_path, form)
            size = upright_size(path) if hint_path else None
            if size is not None:
                load_hints(hint_path, *size)
    except HintError as error:
        print(f"irodori-colorize: error: {error}", file=sys.stderr)
        return 2
    if hint_files:
        print(f"left out {len(hint_files)} hints file(s) of {hints_source} from the pictures to colour",
              file=sys.stderr)
    if skipped:
        print(skipped_line([planned[path][0] for path in skipped]), file=sys.stderr)
    unhinted = sum(hint_path is None for hint_path in hint_paths.values())
    if unhinted:
        print(f"{unhinted} picture(s) had no hints file; coloured automatically", file=sys.stderr)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        print(f"irodori-colorize: error: cannot create {args.out}: {error.strerror}", file=sys.stderr)
        return 2

    progress = keras.utils.Progbar(len(to_write), unit_name="image")
    failed = 0
    for path in to_write:
        try:
            picture = read_image(path, dtype=tf.uint8)  # upright, as the artist sees it
            hints = None
            if hint_paths.get(path):  # checked above; read again so that no folder's hints sit in memory
                hints = load_hints(hint_paths[path], int(picture.shape[1]), int(picture.shape[0]))[None]
            colorings = colorizer.colorize(picture[None], args.saturation, hints=hints,
                                           render_size=args.render_size)[0]  # no copy of a big result
            if args.pick is not None and args.pick > len(colorings):
                raise ValueError(f"--pick {args.pick}: the model gives {len(colorings)} colouring(s)")
            if len(colorings) == 1:
                picture = None  # only sheets show the input: let a big picture's memory go before encoding
            else:
                picture = picture.numpy()
            write_colorings(args.out, stems[path], picture, colorings, args.pick, args.sheet)
        except ValueError as error:  # the same for every input: stop, nothing more to learn
            print(f"\nirodori-colorize: error: {error}", file=sys.stderr)
            return 2
        except (tf.errors.OpError, OSError) as error:
            failed += 1
            reason = short_error(error) if isinstance(error, tf.errors.OpError) else str(error)
            print(f"\nwarning: skipping {path}: {reason}", file=sys.stderr)
        progress.add(1)
    print(f"coloured {len(to_write) - failed} of {len(paths)} images into {args.out}"
          + (f"; {failed} failed" if failed else "") + (f"; {len(skipped)} kept from before" if skipped else ""))
    return 1 if to_write and failed == len(to_write) else 0


if __name__ == "__main__":
    sys.exit(main())
