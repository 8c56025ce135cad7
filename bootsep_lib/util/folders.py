"""Output folders probed before the work that fills them, and the full-disk message.

:func:`prepare_output_dir` runs before a long computation (separation, a corpus build), so a
folder that is a file, sits below a file, cannot be created or is not writable fails at once,
in one line naming it, instead of as an ``OSError`` traceback after the work is done.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["OutputDirError", "no_space_message", "prepare_output_dir"]


class OutputDirError(ValueError):
    """An output folder that cannot be used (the message names it and why)."""


def _file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder, else None."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def prepare_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create ``path`` (with its parents) and check that files can be written in it.

    Parameters
    ----------
    path : path-like
    what : str
        How the message calls the folder (``"--out"``, ``"corpus root"``).

    Returns
    -------
    Path
        ``path``, now an existing, writable folder.

    Raises
    ------
    OutputDirError
        ``path`` is a file, sits below a file, cannot be created or is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"{what} {path} is a file, not a folder: pick another path")
    above = _file_above(path)
    if above is not None:
        raise OutputDirError(f"{what} {path} cannot be created: {above} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"{what} {path} cannot be created ({exc.strerror})") from exc
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".bootsep-probe-"):
            pass
    except OSError as exc:
        raise OutputDirError(f"{what} {path} is not writable ({exc.strerror})") from exc
    return path


def no_space_message(exc: BaseException) -> str | None:
    """``"no space left on <path>"`` for a full-disk ``OSError`` (``ENOSPC``), else None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = exc.filename if exc.filename is not None else "the output device"
        return f"no space left on {where}: free some space (or pick another folder) and rerun"
    return None
