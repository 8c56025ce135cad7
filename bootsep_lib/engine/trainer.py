"""One trainer for deep clustering, manifold-aware deep clustering and Chimera networks.

Section 3.2 of the bootstrapping paper: Adam at ``1e-3``, learning rate halved when the
validation loss has not gone down for 5 consecutive epochs, random crops of at most 400
frames, batch 40, 100 epochs (the M-DC paper uses RMSprop at ``1e-4``; both are a
:class:`~bootsep_lib.config.TrainConfig` away).

What the trainer guarantees
---------------------------
* **Caching by configuration.**  A run is identified by a
  :class:`~bootsep_lib.engine.RunConfig` (model, training settings, loss and a free-form
  ``data_tag`` naming the data); it lives in ``<cache_dir>/models/<run_id>/`` (see
  :attr:`~bootsep_lib.engine.RunConfig.run_id`).  A run whose ``done`` marker exists is never
  retrained.
* **Exact resume.**  ``last.pt`` holds the model, optimizer, scheduler, grad scaler, epoch,
  step within the epoch, RNG states, best score and history; it is written at every epoch
  end, every ``checkpoint_every_steps`` steps and when ``stop_after_steps`` is reached.  The
  order of the training examples is a pure function of ``(seed, epoch)`` and every random crop
  a pure function of ``(seed, epoch, index)``, so a run killed at any point and restarted
  finishes with the same weights, bit for bit, as one never interrupted (on CPU; cuDNN
  kernels are not bitwise reproducible).
* **Device-agnostic.**  CUDA when available, else CPU.  Mixed precision (float16 autocast and a
  gradient scaler) on CUDA only; plain float32 on CPU (bfloat16 on CPUs without native
  support is about 30x slower, and oneDNN stays on: it is 1.3x faster for LSTMs).
* **Data parallel without code change.**  Under ``torchrun`` (``WORLD_SIZE`` > 1 in the
  environment) the trainer joins the process group (NCCL on CUDA, Gloo on CPU), wraps the model
  in ``DistributedDataParallel`` and gives each rank its slice of the global batches one process
  would draw (``batch_size`` is the global batch), normalised as the whole batch
  (:meth:`~bootsep_lib.engine.distributed.Dist.share_batch`): the same steps, schedule and run
  id as one process; only rank 0 writes files.

Files of a run: ``config.json``, ``last.pt``, ``best.pt`` (lowest validation loss), ``log.csv``
(one row per epoch: epoch, step, train_loss, valid_loss, lr, seconds, frames_per_s) and
``done``, all written by :mod:`bootsep_lib.engine.checkpoint` (atomically).

The steps
---------
:func:`train_model` joins the process group and calls :func:`_train`, which returns the cached
result or runs :func:`bootsep_lib.engine.session.setup` (seeds, network, optimiser, schedule,
resume), then :func:`_run_epoch` (batches of one epoch, each a
:func:`bootsep_lib.engine.steps.train_step`, with mid-epoch checkpoints) and
:func:`_end_epoch` (validation, schedule, history, checkpoints) until the run is done or a
budget is spent, and :func:`_finish` (``done`` marker, throughput).  The loss of a batch comes
from the loss registry (:func:`bootsep_lib.losses.get_loss`): the trainer does not know the
losses by name.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from bootsep_lib.models.loading import signal_info
from bootsep_lib.util.threads import in_pool_worker

from . import checkpoint as ckpt_io
from . import steps, stopping
from .batches import to_device
from .checkpoint import history_frame, read_checkpoint
from .config import RunConfig, TrainResult, with_max_steps
from .distributed import Dist, join_process_group
from .session import MAX_NONFINITE_STEPS, Budget, Session, setup
from .snapshots import save_snapshot, snapshot_path

__all__ = ["train_model"]


def _result(
    run_dir: Path,
    *,
    cached: bool,
    fps: float,
    steps: int,
    finished: bool,
    state: ckpt_io.TrainState,
) -> TrainResult:
    frame = history_frame(state.history)
    if cached and len(frame):
        fps = float(frame["frames_per_s"].mean())
    return TrainResult(
        run_dir=run_dir,
        best_checkpoint=run_dir / "best.pt",
        last_checkpoint=run_dir / "last.pt",
        history=frame,
        cached=cached,
        frames_per_second=fps,
        steps_run=steps,
        finished=finished,
        stop_reason=ckpt_io.stop_reason(state) if finished else "",
        nonfinite_steps=state.nonfinite_steps,
        steps=state.step,
        epochs=state.epoch,
        best_step=state.best_step,
    )


# --------------------------------------------------------------------------- one epoch


def _loader(s: Session) -> DataLoader:
    """This epoch's batches, from the step where the epoch stands (resume mid-epoch).

    The run's one training loader (:attr:`Session.train_loader`): its batch sampler is set to
    the epoch, and its workers, when there are any, are those of the previous epochs.
    """
    s.sampler.set_epoch(s.state.epoch, skip=s.state.step_in_epoch)
    return s.train_loader


def _snapshot(s: Session, *, final: bool = False) -> None:
    """Write a weight snapshot (rank 0) at step 0, every ``snapshot_every_steps`` and at the end.

    Nothing for runs without ``snapshot_every_steps``; an existing snapshot of the step (the
    same weights, from before a resume) is kept.
    """
    every, step = s.run.snapshot_every_steps, s.state.step
    if not every or not s.ctx.main or not (final or step % every == 0):
        return
    if not snapshot_path(s.run_dir, step).exists():
        save_snapshot(s.run_dir, s.run, s.model, step, s.signal)


def _add_seconds(s: Session, elapsed: float) -> None:
    s.state.acc_seconds += elapsed
    s.budget.seconds_run += elapsed


def _run_epoch(s: Session) -> bool:
    """Train the rest of the current epoch; False when the step budget stopped it midway.

    ``last.pt`` is also written every ``checkpoint_every_steps`` steps and at the budget stop.
    Reaching ``run.max_steps`` ends the epoch early (True: it is validated and logged).
    """
    s.net.train()
    every = s.budget.checkpoint_every_steps
    bar = tqdm(
        total=s.sampler.batches_per_epoch,
        initial=s.state.step_in_epoch,
        desc=f"{s.run.run_id} epoch {s.state.epoch + 1}/{s.run.train.epochs}",
        disable=not (s.budget.progress and s.ctx.main) or in_pool_worker(),
        leave=False,
    )
    tick = time.perf_counter()
    stopped = False
    for batch in _loader(s):
        own, total = s.sampler.share(s.state.step_in_epoch)
        frames = int(batch["lengths"].sum()) if own else 0  # on the host: no device sync
        value = steps.train_step(s, to_device(batch, s.dev), own, total)
        if value is None:
            steps.skip_step(s)
        else:
            steps.count_step(s, value, frames)
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
            _snapshot(s)
        bar.update(1)
        if s.capped():
            break
        if s.budget_spent() or (every and s.state.step % every == 0):
            _add_seconds(s, time.perf_counter() - tick)
            s.save_last()
            tick = time.perf_counter()
            if s.budget_spent():
                stopped = True
                break
    bar.close()
    _add_seconds(s, time.perf_counter() - tick)
    return not stopped


# --------------------------------------------------------------------------- end of epoch


@torch.no_grad()
def _validate(s: Session) -> float:
    """Item-weighted mean batch loss over the (centre-cropped) validation set, all ranks.

    The validation batches are those of one process, each rank computing its slice (as in
    training), through the run's validation loader (its workers when ``num_workers > 0``);
    runs the bare module (not the DDP wrapper).  The sum stays on the device (float64) and is
    read once.
    """
    s.model.eval()
    total = torch.zeros((), dtype=torch.float64, device=s.dev)  # read once, after the loop
    count = 0
    for batch, (_, own, size) in zip(s.valid_loader, s.valid_batches, strict=True):
        batch, _ = s.ctx.share_batch(to_device(batch, s.dev), own, size)
        with s.autocast():
            value = steps.batch_loss(s.model, batch, s.run, s.loss)
        total += value.detach().double() * own
        count += own
    total, count = s.ctx.sum([total.item(), count], s.dev)
    return total / count


def _log_epoch(s: Session, valid_loss: float, tick: float) -> None:
    """Append the epoch's row (losses averaged over ranks) to the history; reset accumulators."""
    state, ctx = s.state, s.ctx
    loss_sum, batches, frames_sum = ctx.sum(
        [state.acc_loss, state.acc_batches, state.acc_frames], s.dev
    )
    (train_seconds,) = ctx.sum([state.acc_seconds], s.dev)
    train_seconds /= ctx.world
    state.history.append(
        {
            "epoch": state.epoch + 1,
            "step": state.step,
            "train_loss": loss_sum / max(batches, 1),
            "valid_loss": valid_loss,
            "lr": s.optimizer.param_groups[0]["lr"],
            "seconds": train_seconds + time.perf_counter() - tick,
            "frames_per_s": frames_sum / max(train_seconds, 1e-9),
        }
    )
    state.epoch += 1
    state.step_in_epoch = 0
    state.acc_loss = state.acc_seconds = 0.0
    state.acc_batches = state.acc_frames = 0


