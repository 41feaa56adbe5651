"""Deciding what may be written: never over an input, never over an old output unasked.

Every command that writes next to the artist's files plans its outputs first and asks here.
An output that would land on one of the command's inputs is refused outright (even with
--overwrite: the input is the artist's work, the output only a copy of ours); an output that
already exists is skipped unless the user said --overwrite.
"""

import os


class InputWouldBeOverwritten(ValueError):
    """An output path is one of the inputs; nothing must be written."""


def _identity(path):
    """What makes two paths the same file: the inode when it exists, else the resolved path."""
    try:
        stat = os.stat(path)
        return ("inode", stat.st_dev, stat.st_ino)
    except OSError:
        return ("path", os.path.normcase(os.path.realpath(path)))


def is_inside(path, folder):
    """True when path lies in folder or below it (symbolic links resolved)."""
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def refuse_inputs(outputs, inputs):
    """Raise InputWouldBeOverwritten when any output path is (or links to) an input file."""
    protected = {_identity(path): path for path in inputs}
    for output in outputs:
        hit = protected.get(_identity(output))  # a path that does not exist is no input
        if hit is not None:
            raise InputWouldBeOverwritten(
                f"{output} would replace the input {hit}; choose another output folder (inputs are never "
                "replaced, not even with --overwrite)")


def split_existing(planned, overwrite):
    """planned: {key: [output paths]} -> (keys to write, keys skipped because an output exists).

    With overwrite every key is written. A key is skipped whole when any of its outputs
    exists, so one input's set of files (e.g. all colourings and their sheet) stays coherent.
    """
    if overwrite:
        return list(planned), []
    write, skip = [], []
    for key, paths in planned.items():
        (skip if any(os.path.exists(path) for path in paths) else write).append(key)
    return write, skip


def skipped_line(skipped_paths, what="output"):
    """One line naming how many existing outputs were kept and how to replace them."""
    names = ", ".join(os.path.basename(path) for path in skipped_paths[:3])
    more = f" and {len(skipped_paths) - 3} more" if len(skipped_paths) > 3 else ""
    several = len(skipped_paths) != 1
    return (f"kept {len(skipped_paths)} existing {what}{'s' if several else ''} ({names}{more}); "
            f"pass --overwrite to replace {'them' if several else 'it'}")
