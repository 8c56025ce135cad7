"""Files of a run: ``config.json``, ``last.pt``, ``best.pt``, ``log.csv``, ``done``; RNG state.

``last.pt`` holds the model, optimizer, scheduler, grad scaler, :class:`TrainState` (epoch,
step within the epoch, best score, history, accumulators) and the RNG states: everything an
exact resume needs.  ``best.pt`` holds the weights of the lowest validation loss.  Both carry
the run's configuration and, when known, the ``signal`` (sample rate and STFT) of its
features (see :mod:`bootsep_lib.models.loading`).  Every write goes through
:func:`bootsep_lib.util.atomic_write`; the files that mark progress or completion
(``last.pt``, ``done``) are fsynced.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from bootsep_lib.models import CHECKPOINT_FORMAT, read_checkpoint
from bootsep_lib.util import atomic_write, atomic_write_text

from .config import RunConfig

__all__ = [
    "CHECKPOINT_FORMAT", "LOG_COLUMNS", "TrainState", "history_frame", "read_checkpoint",
    "rng_state", "save_best", "save_last", "set_rng_state", "stop_reason", "write_config",
    "write_done", "write_log",
]

LOG_COLUMNS = ("epoch", "step", "train_loss", "valid_loss", "lr", "seconds", "frames_per_s")
"""Columns of ``log.csv`` (one row per epoch)."""


@dataclass
class TrainState:
    """Progress of a run; everything here goes into ``last.pt``."""

    epoch: int = 0  # current (incomplete) epoch, 0-based
    step: int = 0  # optimiser steps since the start of the run
    step_in_epoch: int = 0
    best: float = math.inf
    best_step: int = 0  # optimiser steps of the best epoch (the weights of best.pt)
    bad_epochs: int = 0
    stopped_early: bool = False
    nonfinite_steps: int = 0  # steps skipped for a non-finite loss
    stop_reason: str = ""  # of a finished run: "epochs", "early_stop" or "max_steps"
    history: list[dict[str, float]] = field(default_factory=list)
    # accumulators of the current epoch (this process): loss sum, batches, frames, seconds
    acc_loss: float = 0.0
    acc_batches: int = 0
    acc_frames: int = 0
    acc_seconds: float = 0.0


def stop_reason(state: TrainState) -> str:
    """Why a finished run stopped (older checkpoints lack the field: from ``stopped_early``)."""
    return state.stop_reason or ("early_stop" if state.stopped_early else "epochs")


def history_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """The history as a table with the columns of ``log.csv``."""
    return pd.DataFrame(history, columns=list(LOG_COLUMNS))


def rng_state() -> dict[str, Any]:
    """The torch, NumPy (legacy global), Python and CUDA RNG states, storable by torch."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (global state of user code)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        _set_cuda_rng_states(state["cuda"])


def _set_cuda_rng_states(saved: list[torch.Tensor]) -> None:
    """Restore the first ``min(saved, visible)`` CUDA generators; warn when the counts differ.

    A run saved with another number of visible GPUs resumes (each DDP process uses one GPU,
    the first of its visible ones); the generators of the GPUs beyond the common count start
    from their current state.
    """
    visible = torch.cuda.device_count()
    if len(saved) != visible:
        warnings.warn(
            f"the checkpoint holds RNG states of {len(saved)} CUDA devices, {visible} are "
            f"visible: restoring the first {min(len(saved), visible)}", stacklevel=3)
    for index, rng in enumerate(saved[:visible]):
        torch.cuda.set_rng_state(rng, device=index)


def _save(obj: dict[str, Any], path: Path, *, fsync: bool) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp), fsync=fsync)


def _header(run: RunConfig, model: nn.Module, signal: dict[str, Any] | None) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, "run_id": run.run_id, "run": run.to_dict(),
            "signal": signal, "model": model.state_dict()}


def save_last(
    path: Path,
    run: RunConfig,
    model: nn.Module,
    training: dict[str, Any],
    state: TrainState,
    signal: dict[str, Any] | None,
) -> None:
    """Write ``last.pt`` (fsynced): model, ``training`` state dicts, progress and RNG state.

    ``training`` maps ``optimizer``, ``scheduler`` and ``scaler`` to objects with
    ``state_dict()``.
    """
    payload = _header(run, model, signal)
    payload.update({k: v.state_dict() for k, v in training.items()})
    payload["state"] = dataclasses.asdict(state)
    payload["rng"] = rng_state()
    _save(payload, path, fsync=True)


def save_best(
    path: Path, run: RunConfig, model: nn.Module, epoch: int, valid_loss: float,
    signal: dict[str, Any] | None, step: int | None = None,
) -> None:
    """Write ``best.pt``: the weights after ``epoch`` epochs (``step`` optimiser steps) and
    their validation loss."""
    payload = _header(run, model, signal)
    payload.update({"epoch": epoch, "valid_loss": valid_loss, "step": step})
    _save(payload, path, fsync=False)


def write_config(run_dir: Path, run: RunConfig) -> None:
    """Write ``config.json``: the run id and the configuration."""
    config = {"run_id": run.run_id, **run.to_dict()}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_log(run_dir: Path, history: list[dict[str, float]]) -> None:
    """Write ``log.csv`` (one row per completed epoch)."""
    atomic_write_text(run_dir / "log.csv", history_frame(history).to_csv(index=False))


def write_done(run_dir: Path, run: RunConfig, state: TrainState) -> None:
    """Write the ``done`` marker (fsynced) with a summary of the finished run."""
    summary = {"run_id": run.run_id, "epochs": state.epoch, "steps": state.step,
               "best_valid_loss": state.best, "stopped_early": state.stopped_early,
               "stop_reason": stop_reason(state), "nonfinite_steps": state.nonfinite_steps,
               "best_step": state.best_step, "snapshot_every_steps": run.snapshot_every_steps}
    atomic_write_text(run_dir / "done", json.dumps(summary, indent=2) + "\n", fsync=True)