def _end_epoch(s: Session) -> None:
    """Validate, apply the stopping rule (:mod:`~bootsep_lib.engine.stopping`), log, save."""
    tick = time.perf_counter()
    valid_loss = _validate(s)
    state = s.state
    improved = stopping.end_of_epoch(state, s.scheduler, valid_loss, s.run.train)
    _log_epoch(s, valid_loss, tick)
    if s.ctx.main:
        if improved:
            ckpt_io.save_best(s.run_dir / "best.pt", s.run, s.model, state.epoch, valid_loss,
                              s.signal, step=state.step)
        ckpt_io.write_log(s.run_dir, state.history)
    s.save_last()


# --------------------------------------------------------------------------- finish


def _finish(s: Session) -> TrainResult:
    """Mark a complete run ``done``; the call's result with its throughput (all ranks)."""
    state = s.state
    finished = state.epoch >= s.run.train.epochs or state.stopped_early or s.capped()
    if finished:
        state.stop_reason = _stop_reason(s)
        _snapshot(s, final=True)
        if s.ctx.main:
            ckpt_io.write_done(s.run_dir, s.run, state)
    s.ctx.barrier()
    (frames_all,) = s.ctx.sum([s.budget.frames_run], s.dev)
    seconds = s.budget.seconds_run
    fps = frames_all / seconds if seconds > 0 else 0.0
    return _result(s.run_dir, cached=False, fps=fps, steps=s.budget.steps_run,
                   finished=finished, state=state)


