"""Weight snapshots during training, for learning curves scored after the run.

A run whose :attr:`~bootsep_lib.engine.RunConfig.snapshot_every_steps` is set writes
``snapshots/step_<step>.pt`` at step 0 (the initialization), every that many optimiser steps
and at its last step.  A snapshot holds what :func:`bootsep_lib.models.load_model` reads (the
run's configuration, the signal of its features and the weights) plus ``step``: no optimiser
or RNG state, so it is about a third of ``last.pt``.  Runs without the field write none (the
default: learning curves are wanted for a few models only).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bootsep_lib.models import CHECKPOINT_FORMAT
from bootsep_lib.util import atomic_write

from .config import RunConfig

__all__ = ["SNAPSHOT_DIR", "snapshot_path", "save_snapshot", "list_snapshots"]

SNAPSHOT_DIR = "snapshots"
"""Sub-folder of the run folder that holds the snapshots."""

_NAME = re.compile(r"^step_(\d+)\.pt$")


def snapshot_path(run_dir: Path, step: int) -> Path:
    """``<run_dir>/snapshots/step_<step, 7 digits>.pt``."""
    return Path(run_dir) / SNAPSHOT_DIR / f"step_{step:07d}.pt"


def save_snapshot(
    run_dir: Path, run: RunConfig, model: nn.Module, step: int, signal: dict[str, Any] | None
) -> Path:
    """Write the weights after ``step`` optimiser steps (atomically); return the path."""
    path = snapshot_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "run_id": run.run_id, "run": run.to_dict(),
               "signal": signal, "model": model.state_dict(), "step": int(step)}
    atomic_write(path, lambda tmp: torch.save(payload, tmp), fsync=False)
    return path


def list_snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every snapshot of a run, by step (empty when it wrote none)."""
    folder = Path(run_dir) / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)
