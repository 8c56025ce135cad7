"""The item bank: every training item of a set computed once, memory-mapped by every reader.

A :class:`~bootsep_lib.data.training_set.TrainingSet` computes its items (WAV reads, STFTs,
labels, weights) on first use and keeps them in its own process.  That serves one process on a
small corpus; with DataLoader workers (each with its own copy of the set) or several ranks, and
on a corpus whose items do not all fit the in-process budget, every epoch recomputes most
items.  The item bank computes each item once, over all cores (and ranks), into ``.npy`` files
of fixed-size chunks of consecutive items in the cache, keyed by the set's
:attr:`~bootsep_lib.data.training_set.TrainingSet.tag`.  Readers memory-map the chunks, so
workers, ranks and the models trained on the same set share one copy in the page cache.  The
items read back are bitwise those the set computes (features float32, labels uint8 as kept).

Layout of a bank folder: ``<chunk>-<key>.npy`` per chunk and item key, each array concatenated
along frames, and ``<chunk>-offsets.npy`` (items + 1,); a chunk's ``offsets`` file is written
last, so its presence means the chunk is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..util.atomic import atomic_write
from ..util.cache import cache_entry, stage_key
from ..util.parallel import parallel_map

if TYPE_CHECKING:
    from .training_set import TrainingSet

__all__ = ["CHUNK_ITEMS", "ITEM_BANK_VERSION", "ItemBank", "build_item_bank", "item_bank_folder",
           "open_item_bank", "use_item_banks"]

#: Bump when the layout of the bank changes (its items follow the set's tag).
ITEM_BANK_VERSION = 1

#: Items per chunk file (the unit of work of one process and of one rank).
CHUNK_ITEMS = 64

#: The frame axis of each item key (``source_mags`` is (sources, frames, freqs)).
FRAME_AXIS = {"source_mags": 1}


def item_bank_folder(train_set: TrainingSet) -> Path:
    """The cache folder of a set's bank (named by the set's tag)."""
    return cache_entry("items", stage_key("items", ITEM_BANK_VERSION, {"set": train_set.tag}))


def _save(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array)

    atomic_write(path, write)


def _build_chunk(args: tuple[TrainingSet, Path, int]) -> int:
    """Compute and write chunk ``k`` of a bank; return the number of items in it."""
    train_set, folder, k = args
    indices = range(k * CHUNK_ITEMS, min(len(train_set), (k + 1) * CHUNK_ITEMS))
    items = [train_set.compute_kept(i) for i in indices]
    lengths = [int(item["features"].shape[0]) for item in items]
    for key in items[0]:
        axis = FRAME_AXIS.get(key, 0)
        _save(folder / f"{k}-{key}.npy", np.concatenate([it[key].numpy() for it in items], axis))
    _save(folder / f"{k}-offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    return len(items)


def build_item_bank(
    train_set: TrainingSet, *, jobs: int = 1, rank: int = 0, world: int = 1,
    progress: bool = True,
) -> Path:
    """Compute the chunks ``k`` with ``k % world == rank`` of a set's bank that are missing.

    A single process calls it with the defaults; under ``torchrun`` every rank calls it with
    its rank (then all wait for one another) and each opens the whole bank with
    :class:`ItemBank`.  Chunks already written are kept (a killed build resumes).

    Returns
    -------
    Path
        The bank's folder.
    """
    folder = item_bank_folder(train_set)
    n_chunks = -(-len(train_set) // CHUNK_ITEMS)
    todo = [k for k in range(rank, n_chunks, world) if not (folder / f"{k}-offsets.npy").exists()]
    parallel_map(_build_chunk, [(train_set, folder, k) for k in todo], jobs=jobs,
                 progress=progress, desc=f"item bank {train_set.split}", unit="chunk")
    return folder


class ItemBank:
    """Read items from a finished bank (memory-mapped on first use in each process).

    Parameters
    ----------
    folder : Path
        The bank's folder (:func:`build_item_bank`).
    n_items : int
        Items of the set; raises :class:`FileNotFoundError` naming the first missing chunk.
    """

    def __init__(self, folder: Path, n_items: int) -> None:
        self.folder = folder
        self.n_items = n_items
        for k in range(-(-n_items // CHUNK_ITEMS)):
            if not (folder / f"{k}-offsets.npy").exists():
                raise FileNotFoundError(f"item bank {folder}: chunk {k} of {n_items} items is "
                                        "missing (build_item_bank has not finished)")
        self._chunks: dict[int, dict[str, np.ndarray]] = {}

    def __getstate__(self) -> dict:  # worker processes map the files themselves
        return {**self.__dict__, "_chunks": {}}

    def _chunk(self, k: int) -> dict[str, np.ndarray]:
        if k not in self._chunks:
            self._chunks[k] = {p.name[len(f"{k}-"):-4]: np.load(p, mmap_mode="r")
                               for p in self.folder.glob(f"{k}-*.npy")}
        return self._chunks[k]

    def item(self, index: int) -> dict[str, torch.Tensor]:
        """Item ``index`` as the set keeps it (labels uint8), copied out of the maps."""
        k, local = divmod(index, CHUNK_ITEMS)
        arrays = self._chunk(k)
        lo, hi = arrays["offsets"][local], arrays["offsets"][local + 1]
        out = {}
        for key, array in arrays.items():
            if key != "offsets":
                part = array[:, lo:hi] if FRAME_AXIS.get(key, 0) == 1 else array[lo:hi]
                out[key] = torch.from_numpy(np.array(part))
        return out


def open_item_bank(train_set: TrainingSet) -> ItemBank:
    """The finished bank of a set (all its chunks built), ready to attach to it."""
    return ItemBank(item_bank_folder(train_set), len(train_set))


def use_item_banks(sets: list[TrainingSet], *, jobs: int = 1, progress: bool = True) -> None:
    """Build (or finish) the bank of each set in this process and attach it to the set."""
    for train_set in sets:
        build_item_bank(train_set, jobs=jobs, progress=progress)
        train_set.attach_items(open_item_bank(train_set))