def _stop_reason(s: Session) -> str:
    """Why a finished run stopped: ``"early_stop"``, ``"max_steps"`` or ``"epochs"``."""
    if s.state.stopped_early:
        return "early_stop"
    return "max_steps" if s.capped() else "epochs"


def _train(
    run: RunConfig, train_set: Dataset, valid_set: Dataset, run_dir: Path, ctx: Dist,
    dev: torch.device, budget: Budget, signal: dict[str, Any] | None,
) -> TrainResult:
    """The cached result of a done run, or setup, epochs until done or out of budget, finish."""
    if (run_dir / "done").exists():
        state = ckpt_io.TrainState(**read_checkpoint(run_dir / "last.pt")["state"])
        state.stop_reason = json.loads((run_dir / "done").read_text()).get("stop_reason", "")
        return _result(run_dir, cached=True, fps=0.0, steps=0, finished=True, state=state)
    n_train, n_valid = len(train_set), len(valid_set)  # type: ignore[arg-type]
    if n_train == 0 or n_valid == 0:
        raise ValueError(f"empty data: {n_train} training and {n_valid} validation items")
    if ctx.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_io.write_config(run_dir, run)
    ctx.barrier()
    s = setup(run, train_set, valid_set, run_dir, ctx, dev, budget, signal)
    if s.state.step == 0:
        _snapshot(s)  # the initialization
    while s.keep_going():
        if not _run_epoch(s):
            break
        _end_epoch(s)
    return _finish(s)


