"""What a cached result knows of the data it came from: a fingerprint per corpus split.

Every cache key that depends on a corpus includes the fingerprint of the split(s) it read, so a
model, label bank or score table of one corpus is never reused for another corpus with the same
profile (e.g. the real spatialized wsj0-2mix behind ``BOOTSEP_DATA``):

* **ours** (a split with a ``.complete`` marker): the split's resolved folder and the build
  plan hash the writer recorded in the marker (it hashes every setting, seed and speaker that
  the mixtures depend on), with the mixture count;
* **foreign** data (a ``mix/`` folder without our sidecars): the resolved folder and, for every
  WAV below it, its relative path, size and modification time (a stat per file: ~0.1 s for the
  28k files of spatialized wsj0-2mix at one rate).

An incomplete or missing split has no fingerprint (:class:`~bootsep_lib.data.DatasetError`).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from ..config import config_hash
from .layout import COMPLETE, split_status
from .readers import DatasetError

__all__ = ["split_fingerprint"]


def _foreign_files(folder: Path) -> list[tuple[str, int, int]]:
    rows = []
    for path in sorted(folder.rglob("*.wav")):
        st = path.stat()
        rows.append((str(path.relative_to(folder)), st.st_size, st.st_mtime_ns))
    return rows


@functools.lru_cache(maxsize=256)
def _ours(folder: Path, marker_mtime: int) -> str:
    del marker_mtime  # part of the lru_cache key only: a rewritten marker is read anew
    marker = json.loads((folder / COMPLETE).read_text())
    return config_hash({"kind": "bootsep", "folder": str(folder),
                        "plan_hash": marker.get("plan_hash"),
                        "n_mixtures": marker.get("n_mixtures")})


def split_fingerprint(folder: str | os.PathLike) -> str:
    """Short hash that changes whenever the mixtures of the split in ``folder`` may have.

    Parameters
    ----------
    folder : path-like
        A split folder (``.../{tr,cv,tt}``), ours or foreign.

    Returns
    -------
    str
        12 hex digits.

    Raises
    ------
    DatasetError
        The split is missing or was not finished.
    """
    folder = Path(folder).resolve()
    status = split_status(folder)
    if status not in ("complete", "foreign"):
        raise DatasetError(f"{folder}: the split is {status}; build it before using it")
    if status == "complete":
        return _ours(folder, (folder / COMPLETE).stat().st_mtime_ns)
    return config_hash({"kind": "foreign", "folder": str(folder),
                        "files": _foreign_files(folder)})
