"""The trainer and its parts: run configuration, batches, checkpoints, data parallelism.

* :mod:`.config` -- :class:`RunConfig` (what identifies a run) and :class:`TrainResult`;
* :mod:`.trainer` -- :func:`train_model`, the one trainer in steps (setup, epoch, end of
  epoch, finish);
* :mod:`.batches` -- cropped views, padding collate, epoch and validation batches;
* :mod:`.checkpoint` -- ``last.pt`` / ``best.pt`` / ``done`` writes and RNG state;
* :mod:`.stopping` -- the papers' stopping rule (learning-rate halving, early stopping, cap);
* :mod:`.snapshots` -- weight snapshots every N steps for learning curves;
* :mod:`.distributed` -- ``torchrun`` / DDP set-up.

The trainer's names are loaded on first use (PEP 562), so importing :mod:`.config` (as model
loading does) does not import DDP, DataLoader or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CHECKPOINT_FORMAT",
    "LOSSES",
    "RunConfig",
    "TrainResult",
    "list_snapshots",
    "rank_device",
    "resolve_device",
    "train_model",
]

_HOMES = {
    "LOSSES": ".config",
    "RunConfig": ".config",
    "TrainResult": ".config",
    "train_model": ".trainer",
    "rank_device": ".distributed",
    "resolve_device": ".distributed",
    "CHECKPOINT_FORMAT": ".checkpoint",
    "list_snapshots": ".snapshots",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
