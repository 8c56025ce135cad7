"""An exclusive lock on a folder, held through a lock file that exists only while it is held.

Two processes that would write the same files (two ``make-data`` on one root) take the lock of
the folder first: the second waits until the first is done, after saying which process holds
it.  The lock is :func:`fcntl.flock` on ``<folder>/.lock``; the file holds the holder's pid and
is removed on release, so a finished folder holds exactly what it held before locks existed.
A killed holder leaves the file behind without the lock (the kernel drops it), and the next
process takes it over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "folder_lock"]

LOCK_NAME = ".lock"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid else "another process"


def _acquire(path: Path, fd: int) -> bool:
    """Lock ``fd`` (waiting if needed); False if ``path`` no longer names its file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"{path.parent} is being written by {_holder(path)}; waiting for it to finish",
              file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:  # the previous holder removed it on release
        return False


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Waits for another holder to release it, printing which process holds it to stderr.

    Yields
    ------
    Path
        The lock file, ``<folder>/.lock``.
    """
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if _acquire(path, fd):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
