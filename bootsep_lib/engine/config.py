"""What identifies a training run (:class:`RunConfig`) and what training returns.

A run is identified by a :class:`RunConfig` (model, training settings, loss and a free-form
``data_tag`` naming the data); it lives in ``<cache_dir>/models/<run_id>/`` (see
:attr:`RunConfig.run_id`).  This module needs neither the trainer nor pandas at import
time, so loading a model (:func:`bootsep_lib.models.load_model`) stays light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.losses import NORMALIZATIONS, get_loss, loss_names
from bootsep_lib.util.cache import stage_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENGINE_VERSION", "LOSSES", "RunConfig", "TrainResult", "with_max_steps"]

#: Bumped whenever training gives other weights or files for the same run config (new run
#: ids).  2: the step cap ``TrainConfig.max_steps``, weight snapshots, steps in ``best.pt``.
ENGINE_VERSION = 2

LOSSES = loss_names()
"""Registered losses: ``dc``: weighted DC (Eq. 8-9); ``mdc``: simplex targets (M-DC);
``chimera``: DC + MI heads; ``mchimera``: Chimera with simplex targets on the DC head (the M-DC
paper's M-Chimera)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that identifies a trained model; its hash names the run's folder.

    Parameters
    ----------
    model : ModelConfig
        Network size (BLSTM layers, units, embedding dimension ``D``, dropout).
    train : TrainConfig
        Optimiser, schedule, crop, batch size and seed.
    loss : {"dc", "mdc", "chimera", "mchimera"}
        Objective, a name of the loss registry (:func:`bootsep_lib.losses.get_loss`); the loss
        names the network it trains (Chimera losses a Chimera network, the others a deep
        clustering network).
    chimera_alpha : float
        Weight of the DC term in ``alpha * DC + (1 - alpha) * MI`` (Chimera losses only).
    n_sources : int
        Number of sources per mixture.
    n_freqs : int
        Frequency bins of the input features (129 for 32 ms windows at 8 kHz).
    loss_norm : {"batch", "utterance", "none"}
        Normalization of the per-item DC loss, see :func:`bootsep_lib.losses.normalize_loss`.
    data_tag : str
        Free-form identity of the training data (profile data hash, label source, alpha of the
        weights, subset size...), set by the caller: two runs on different data must differ here.
    max_steps : int, optional
        End the run after this many steps (a smoke run); enters the run id only when set, so
        the ids of runs without it are those of before the field existed.
    snapshot_every_steps : int, optional
        Write a weight snapshot every this many optimiser steps (and at steps 0 and last,
        :mod:`bootsep_lib.engine.snapshots`) for learning curves.  The weights do not depend
        on it, the run's files do: it enters the run id only when set.
    """

    model: ModelConfig
    train: TrainConfig
    loss: str = "dc"
    chimera_alpha: float = 0.975
    n_sources: int = 2
    n_freqs: int = 129
    loss_norm: str = "batch"
    data_tag: str = ""
    max_steps: int | None = None
    snapshot_every_steps: int | None = None

    def __post_init__(self) -> None:
        if self.loss not in loss_names():
            raise ValueError(f"loss must be one of {loss_names()}, got {self.loss!r}")
        if self.loss_norm not in NORMALIZATIONS:
            raise ValueError(f"loss_norm must be one of {NORMALIZATIONS}, got {self.loss_norm!r}")
        if not 0.0 <= self.chimera_alpha <= 1.0:
            raise ValueError(f"chimera_alpha must lie in [0, 1], got {self.chimera_alpha}")
        if self.n_sources < 2 or self.n_freqs < 2:
            raise ValueError(f"need n_sources >= 2 and n_freqs >= 2, got {self}")
        if self.train.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {self.train.optimizer!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {self.max_steps}")
        for name, value in (("snapshot_every_steps", self.snapshot_every_steps),
                            ("train.max_steps", self.train.max_steps)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")

    @property
    def run_id(self) -> str:
        """The run's folder name: a hash of every field that changes the trained weights.

        The trainer's code version (:data:`ENGINE_VERSION`) enters; ``train.num_workers`` and
        ``train.item_bank`` (how items are loaded, not which), the number of processes and an
        unset ``max_steps`` / ``train.max_steps`` / ``snapshot_every_steps`` do not.
        """
        fields = self.to_dict()
        for how_loaded in ("num_workers", "item_bank"):
            fields["train"].pop(how_loaded)
        if self.train.max_steps is None:
            del fields["train"]["max_steps"]
        for name in ("max_steps", "snapshot_every_steps"):
            if fields[name] is None:
                del fields[name]
        return stage_key("run", ENGINE_VERSION, fields)

    @property
    def model_kind(self) -> str:
        """The model the loss trains (``"chimera"`` or ``"dc"``; argument of ``build_model``)."""
        return get_loss(self.loss).model

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise ``ValueError``."""
        try:
            values = dict(data)
            values["model"] = ModelConfig(**values["model"])
            values["train"] = TrainConfig(**values["train"])
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a RunConfig: {exc}") from exc


def with_max_steps(run: RunConfig, max_steps: int | None) -> RunConfig:
    """``run`` bounded to ``max_steps`` steps (``run`` itself when ``None``).

    Raises
    ------
    ValueError
        ``run.max_steps`` is set to another number.
    """
    if max_steps is None or run.max_steps == max_steps:
        return run
    if run.max_steps is not None:
        raise ValueError(f"max_steps={max_steps} disagrees with the run's {run.max_steps}")
    return dataclasses.replace(run, max_steps=max_steps)


@dataclass
class TrainResult:
    """What :func:`train_model` returns.

    Attributes
    ----------
    run_dir : Path
        ``<cache_dir>/models/<run_id>``.
    best_checkpoint, last_checkpoint : Path
        Lowest-validation-loss and latest checkpoints (``best.pt``, ``last.pt``).
    history : pandas.DataFrame
        One row per completed epoch, columns as in ``log.csv``.
    cached : bool
        True when the run was already done and nothing was trained.
    frames_per_second : float
        Training throughput of this call (all processes), or the logged mean when cached.
    steps_run : int
        Optimiser steps taken by this call (0 when cached).
    finished : bool
        True when the run is complete (``done`` written); False after a budget stop
        (``max_epochs``, ``stop_after_steps``), which a later call resumes.
    stop_reason : str
        Of a finished run: ``"epochs"``, ``"early_stop"`` or ``"max_steps"``; else ``""``.
    nonfinite_steps : int
        Steps of the run skipped for a non-finite loss.
    steps : int
        Optimiser steps the run has taken in all (this call and those before it).
    epochs : int
        Epochs the run has completed.
    best_step : int
        Optimiser steps of the best epoch (the weights of ``best.pt``).
    """

    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    history: pd.DataFrame
    cached: bool
    frames_per_second: float
    steps_run: int = 0
    finished: bool = True
    stop_reason: str = ""
    nonfinite_steps: int = 0
    steps: int = 0
    epochs: int = 0
    best_step: int = 0
