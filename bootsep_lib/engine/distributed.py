"""Data parallel set-up under ``torchrun``: the one place that joins the process group.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`join_process_group` joins
the group (NCCL on CUDA, Gloo on CPU) with one GPU per process (``cuda:LOCAL_RANK``); both the
trainer and the command line (which prepares data on rank 0 first) call it, and whichever
calls first owns the group.

Waits.  The collectives of training (gradients, the per-step batch statistics of
:meth:`Dist.share_batch`, checkpoint barriers) keep the default timeout of the backend: a
rank that hangs there fails the run within minutes.  The one long wait -- the other ranks
waiting while rank 0 prepares the data (the spatial stage can take hours on a large corpus) --
goes through :func:`main_first`, on a separate Gloo group whose timeout is explicit
(:data:`PREPARE_TIMEOUT`) and whose ``monitored_barrier`` names the ranks that did not arrive.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

from bootsep_lib.losses import BATCH_WEIGHT_MEAN
from bootsep_lib.models import resolve_device

from .batches import pad_frames

__all__ = ["PREPARE_TIMEOUT", "Dist", "barrier", "every_rank", "join_process_group", "main_first",
           "rank_device", "resolve_device"]

T = TypeVar("T")

PREPARE_TIMEOUT = timedelta(hours=24)
"""How long the other ranks wait for rank 0 in :func:`main_first` (data preparation)."""


def rank_device(device: str | torch.device | None, local_rank: int) -> torch.device:
    """The device of one ``torchrun`` process: an unindexed ``cuda`` becomes ``cuda:LOCAL_RANK``
    (one GPU per process, as DDP expects); CPU and explicit indices are kept."""
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
    return dev


def barrier(device: str | torch.device | None = None) -> None:
    """Wait for every process of the group (no-op without one); NCCL waits on ``device``."""
    if not dist.is_initialized():
        return
    dev = None if device is None else torch.device(device)
    if dev is not None and dev.type == "cuda":
        dist.barrier(device_ids=[dev.index or 0])
    else:
        dist.barrier()


@dataclass
class Dist:
    """This process's place in the group: ``rank`` of ``world``; ``main`` is rank 0."""

    rank: int = 0
    world: int = 1
    owns_group: bool = False
    device: torch.device | None = None

    @property
    def main(self) -> bool:
        """True on rank 0 (the only rank that writes files)."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op without data parallelism)."""
        if self.world > 1:
            barrier(self.device)

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Sum a few numbers over all processes (identity without DDP)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True when ``flag`` is true on any process (``flag`` itself without DDP)."""
        if self.world == 1:
            return flag
        return self.sum([float(flag)], device)[0] > 0

    def share_batch(
        self, batch: dict[str, torch.Tensor], own: int, total: int
    ) -> tuple[dict[str, torch.Tensor], float]:
        """This rank's slice of a global batch, made to compute as its part of the whole.

        Without DDP: ``batch`` and 1.  With DDP (one collective): the slice is padded to the
        frames of the longest item of the global batch (losses that average over padded bins,
        such as Chimera's MI term, then see the same bins as one process), the whole batch's
        mean weight total goes into ``batch[BATCH_WEIGHT_MEAN]`` (the ``"batch"``
        normalization of deep clustering), and the returned factor ``world * own / total``
        scales this rank's item mean so that DDP's mean of the ranks' gradients is the gradient
        of the global batch's item mean.

        Parameters
        ----------
        batch : dict of Tensor
            This rank's collated slice, on the device.
        own, total : int
            Items of the slice that count (0: a stand-in item, weighted 0) and items of the
            global batch (:meth:`~bootsep_lib.engine.batches.EpochBatches.share`).
        """
        if self.world == 1:
            return batch, 1.0
        weights = batch.get("weights")
        weight_sum = weights.sum() if weights is not None and own else torch.zeros(())
        dev = batch["features"].device
        local = torch.stack([batch["lengths"].max().to(dev, torch.float64),
                             weight_sum.to(dev, torch.float64)])
        gathered = [torch.empty_like(local) for _ in range(self.world)]
        dist.all_gather(gathered, local)
        stats = torch.stack(gathered).tolist()
        out = pad_frames(batch, int(max(row[0] for row in stats)))
        if weights is not None:
            mean = sum(row[1] for row in stats) / total
            out[BATCH_WEIGHT_MEAN] = torch.tensor(mean, dtype=weights.dtype, device=dev)
        return out, self.world * own / total

    def close(self) -> None:
        """Destroy the process group if this process created it."""
        if self.owns_group:
            dist.destroy_process_group()
            self.owns_group = False


def join_process_group(device: str | torch.device | None) -> tuple[Dist, torch.device]:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1``; pick this rank's device.

    Parameters
    ----------
    device : str or torch.device, optional
        ``None``: CUDA when available, else CPU; an unindexed ``cuda`` becomes
        ``cuda:LOCAL_RANK``.

    Returns
    -------
    ctx : Dist
        Rank, world size and whether this call created the group (then ``ctx.close()``).
    device : torch.device
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), resolve_device(device)
    dev = rank_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), owns_group=owns,
                device=dev), dev


def _long_wait(run: Callable[[int], T], timeout: timedelta) -> T:
    """``run(phase)`` around one ``monitored_barrier`` of a Gloo group with ``timeout``.

    ``run(0)`` runs before the barrier and ``run(1)`` after it, on every rank; each returns
    what it computed or ``None``; the last value that is not ``None`` is returned.
    """
    group = dist.new_group(backend="gloo", timeout=timeout)
    try:
        first = run(0)
        dist.monitored_barrier(group=group, timeout=timeout, wait_all_ranks=True)
        second = run(1)
    finally:
        dist.destroy_process_group(group)
    return first if second is None else second


def main_first(prepare: Callable[[], T], timeout: timedelta = PREPARE_TIMEOUT) -> T:
    """``prepare()`` on rank 0 first, then on the other ranks (which may read its caches).

    Without a process group, just ``prepare()``.  The other ranks wait at a
    ``monitored_barrier`` of a Gloo group of their own with ``timeout`` (not the short timeout
    of the training collectives); past it, the barrier raises naming the missing ranks.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return prepare()
    main = dist.get_rank() == 0
    return _long_wait(lambda phase: prepare() if main == (phase == 0) else None, timeout)


def every_rank(prepare: Callable[[int, int], T], timeout: timedelta = PREPARE_TIMEOUT) -> T:
    """``prepare(rank, world)`` on every rank at once; return when all ranks have finished.

    For work that ranks share (each its part of the spatial stage): nobody goes on until the
    slowest rank is done, waiting at a ``monitored_barrier`` with ``timeout`` as
    :func:`main_first` does.  Without a process group, ``prepare(0, 1)``.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return prepare(0, 1)
    rank, world = dist.get_rank(), dist.get_world_size()
    return _long_wait(lambda phase: prepare(rank, world) if phase == 0 else None, timeout)
