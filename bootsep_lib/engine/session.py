"""Setup of a training call: the session (network, optimiser, schedule, views) and resume.

:func:`setup` removes the temporary files a killed run left in the run folder
(:func:`bootsep_lib.util.sweep_temp_files`), seeds every RNG, builds the network, optimiser,
scheduler and grad scaler in a fixed order (the same initialization for every run with the
same seed), restores ``last.pt`` when it exists (else sets the input standardization from the
training set), wraps the network for DDP and prepares the batch orders and the data loaders (built
once, so with ``num_workers > 0`` the same persistent workers serve every epoch).
The resulting :class:`Session` is what the steps of :mod:`bootsep_lib.engine.trainer` work on.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bootsep_lib.config import TrainConfig
from bootsep_lib.losses import Loss, get_loss
from bootsep_lib.models import build_model
from bootsep_lib.util import sweep_temp_files

from . import checkpoint as ckpt_io
from .batches import (
    CroppedView,
    EpochBatches,
    input_statistics,
    item_keys,
    make_loader,
    validation_batches,
)
from .checkpoint import TrainState, read_checkpoint
from .config import RunConfig
from .distributed import Dist
from .stopping import MIN_IMPROVEMENT, make_scheduler, step_cap

__all__ = ["MAX_NONFINITE_STEPS", "MIN_IMPROVEMENT", "Budget", "Session", "setup"]

MAX_NONFINITE_STEPS = 10
"""Default of ``train_model(max_nonfinite_steps=...)``: skipped non-finite steps tolerated."""


@dataclass
class Budget:
    """How far this call may go, and what it has done so far."""

    target_epochs: int
    stop_after_steps: int | None
    checkpoint_every_steps: int | None
    progress: bool
    max_nonfinite_steps: int = MAX_NONFINITE_STEPS
    steps_run: int = 0
    frames_run: float = 0.0
    seconds_run: float = 0.0


@dataclass
class Session:
    """Everything one call of the trainer works with, built by :func:`setup`."""

    run: RunConfig
    run_dir: Path
    ctx: Dist
    dev: torch.device
    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler
    state: TrainState
    loss: Loss
    sampler: EpochBatches
    valid_batches: list[tuple[list[tuple[int, int]], int, int]]
    train_loader: DataLoader
    valid_loader: DataLoader
    autocast: Any
    budget: Budget
    signal: dict[str, Any] | None

    def budget_spent(self) -> bool:
        """True once ``stop_after_steps`` optimiser steps (in total) are done."""
        limit = self.budget.stop_after_steps
        return limit is not None and self.state.step >= limit

    def capped(self) -> bool:
        """True once the run's step cap is done (the run then ends; :func:`step_cap`)."""
        cap = step_cap(self.run.max_steps, self.run.train)
        return cap is not None and self.state.step >= cap

    def keep_going(self) -> bool:
        """True while epochs remain, early stopping has not fired and the budgets last."""
        state = self.state
        return (
            state.epoch < self.budget.target_epochs
            and not state.stopped_early
            and not self.budget_spent()
            and not self.capped()
        )

    def save_last(self) -> None:
        """Write ``last.pt`` on rank 0, then wait for every rank."""
        if self.ctx.main:
            training = {"optimizer": self.optimizer, "scheduler": self.scheduler,
                        "scaler": self.scaler}
            ckpt_io.save_last(self.run_dir / "last.pt", self.run, self.model, training,
                              self.state, self.signal)
        self.ctx.barrier()


def _make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=train.lr)
    return torch.optim.Adam(model.parameters(), lr=train.lr)


def _amp_settings(device: torch.device) -> tuple[bool, torch.dtype]:
    """Autocast on CUDA only, in float16 (cuDNN's LSTM kernels; a GradScaler guards it)."""
    return device.type == "cuda", torch.float16


def _build(run: RunConfig, dev: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """Seed every RNG, then build the network, optimiser, scheduler and grad scaler.

    Returns
    -------
    model : torch.nn.Module
        On ``dev``; the same initialization for every run with the same seed (the paper's
        "same random init").
    training : dict
        ``optimizer``, ``scheduler`` (ReduceLROnPlateau), ``scaler`` (GradScaler).
    """
    tc = run.train
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)  # noqa: NPY002 (legacy global RNG that user datasets may use)
    random.seed(tc.seed)
    model = build_model(run.model_kind, run.n_freqs, run.model, run.n_sources).to(dev)
    optimizer = _make_optimizer(model, tc)
    scheduler = make_scheduler(optimizer, tc)
    use_amp, amp_dtype = _amp_settings(dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=use_amp and amp_dtype == torch.float16)
    return model, {"optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}


def _restore(
    run: RunConfig, model: nn.Module, training: dict[str, Any], train_set: Dataset,
    last_path: Path,
) -> TrainState:
    """Resume from ``last_path`` (weights, optimiser, progress, RNG), or start afresh.

    A fresh run sets the network's input standardization from the training set.

    Raises
    ------
    ValueError
        ``last_path`` belongs to another run, or is not a bootsep checkpoint.
    """
    if not last_path.exists():
        model.set_input_stats(*input_statistics(train_set))
        return TrainState()
    ckpt = read_checkpoint(last_path)
    if ckpt["run_id"] != run.run_id:
        raise ValueError(f"{last_path} belongs to run {ckpt['run_id']}, not {run.run_id}")
    model.load_state_dict(ckpt["model"])
    for name, obj in training.items():
        obj.load_state_dict(ckpt[name])
    state = TrainState(**ckpt["state"])
    ckpt_io.set_rng_state(ckpt["rng"])
    return state


def setup(
    run: RunConfig, train_set: Dataset, valid_set: Dataset, run_dir: Path, ctx: Dist,
    dev: torch.device, budget: Budget, signal: dict[str, Any] | None,
) -> Session:
    """Build (or restore) everything the epochs need: network, optimiser, views, batches."""
    tc = run.train
    if ctx.main:  # temporary checkpoint files a killed run left behind
        sweep_temp_files(run_dir, recursive=False)
    model, training = _build(run, dev)
    state = _restore(run, model, training, train_set, run_dir / "last.pt")
    net: nn.Module = model
    if ctx.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    loss = get_loss(run.loss)
    keys = item_keys(loss.keys)
    use_amp, amp_dtype = _amp_settings(dev)
    sampler = EpochBatches(len(train_set), tc.batch_size, tc.seed, ctx.rank, ctx.world)  # type: ignore[arg-type]
    valid_batches = validation_batches(len(valid_set), tc.batch_size, ctx.rank, ctx.world)  # type: ignore[arg-type]
    views = [CroppedView(data, tc.crop_frames, tc.seed, keys) for data in (train_set, valid_set)]
    return Session(
        run=run, run_dir=run_dir, ctx=ctx, dev=dev, model=model, net=net, state=state,
        loss=loss, signal=signal, budget=budget, **training,
        sampler=sampler, valid_batches=valid_batches,
        train_loader=make_loader(views[0], sampler, tc.num_workers, dev, tc.seed * 100_003),
        valid_loader=make_loader(views[1], [k for k, _, _ in valid_batches], tc.num_workers,
                                 dev, tc.seed * 100_003 + 1),
        autocast=functools.partial(torch.autocast, dev.type, dtype=amp_dtype, enabled=use_amp),
    )
