"""Data parallel set-up under ``torchrun``: the one place that joins the process group.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`join_process_group` joins
the group (NCCL on CUDA, Gloo on CPU) with one GPU per process (``cuda:LOCAL_RANK``); both the
trainer and the command line (which prepares data on rank 0 first) call it, and whichever
calls first owns the group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bootsep_lib.models import resolve_device

__all__ = ["Dist", "barrier", "join_process_group", "rank_device", "resolve_device"]


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
