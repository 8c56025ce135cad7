"""Models trained under several seeds: training them, their steps, and seed-aware statistics.

A seed (``TrainConfig.seed``) sets a model's initial weights, the order of its training data
and its random crops; every arm of a comparison gets the same seeds (the papers share initial
weights across arms).  Scores of one system are then a mapping ``seed -> per-mixture table``;
:func:`seeded_summary` and :func:`seeded_difference` turn them into means over seeds and test
mixtures with hierarchical bootstrap CIs (:func:`bootsep_lib.eval.stats.hierarchical_ci`), and
say in how many seeds a difference holds.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import TrainResult
from ..eval.stats import hierarchical_ci, hierarchical_paired_ci, seed_matrix
from .training import ModelJob, train_many

__all__ = [
    "SeedDifference",
    "as_seed_scores",
    "with_seed",
    "train_seeded",
    "evaluate_seeded",
    "run_steps",
    "training_columns",
    "seeded_summary",
    "seeded_difference",
]

#: Scores of one system: training seed -> per-mixture table (``id`` and metric columns).
SeedScores = Mapping[int, pd.DataFrame]


def as_seed_scores(scores: Mapping[str, object]) -> dict[str, dict[int, pd.DataFrame]]:
    """Per-mixture tables as ``{name: {seed: table}}``; a bare table is one seed (0)."""
    return {name: ({0: value} if isinstance(value, pd.DataFrame) else dict(value))
            for name, value in scores.items()}


def with_seed(job: ModelJob, seed: int) -> ModelJob:
    """``job`` with training seed ``seed`` (``job`` itself when it already has it)."""
    if job.run.train.seed == seed:
        return job
    train = dataclasses.replace(job.run.train, seed=int(seed))
    return dataclasses.replace(job, run=dataclasses.replace(job.run, train=train))


def train_seeded(
    jobs_by_name: Mapping[str, ModelJob],
    seeds: Mapping[str, Sequence[int]],
    *,
    jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, dict[int, TrainResult]]:
    """Train every (model, seed) not cached yet in one :func:`train_many` call.

    Parameters
    ----------
    jobs_by_name : mapping of name -> ModelJob
        Each model's job; its own seed is ignored unless listed in ``seeds``.
    seeds : mapping of name -> sequence of int
        The seeds of each model.
    jobs : int
        Models trained side by side (longest first).

    Returns
    -------
    dict of name -> dict of seed -> TrainResult
        Jobs with the same run id (shared models) are trained once.
    """
    planned = {(name, int(s)): with_seed(job, s) for name, job in jobs_by_name.items()
               for s in seeds[name]}
    unique: dict[str, ModelJob] = {}
    for job in planned.values():
        unique.setdefault(job.run.run_id, job)
    trained = train_many(list(unique.values()), jobs=jobs, cache_dir=cache_dir,
                         progress=progress)
    by_run = dict(zip(unique, trained, strict=True))
    out: dict[str, dict[int, TrainResult]] = {name: {} for name in jobs_by_name}
    for (name, s), job in planned.items():
        out[name][s] = by_run[job.run.run_id]
    return out


def evaluate_seeded(
    results: Mapping[str, Mapping[int, TrainResult]],
    evaluate: Callable[[str, TrainResult], pd.DataFrame],
) -> dict[str, dict[int, pd.DataFrame]]:
    """``evaluate(name, result)`` for every model and seed (the evaluation caches itself)."""
    return {name: {s: evaluate(name, r) for s, r in by_seed.items()}
            for name, by_seed in results.items()}


def run_steps(result: TrainResult) -> int:
    """Optimiser steps the run took in total (its last logged epoch's ``step``)."""
    history = result.history
    return int(history["step"].iloc[-1]) if len(history) else 0


def training_columns(results: Mapping[int, TrainResult]) -> dict[str, object]:
    """What a table says about a model's training, over its seeds.

    Returns
    -------
    dict
        ``n_seeds``; ``seeds`` ("0, 1000, 2000"); ``steps`` (per seed, same order);
        ``steps_mean``; ``stop_reason`` (each reason with its count, e.g. "epochs x3").
    """
    seeds = list(results)
    steps = [run_steps(results[s]) for s in seeds]
    reasons = Counter(results[s].stop_reason or "unfinished" for s in seeds)
    return {
        "n_seeds": len(seeds),
        "seeds": ", ".join(str(s) for s in seeds),
        "steps": ", ".join(str(n) for n in steps),
        "steps_mean": float(np.mean(steps)) if steps else float("nan"),
        "stop_reason": ", ".join(f"{r} x{n}" for r, n in sorted(reasons.items())),
    }


def seeded_summary(
    scores: Mapping[str, SeedScores],
    columns: Sequence[str],
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean over seeds and mixtures and hierarchical 95% CI of each column, per system.

    Returns
    -------
    pandas.DataFrame
        Index: system names; ``{col}``, ``{col}_low``, ``{col}_high`` per column, ``n``
        (test mixtures) and ``n_seeds``.
    """
    out = {}
    for name, by_seed in scores.items():
        row: dict[str, float] = {}
        for col in columns:
            ids, values = seed_matrix(dict(by_seed), col)
            mean, low, high = hierarchical_ci(values, n_boot=n_boot, seed=seed)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        row.update({"n": len(ids), "n_seeds": len(by_seed)})
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index")


@dataclass(frozen=True)
class SeedDifference:
    """Mean difference ``a - b`` over shared seeds and mixtures, and how many seeds agree.

    Attributes
    ----------
    mean, low, high : float
        The difference and its hierarchical (seeds x mixtures) paired 95% CI.
    wins : int
        Seeds in which ``a``'s mean is above ``b``'s.
    n_seeds : int
        Seeds both systems were trained with (only those are compared).
    n : int
        Test mixtures.
    """

    mean: float
    low: float
    high: float
    wins: int
    n_seeds: int
    n: int


def seeded_difference(
    a: SeedScores,
    b: SeedScores,
    column: str,
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> SeedDifference:
    """Paired comparison of two systems over the seeds they share, on the same mixtures.

    Raises
    ------
    ValueError
        The systems share no seed, or were scored on different mixtures.
    """
    shared = [s for s in a if s in b]
    if not shared:
        raise ValueError(f"no shared seed: {sorted(a)} vs {sorted(b)}")
    ids_a, x_a = seed_matrix({s: a[s] for s in shared}, column)
    ids_b, x_b = seed_matrix({s: b[s] for s in shared}, column)
    if ids_a != ids_b:
        raise ValueError(f"paired comparison of {column!r}: the systems hold different mixtures")
    mean, low, high = hierarchical_paired_ci(x_a, x_b, n_boot=n_boot, seed=seed)
    wins = int(np.sum(x_a.mean(axis=1) > x_b.mean(axis=1)))
    return SeedDifference(mean, low, high, wins, len(shared), len(ids_a))
