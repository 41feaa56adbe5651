"""One process at a time in a run directory.

Two `train.py --out runs/x` started together would interleave history.csv, mix checkpoints
and export over each other. The lock is an flock(2) on <run>/.lock: the kernel drops it when
its process ends however it ends (kill -9 included), so a stale lock is simply free and the
next start takes it over; the file only records who holds it, for the refusal message.
"""

import fcntl
import os
import socket
import sys
import time

LOCK_NAME = ".lock"


class RunDirectoryBusy(RuntimeError):
    """Another live process holds the run directory."""


class RunLock:
    """Context manager: hold <run_dir>/.lock for this process or raise RunDirectoryBusy."""

    def __init__(self, run_dir, purpose=None, hint="wait for it to finish or pass another --out"):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK_NAME)
        self.purpose = purpose or os.path.basename(sys.argv[0]) or "irodori"
        self.hint = hint
        self._fd = None

    def __enter__(self):
        os.makedirs(self.run_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunDirectoryBusy(f"{self.run_dir} is in use by {holder}; {self.hint}") from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"{self.purpose} (pid {os.getpid()} on {socket.gethostname()}, since {started})\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        return False
