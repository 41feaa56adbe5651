"""Writing files so that a kill mid-write never leaves a half-written one in place."""

import os


def write_atomically(path, data):
    """Write bytes or text to path.tmp, then rename it over path; returns path."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(path + ".tmp", path)
    return path
