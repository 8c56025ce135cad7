"""Training and validation batches: cropped views, padding collate, epoch orders.

The order of the training examples is a pure function of ``(seed, epoch)`` -- the same global
batches whatever the number of processes, each rank taking its slice -- and every random crop
a pure function of ``(seed, epoch, index)``, which is what makes a resumed run bitwise equal
to an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from bootsep_lib.models import feature_statistics

__all__ = [
    "FRAME_AXIS", "PREFETCH_BATCHES", "CroppedView", "EpochBatches", "collate", "input_statistics",
    "item_keys", "local_batch_size", "make_loader", "rank_slice", "to_device",
    "validation_batches",
]

FRAME_AXIS = {"features": 0, "labels": 0, "weights": 0, "mix_mag": 0, "source_mags": 1}
"""Item keys a view can crop, with the axis of their frames."""


def item_keys(loss_keys: Iterable[str]) -> tuple[str, ...]:
    """``features`` plus the item keys a loss reads, in :data:`FRAME_AXIS` order.

    Keys the collate function makes itself (``lengths``, ``valid``) are left out.
    """
    wanted = {"features", *loss_keys}
    return tuple(k for k in FRAME_AXIS if k in wanted)


class CroppedView(Dataset):
    """A training/validation view of a dataset: crops of at most ``crop_frames`` frames.

    Keys are ``(index, epoch)``; the random crop start is a pure function of
    ``(seed, epoch, index)``, and ``epoch = -1`` asks for the deterministic centre crop
    (validation).

    Parameters
    ----------
    base : Dataset
        Items are dicts of arrays (see :func:`bootsep_lib.engine.train_model`).
    crop_frames : int
    seed : int
    keys : tuple of str
        Item keys to keep (:func:`item_keys`); an item lacking one raises ``KeyError``.
    """

    def __init__(self, base: Dataset, crop_frames: int, seed: int, keys: tuple[str, ...]) -> None:
        self.base = base
        self.crop = crop_frames
        self.seed = seed
        self.keys = tuple(keys)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def _start(self, frames: int, index: int, epoch: int) -> int:
        if frames <= self.crop:
            return 0
        if epoch < 0:
            return (frames - self.crop) // 2
        rng = np.random.default_rng((self.seed, epoch, index))
        return int(rng.integers(0, frames - self.crop + 1))

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, epoch = key
        item = self.base[index]
        missing = [k for k in self.keys if k not in item]
        if missing:
            raise KeyError(f"training item {index} lacks {missing} (has {sorted(item)})")
        frames = int(item["features"].shape[0])
        start = self._start(frames, index, epoch)
        stop = min(frames, start + self.crop)
        out = {}
        for k in self.keys:
            value = torch.as_tensor(item[k])
            out[k] = value.narrow(FRAME_AXIS[k], start, stop - start)
        return out


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad to the longest item along frames; padded bins get weight 0 and label 0.

    Returns ``features``, ``weights``, ``mix_mag`` (float32, (B, T, F)), ``labels`` (int64,
    (B, T, F)), ``source_mags`` (float32, (B, N, T, F)) -- those the items hold -- plus
    ``valid`` (float32, (B, T, F): 1 on real frames) and ``lengths`` (int64, (B,)).
    """
    lengths = torch.tensor([int(it["features"].shape[0]) for it in items], dtype=torch.int64)
    frames = int(lengths.max())
    batch: dict[str, torch.Tensor] = {"lengths": lengths}
    for key in items[0]:
        axis = 1 if key == "source_mags" else 0
        dtype = torch.int64 if key == "labels" else torch.float32
        first = items[0][key]
        shape = (len(items), *first.shape[:axis], frames, *first.shape[axis + 1 :])
        out = torch.zeros(shape, dtype=dtype)
        for b, it in enumerate(items):
            out[b].narrow(axis, 0, it[key].shape[axis]).copy_(it[key])
        batch[key] = out
    steps = torch.arange(frames)[None, :, None] < lengths[:, None, None]
    batch["valid"] = steps.expand_as(batch["features"]).to(torch.float32)
    return batch


