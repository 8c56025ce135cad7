"""One optimiser step of the trainer, and its bookkeeping (counted, or skipped as non-finite).

:func:`train_step` runs a batch (this rank's slice of a global batch under DDP) through the
network and the registered loss and steps the optimiser unless the loss of any rank, or
without a grad scaler the gradient norm, is non-finite; :func:`count_step` and
:func:`skip_step` advance the counters of the :class:`~bootsep_lib.engine.session.Session`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from bootsep_lib.losses import Loss

from .config import RunConfig
from .session import Session

__all__ = ["batch_loss", "count_step", "skip_step", "train_step"]


def batch_loss(
    net: nn.Module, batch: Mapping[str, torch.Tensor], run: RunConfig, loss: Loss
) -> torch.Tensor:
    """The scalar objective of one batch: the registered ``loss`` of the network's outputs."""
    return loss(net(batch["features"], batch["lengths"]), batch, run)


def train_step(
    s: Session, batch: dict[str, torch.Tensor], own: int, total: int
) -> float | None:
    """One optimiser step on this rank's slice of a global batch; its loss, None if skipped.

    The step is skipped (no optimiser update, the grad scaler told) on every rank when the loss
    of any rank is non-finite, or, without a grad scaler, the gradient norm is (with one, the
    scaler skips steps whose gradients overflowed, as usual under AMP).  Under DDP the returned
    loss is this rank's share: its mean over ranks is the loss of the global batch.

    The host reads the device once per step (the loss and the gradient norm together; under
    DDP the non-finite flag is one more small all-reduce).  Under the grad scaler the gradients
    are unscaled before the norm, so a finite norm means no overflow: the optimiser is stepped
    directly then, and the scaler's step is left out (it would skip it, as here, on overflow;
    :meth:`~torch.amp.GradScaler.update` still sees the overflow flags ``unscale_`` recorded).
    """
    batch, factor = s.ctx.share_batch(batch, own, total)
    s.optimizer.zero_grad(set_to_none=True)
    with s.autocast():
        loss = batch_loss(s.net, batch, s.run, s.loss)
        if s.ctx.world > 1:
            loss = loss * factor
    s.scaler.scale(loss).backward()
    s.scaler.unscale_(s.optimizer)
    norm = nn.utils.clip_grad_norm_(s.model.parameters(), s.run.train.grad_clip)
    value, norm_value = torch.stack([loss.detach().float(), norm.float()]).tolist()  # one sync
    norm_ok = math.isfinite(norm_value)
    bad = not math.isfinite(value) or (not s.scaler.is_enabled() and not norm_ok)
    if s.ctx.any(bad, s.dev):
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.update()
        return None
    if norm_ok:  # the scaler's own check would read found_inf (a second sync): same answer
        s.optimizer.step()
    s.scaler.update()
    return value


def _advance(s: Session) -> None:
    """Advance the step counters (a skipped step counts: it used its batch)."""
    s.state.step += 1
    s.state.step_in_epoch += 1
    s.budget.steps_run += 1


def count_step(s: Session, value: float, frames: int) -> None:
    """Advance the step counters and this epoch's accumulators."""
    _advance(s)
    state = s.state
    state.acc_loss += value
    state.acc_batches += 1
    state.acc_frames += frames
    s.budget.frames_run += frames


def skip_step(s: Session) -> None:
    """Count a step skipped for a non-finite loss; raise once they pass the limit.

    Raises
    ------
    FloatingPointError
        More than ``max_nonfinite_steps`` steps of the run were skipped.
    """
    _advance(s)
    state = s.state
    state.nonfinite_steps += 1
    limit = s.budget.max_nonfinite_steps
    if state.nonfinite_steps > limit:
        raise FloatingPointError(
            f"run {s.run.run_id}: non-finite training loss at step {state.step}; "
            f"{state.nonfinite_steps} steps skipped, more than max_nonfinite_steps={limit} "
            f"(resumable from the last checkpoint in {s.run_dir})"
        )