# --------------------------------------------------------------------------- public


def train_model(
    run: RunConfig,
    train_set: Dataset,
    valid_set: Dataset,
    *,
    cache_dir: str | os.PathLike,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_epochs: int | None = None,
    stop_after_steps: int | None = None,
    checkpoint_every_steps: int | None = None,
    signal: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    max_nonfinite_steps: int = MAX_NONFINITE_STEPS,
) -> TrainResult:
    """Train (or resume, or fetch from the cache) the model a :class:`RunConfig` describes.

    Parameters
    ----------
    run : RunConfig
        What to train; ``run.run_id`` names the folder ``<cache_dir>/models/<run_id>``.
    train_set, valid_set : torch.utils.data.Dataset
        Items are dicts of arrays: ``features`` float32 (frames, freqs) log-magnitudes of the
        reference-channel mixture, ``labels`` int64 (frames, freqs) dominant (or pseudo) source,
        ``weights`` float32 (frames, freqs) bin weights ``w(alpha)``; Chimera losses also need
        ``mix_mag`` (frames, freqs) and ``source_mags`` (n_sources, frames, freqs).  Training
        items are randomly cropped to ``run.train.crop_frames`` frames, validation items
        centre-cropped to the same length; shorter items are zero-padded with weight 0.
    cache_dir : path-like
        Root of the cache.
    device : str or torch.device, optional
        Default: CUDA when available (``cuda:LOCAL_RANK`` under ``torchrun``), else CPU.
    progress : bool
        Show a tqdm bar per epoch (rank 0 only).
    max_epochs : int, optional
        Stop this call once this many epochs (in total) are complete; the run stays resumable
        and is marked done only when ``run.train.epochs`` are reached or early stopping fires.
    stop_after_steps : int, optional
        Stop this call once this many optimiser steps (in total) are done, with a checkpoint
        at that exact step: a budget stop (or, in tests, a stand-in for a kill).
    checkpoint_every_steps : int, optional
        Also write ``last.pt`` every this many steps within epochs (a killed run then loses at
        most that many steps).  Checkpoints at epoch ends are always written.

    Returns
    -------
    TrainResult
        ``cached=True`` (and nothing trained) when the run's ``done`` marker exists.

    Notes
    -----
    Schedule: the learning rate is halved when the validation loss has not improved on its
    best for ``lr_patience`` consecutive epochs (PyTorch ``ReduceLROnPlateau`` with patience
    ``lr_patience - 1``, since it acts on the epoch *after* ``patience`` stalls); training stops
    after ``early_stop_patience`` epochs without a new best.  A new best is a relative decrease
    of at least ``1e-4`` (the scheduler's default threshold), for both rules.  Gradients are
    clipped to a global norm of ``grad_clip``.  Data parallel: ``batch_size`` is the global
    batch; each of the ``torchrun`` processes trains on its slice of the batches one process
    would draw, so epochs, steps and schedule are those of one process, and the run id does not
    depend on the number of processes.  The objective of a batch is the mean over its
    items of the per-item loss normalized by ``normalize_loss(..., mode=run.loss_norm)``; the
    Chimera MI term is not confidence-weighted: its bin weights are 1 on real frames and 0 on
    padding.
    """
    run = with_max_steps(run, max_steps)
    run_dir = Path(cache_dir) / "models" / run.run_id
    budget = Budget(
        target_epochs=run.train.epochs if max_epochs is None else min(run.train.epochs, max_epochs),
        stop_after_steps=stop_after_steps,
        checkpoint_every_steps=checkpoint_every_steps,
        progress=progress,
        max_nonfinite_steps=max_nonfinite_steps,
    )
    info = signal_info(signal if signal is not None else getattr(train_set, "signal", None))
    ctx, dev = join_process_group(device)
    try:
        return _train(run, train_set, valid_set, run_dir, ctx, dev, budget, info)
    finally:
        ctx.close()
