"""The on-disk layout of a corpus, shared by the writer (:mod:`.build`) and the readers.

Layout (one *subset* per ``(n_speakers, condition, sample_rate)``, as spatialized wsj0-2mix)::

    <root>/{n}speakers_{anechoic|reverb}/wav{8k|16k}/{min|max}/{tr,cv,tt}/
        mix/<id>.wav  s1/<id>.wav  s2/<id>.wav  [s3/<id>.wav]   8-ch 16-bit PCM (or float32)
        sidecars/<id>.json     one record per finished mixture (ours only)
        metadata.csv           assembled from the sidecars at the end of a split (ours only)
        .complete              written last: the split is finished (ours only)
        .lock                  only while a builder holds the split (or left by a killed one);
                               no reader or status looks at it

The real spatialized wsj0-2mix has neither sidecars nor metadata nor marker: a split with a
``mix`` folder and none of them is "foreign" (:func:`split_status`).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "SPLITS",
    "CONDITIONS",
    "SIDECARS",
    "COMPLETE",
    "METADATA",
    "JSON_COLUMNS",
    "subset_dir",
    "split_dir",
    "split_status",
]

SPLITS: tuple[str, ...] = ("tr", "cv", "tt")
CONDITIONS: tuple[str, ...] = ("anechoic", "reverb")
SIDECARS = "sidecars"
COMPLETE = ".complete"
METADATA = "metadata.csv"
JSON_COLUMNS: tuple[str, ...] = (
    "speakers", "utterances", "texts", "files", "levels_db", "room_dims", "array_center",
    "mic_positions", "source_positions", "azimuths", "elevations", "distances", "seed_key",
    "mics",
)
"""Metadata columns stored as JSON text in ``metadata.csv`` (decoded by ``load_metadata``)."""


def subset_dir(root: str | os.PathLike, n_speakers: int, condition: str, sample_rate: int,
               mode: str = "min") -> Path:
    """``<root>/{n}speakers_{condition}/wav{rate//1000}k/{mode}`` (the wsj0-2mix naming).

    Parameters
    ----------
    root : path-like
    n_speakers : int
    condition : {"anechoic", "reverb"}
    sample_rate : int
        A multiple of 1000 Hz (8000 -> ``wav8k``).
    mode : {"min", "max"}

    Returns
    -------
    Path
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    if sample_rate % 1000:
        raise ValueError(f"sample rate must be a multiple of 1000 Hz, got {sample_rate}")
    return (Path(root) / f"{n_speakers}speakers_{condition}" / f"wav{sample_rate // 1000}k"
            / mode)


def split_status(folder: str | os.PathLike) -> str:
    """``"missing"``, ``"complete"`` (ours, finished), ``"incomplete"`` or ``"foreign"``.

    A split with neither a ``.complete`` marker nor sidecars but a ``mix`` folder is taken for
    foreign data (e.g. the real spatialized wsj0-2mix).
    """
    folder = Path(folder)
    if not (folder / "mix").is_dir():
        return "missing"
    if (folder / COMPLETE).exists():
        return "complete"
    sidecars = folder / SIDECARS
    if sidecars.is_dir() and any(sidecars.iterdir()):
        return "incomplete"
    return "foreign"


def split_dir(root: str | os.PathLike, n_speakers: int, condition: str, sample_rate: int,
              split: str) -> Path:
    """The folder of one split, ``subset_dir(...) / split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return subset_dir(root, n_speakers, condition, sample_rate) / split
