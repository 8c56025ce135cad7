"""The papers' stopping rule: halve the learning rate on a plateau, stop after a longer one.

Bootstrapping paper (Seetharaman et al., ICASSP 2019, Section 3.2): Adam at ``1e-3``, "the
learning rate is decayed by half if the validation loss does not go down for 5 consecutive
epochs", 100 epochs, models trained "until convergence".  M-DC paper (Tanaka et al.,
Interspeech 2021, Section 4.1): RMSprop at ``1e-4``, "dropped the learning rate by 0.5 if the
validation loss did not decrease after five epochs", "stopped the training if the validation
loss did not decrease after thirty epochs and then selected the network on the basis of the
validation loss".  Neither paper names a floor for the learning rate: there is none here.

One rule for both, at the end of every epoch, with ``P_lr = train.lr_patience`` and
``P_stop = train.early_stop_patience``:

* a loss is a new best when it is below ``best * (1 - MIN_IMPROVEMENT)``;
* the learning rate is multiplied by :data:`LR_FACTOR` on the ``P_lr``-th consecutive epoch
  without a new best, counted afresh after each halving (PyTorch's ``ReduceLROnPlateau``
  with ``patience = P_lr - 1``: it acts on the stall *after* ``patience`` stalls);
* training stops on the ``P_stop``-th consecutive epoch without a new best (halvings do not
  reset this count), and ``best.pt`` holds the weights of the best epoch.

A run also ends at its cap of optimiser steps (``TrainConfig.max_steps`` or
``RunConfig.max_steps``, the smaller): see :func:`step_cap`.
"""

from __future__ import annotations

import torch

from bootsep_lib.config import TrainConfig

from .checkpoint import TrainState

__all__ = ["LR_FACTOR", "MIN_IMPROVEMENT", "make_scheduler", "end_of_epoch", "step_cap"]

LR_FACTOR = 0.5
"""Factor of each learning-rate drop (both papers: "by half", "by 0.5")."""

MIN_IMPROVEMENT = 1e-4
"""Relative decrease of the validation loss that counts as progress (as ReduceLROnPlateau)."""


def make_scheduler(
    optimizer: torch.optim.Optimizer, train: TrainConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """The learning-rate half of the rule: ``ReduceLROnPlateau`` on the validation loss.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    train : TrainConfig
        ``lr_patience``: epochs without a new best before the learning rate is halved.
    """
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=LR_FACTOR,
        patience=max(train.lr_patience - 1, 0),
        threshold=MIN_IMPROVEMENT,
        threshold_mode="rel",
        min_lr=0.0,
    )


def end_of_epoch(
    state: TrainState,
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau,
    valid_loss: float,
    train: TrainConfig,
) -> bool:
    """Apply the rule to one epoch's validation loss; True when it is a new best.

    Steps ``scheduler`` (which may halve the learning rate) and updates ``state.best``,
    ``state.best_step``, ``state.bad_epochs`` and ``state.stopped_early`` in place.

    Parameters
    ----------
    state : TrainState
        Progress of the run (``best``, ``bad_epochs``, ``stopped_early``).
    scheduler : ReduceLROnPlateau
        From :func:`make_scheduler`.
    valid_loss : float
        This epoch's validation loss.
    train : TrainConfig
        ``early_stop_patience``: epochs without a new best after which the run stops.
    """
    scheduler.step(valid_loss)
    improved = valid_loss < state.best * (1.0 - MIN_IMPROVEMENT)
    if improved:
        state.best, state.best_step, state.bad_epochs = valid_loss, state.step, 0
    else:
        state.bad_epochs += 1
    state.stopped_early = state.bad_epochs >= train.early_stop_patience
    return improved


def step_cap(run_max_steps: int | None, train: TrainConfig) -> int | None:
    """The run's cap of optimiser steps: the smaller of the run's and the profile's, if any."""
    caps = [c for c in (run_max_steps, train.max_steps) if c is not None]
    return min(caps) if caps else None