def rank_slice(n_items: int, rank: int, world: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s share of a global batch of ``n_items`` items.

    Contiguous and as even as possible (the first ``n_items % world`` ranks get one more), so
    the ranks' slices, concatenated in rank order, are the global batch.
    """
    base, extra = divmod(n_items, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def local_batch_size(batch_size: int, world: int) -> int:
    """Items per rank of a global batch of ``batch_size`` over ``world`` processes.

    Raises
    ------
    ValueError
        ``batch_size`` is not a multiple of ``world``.
    """
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is the global batch and must split evenly over "
            f"{world} processes; pick a multiple of {world} or another number of processes"
        )
    return batch_size // world


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """This rank's slices of the global batches of ``(index, epoch)`` keys.

    The global order is the permutation one process would draw (``torch.randperm`` seeded with
    ``seed + epoch``, as :class:`torch.utils.data.DistributedSampler`), cut into global batches
    of ``batch_size``; rank ``r`` gets the ``r``-th slice of each (:func:`rank_slice`).  A rank
    whose slice of the last, short batch is empty gets that batch's first item, to be weighted
    0 (:meth:`share` says how many of the items it gets are its own).  :meth:`set_epoch` also
    says how many batches to skip (resume in the middle of an epoch).
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, rank: int, world: int) -> None:
        local_batch_size(batch_size, world)
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch = 0
        self.skip = 0

    @property
    def batches_per_epoch(self) -> int:
        """Global batches of a whole epoch (the same on every rank)."""
        return math.ceil(self.n_items / self.batch_size)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order and skip its first ``skip`` batches."""
        self.epoch, self.skip = epoch, skip

    def share(self, batch: int) -> tuple[int, int]:
        """``(own, total)``: items of global batch ``batch`` on this rank, and in all."""
        total = min(self.batch_size, self.n_items - batch * self.batch_size)
        start, stop = rank_slice(total, self.rank, self.world)
        return stop - start, total

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n_items, generator=generator).tolist()
        for b in range(self.skip, self.batches_per_epoch):
            chunk = order[b * self.batch_size : (b + 1) * self.batch_size]
            start, stop = rank_slice(len(chunk), self.rank, self.world)
            yield [(i, self.epoch) for i in (chunk[start:stop] or chunk[:1])]


def validation_batches(
    n_items: int, batch_size: int, rank: int, world: int
) -> list[tuple[list[tuple[int, int]], int, int]]:
    """This rank's slices of the global validation batches (items in order, centre-cropped).

    Returns
    -------
    list of (keys, own, total)
        As :class:`EpochBatches`: ``keys`` of this rank's slice (the batch's first item,
        weighted 0, when the slice is empty), ``own`` items of them that count, ``total`` items
        of the global batch.
    """
    out = []
    for first in range(0, n_items, batch_size):
        chunk = list(range(first, min(first + batch_size, n_items)))
        start, stop = rank_slice(len(chunk), rank, world)
        out.append(([(i, -1) for i in (chunk[start:stop] or chunk[:1])], stop - start, len(chunk)))
    return out


def pad_frames(batch: dict[str, torch.Tensor], frames: int) -> dict[str, torch.Tensor]:
    """``batch`` (as :func:`collate` makes it) zero-padded to ``frames`` frames.

    Padding is what :func:`collate` adds: label 0, weight 0, ``valid`` 0; ``lengths`` is kept.
    """
    out = {}
    for key, value in batch.items():
        missing = frames - value.shape[2 if key == "source_mags" else 1] if value.ndim > 1 else 0
        if missing > 0:
            pad = [0, 0, 0, missing] + ([0, 0] if key == "source_mags" else [])
            value = torch.nn.functional.pad(value, pad)
        out[key] = value
    return out


PREFETCH_BATCHES = 4
"""Batches each DataLoader worker prepares ahead (``prefetch_factor``)."""


def make_loader(
    view: Dataset, batches: Iterable[list[tuple[int, int]]], workers: int, device: torch.device,
    seed: int,
) -> DataLoader:
    """A DataLoader of collated batches of ``view``, built once for the whole run.

    The batch order comes from ``batches`` (an :class:`EpochBatches` or a list of key lists),
    iterated in the main process, so the batches are the same whatever ``workers``.  With
    ``workers > 0`` the worker processes are persistent (each keeps its copy of the dataset,
    and the items it keeps in memory, across epochs) and prepare :data:`PREFETCH_BATCHES`
    batches ahead; batches are pinned on CUDA (for ``non_blocking`` copies).  ``seed`` seeds
    the loader's own generator (worker seeds), so the global RNGs are never drawn from.
    """
    return DataLoader(
        view,
        batch_sampler=batches,
        collate_fn=collate,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH_BATCHES if workers > 0 else None,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of ``batch`` on ``device`` (non-blocking)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def input_statistics(dataset: Dataset, max_items: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and std of the (uncropped) features of up to ``max_items`` items.

    The items are evenly spaced over the dataset (deterministic), so every process of a data
    parallel run computes the same statistics.
    """
    n = len(dataset)  # type: ignore[arg-type]
    picks = np.unique(np.linspace(0, n - 1, num=min(n, max_items)).round().astype(int))
    frames = [torch.as_tensor(dataset[int(i)]["features"], dtype=torch.float32) for i in picks]
    return feature_statistics(torch.cat(frames, dim=0).unsqueeze(0))
