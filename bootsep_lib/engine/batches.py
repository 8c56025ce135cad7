"""Training and validation batches: cropped views, padding collate, epoch orders.

The order of the training examples is a pure function of ``(seed, epoch)`` (and of rank and
world size) and every random crop a pure function of ``(seed, epoch, index)``, which is what
makes a resumed run bitwise equal to an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from bootsep_lib.models import feature_statistics

__all__ = [
    "FRAME_AXIS", "CroppedView", "EpochBatches", "collate", "input_statistics", "item_keys",
    "to_device", "validation_batches",
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


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, epoch)`` keys: a :class:`DistributedSampler` order, chunked.

    The order is a pure function of ``(seed, epoch)`` (and of rank and world size);
    :meth:`set_epoch` also says how many batches to skip (resume in the middle of an epoch).
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, rank: int, world: int) -> None:
        self.batch_size = batch_size
        self.sampler = DistributedSampler(
            range(n_items), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.epoch = 0
        self.skip = 0

    @property
    def batches_per_epoch(self) -> int:
        """Batches of a whole epoch on this rank."""
        return math.ceil(len(self.sampler) / self.batch_size)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order and skip its first ``skip`` batches."""
        self.epoch, self.skip = epoch, skip
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = list(self.sampler)
        for b in range(self.skip, self.batches_per_epoch):
            chunk = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(i, self.epoch) for i in chunk]


def validation_batches(n_items: int, batch_size: int, rank: int, world: int) -> list[list]:
    """This rank's share of the validation set (no padding duplicates), centre-cropped keys."""
    mine = list(range(rank, n_items, world))
    return [[(i, -1) for i in mine[s : s + batch_size]] for s in range(0, len(mine), batch_size)]


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
