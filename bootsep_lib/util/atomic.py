"""Atomic writes: a file appears under its final name complete or not at all.

Every writer in bootsep goes through :func:`atomic_write`: the content is written to a
temporary file in the destination folder, named ``.<name>.<pid>.tmp`` (so a sweep can tell the
files of live processes from those a killed run left behind), optionally fsynced, then renamed
over the destination with :func:`os.replace`.  Temporary files are created with the process's
umask (mode ``0o666 & ~umask``), like any file ``open()`` creates, so the final files are too.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "sweep_temp_files"]

_COUNTER = itertools.count()
_TEMP = re.compile(r"^\..+\.(\d+)(?:-\d+)?\.tmp$")


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{next(_COUNTER)}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *,
                 fsync: bool = False) -> Path:
    """Call ``write(tmp)`` to fill a temporary file, then rename it to ``path``.

    Parameters
    ----------
    path
        Final destination; its folder is created if missing.
    write
        Writes the whole content to the path it is given (it must not rely on the suffix:
        pass an explicit format to writers that infer one from it).
    fsync
        Flush the file (and the folder entry) to disk before and after the rename: use it for
        files that mark something complete.

    Returns
    -------
    Path
        ``path``.  On any error the temporary file is removed and the error re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        write(tmp)
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), fsync=fsync)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temp_files(folder: str | os.PathLike, *, recursive: bool = True) -> int:
    """Remove temporary files that killed processes left in ``folder``; return how many.

    Only files named like :func:`atomic_write`'s temporaries whose process is gone are removed,
    so two processes writing into one folder never delete each other's files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for tmp in folder.glob("**/.*.tmp" if recursive else ".*.tmp"):
        match = _TEMP.match(tmp.name)
        if match and not _alive(int(match.group(1))):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
