"""Shards of the spatial stage: each ``torchrun`` rank computes its share, rank 0 joins them.

Under data parallelism every rank runs :func:`~bootsep_lib.studies.spatial_stage.
spatial_stage_shard` on the mixtures ``rank::world`` of a split (with its own worker
processes), and writes the results as one shard file in the stage's cache folder; rank 0 then
calls :func:`~bootsep_lib.studies.spatial_stage.spatial_stage`, which merges every shard it
finds, computes whatever no shard holds (a rank that died, a different world size) and writes
the finished stage, as one process would have.  Shards are the stage's own results, so a run
killed half-way resumes from them; they are deleted once the stage is complete.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from ..util.atomic import atomic_write

__all__ = ["Result", "clear_shards", "read_shards", "shard_path", "write_shard"]

Result = tuple[int, dict, dict]
"""One mixture's ``(index, table row, per-bin arrays)``."""


def shard_path(folder: Path, split: str, rank: int, world: int) -> Path:
    """The shard file of ``rank`` of ``world`` for ``split`` in a stage folder."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    return folder / "shards" / f"{split}-{rank}-of-{world}.pkl"


def write_shard(path: Path, results: list[Result]) -> None:
    """Write one rank's results atomically (a reader never sees half a shard)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(results, fh, protocol=pickle.HIGHEST_PROTOCOL)

    atomic_write(path, write)


def read_shards(folder: Path, split: str, n: int) -> dict[int, Result]:
    """Every result of ``split`` that a shard in ``folder`` holds, by mixture index ``< n``.

    Shards are this package's own cache files (pickles written by :func:`write_shard`); one that
    cannot be read is skipped, and its mixtures are computed again.
    """
    found: dict[int, Result] = {}
    for path in sorted((folder / "shards").glob(f"{split}-*-of-*.pkl")):
        try:
            with open(path, "rb") as fh:
                results = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError):
            continue
        found.update({r[0]: r for r in results if 0 <= r[0] < n})
    return found


def clear_shards(folder: Path, split: str) -> None:
    """Delete the shards of ``split`` (the stage they made is complete)."""
    for path in (folder / "shards").glob(f"{split}-*-of-*.pkl"):
        path.unlink(missing_ok=True)
