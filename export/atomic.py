"""Writing files so that a kill mid-write never leaves a half-written one in place.

Every file Irodori writes whole (configs, models, pictures, reports) goes through here; Keras'
history.csv, TF checkpoints, TensorBoard logs and SavedModel directories have their own ways.
A file is written under a hidden temporary name
beside its target (hidden, so a folder listing never mistakes it for a picture; with the
target's extension, which some writers such as Keras insist on) and renamed over the
target only once complete.
"""

import contextlib
import os


@contextlib.contextmanager
def staged(path):
    """Yield a temporary sibling path to write; on success it replaces path, on failure it goes."""
    folder, name = os.path.split(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    stem, extension = os.path.splitext(name)
    temporary = os.path.join(folder, f".{stem}.partial-{os.getpid()}{extension}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_atomically(path, data):
    """Write text, bytes or any buffer (e.g. a NumPy array, without copying it) to path; returns path."""
    with staged(path) as temporary, open(temporary, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path
