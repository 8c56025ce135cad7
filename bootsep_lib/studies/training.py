"""Many cached models at once: the run config of a model, and training a list of them.

:func:`train_many` trains a list of models, each cached by the hash of its full config,
in parallel processes (two 1-thread jobs give ~15% more throughput than one 2-thread job on
two cores, measured; see the README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import dsp, paths
from ..config import Profile
from ..data.item_bank import use_item_banks
from ..data.subsets import default_subset
from ..data.training_set import TrainingSet
from ..engine import RunConfig, TrainResult, train_model
from ..engine.stopping import step_cap
from ..util.parallel import parallel_map

__all__ = ["ModelJob", "is_curve_arm", "run_config", "train_many"]


def run_config(
    profile: Profile,
    train_set: TrainingSet,
    *,
    loss: str = "dc",
    chimera_alpha: float = 0.975,
    n_freqs: int | None = None,
) -> RunConfig:
    """The :class:`~bootsep_lib.engine.RunConfig` of a model trained on ``train_set``.

    Architecture, optimiser and seed come from the profile, so every model of a table shares
    architecture and initial weights; the data identity goes into ``data_tag``.  A model that
    is one of the profile's learning-curve arms (:func:`is_curve_arm`) writes weight snapshots
    every ``profile.curves.snapshot_every_steps`` steps; no other model does.
    """
    if n_freqs is None:
        n_fft, _ = dsp.stft_params(train_set.subset.sample_rate, profile.spatial.window_ms,
                                     profile.spatial.hop_ms)
        n_freqs = n_fft // 2 + 1
    return RunConfig(
        model=profile.model, train=profile.train, loss=loss, chimera_alpha=chimera_alpha,
        n_sources=train_set.subset.n_speakers, n_freqs=n_freqs, data_tag=train_set.tag,
        snapshot_every_steps=(profile.curves.snapshot_every_steps
                              if is_curve_arm(profile, train_set, loss) else None),
    )


def is_curve_arm(profile: Profile, train_set: TrainingSet, loss: str) -> bool:
    """True when a model of ``loss`` on ``train_set`` is one of ``profile.curves.arms``.

    An arm ``(targets, alpha, loss, whole_split)`` matches a training set of the main subset's
    ``tr`` split with those targets (and alpha, for pseudo labels) and the loss; with
    ``whole_split`` it must hold every mixture of the split (``profile.data.n_train``).
    """
    if train_set.split != "tr" or train_set.subset != default_subset(profile):
        return False
    for targets, alpha, arm_loss, whole_split in profile.curves.arms:
        if (targets, arm_loss) != (train_set.targets, loss):
            continue
        if targets == "spatial" and float(alpha) != train_set.alpha:
            continue
        if not whole_split or len(train_set) == profile.data.n_train:
            return True
    return False


@dataclass(frozen=True)
class ModelJob:
    """One model to train: its config and its training / validation sets."""

    run: RunConfig
    train_set: TrainingSet
    valid_set: TrainingSet


def _train_job(args: tuple[ModelJob, str, bool, int]) -> TrainResult:
    job, cache, progress, bank_jobs = args
    if job.run.train.item_bank and not (Path(cache) / "models" / job.run.run_id / "done").exists():
        use_item_banks([job.train_set, job.valid_set], jobs=bank_jobs, progress=progress)
    return train_model(job.run, job.train_set, job.valid_set, cache_dir=cache, progress=progress)


def train_many(
    jobs_list: list[ModelJob],
    *,
    jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[TrainResult]:
    """Train every model not cached yet, ``jobs`` at a time; return results in order.

    On a GPU machine use ``jobs=1`` (one model uses the whole device).  In parallel, the
    longest jobs start first (a worker takes the next job when it is free): a long job
    started last would run alone at the end with the other cores idle (measured: ~7 min of
    notebook 06).  One at a time, the jobs run in the given order.
    """
    cache = str(cache_dir or paths.cache_dir())
    parallel = jobs > 1 and len(jobs_list) > 1 and not torch.cuda.is_available()
    return parallel_map(
        _train_job, [(job, cache, progress, 1 if parallel else jobs) for job in jobs_list],
        jobs=jobs if parallel else 1, progress=False,
        cost=(lambda args: _training_cost(args[0])) if parallel else None,
    )


def _training_cost(job: ModelJob) -> float:
    """Relative cost of a job: steps x batch x frequencies x network width and depth.

    Steps: ``epochs`` times the batches of an epoch, or the step cap when that is smaller.
    """
    run = job.run
    batches = -(-len(job.train_set) // run.train.batch_size)
    steps = run.train.epochs * batches
    cap = step_cap(run.max_steps, run.train)
    if cap is not None:
        steps = min(steps, cap)
    return float(steps * run.train.batch_size * run.n_freqs * run.model.layers
                 * run.model.units)
