"""The M-DC comparisons that decide a finding, under several seeds (notebook 06).

Two pairs of :mod:`bootsep_lib.studies.mdc` models are trained under every seed of
``profile.evidence.seeds`` (the same seeds for both arms, so each seed's DC and M-DC start
from the same initial weights and see the same data order): DC against M-DC on ground-truth
labels at 2 speakers / 8 kHz (Table 1's first row), and bootstrapped DC against bootstrapped
M-DC (spatial pseudo labels, ``alpha = 1`` weights).  Every other model of the study keeps one
seed.  Extra seeds are scored with the SI measures only (BSS-eval and STOI of the seed-0 models
stay in Table 1).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import pandas as pd

from ..config import Profile
from ..engine import TrainResult
from ..report.published import MDC_TABLE1
from .evaluation import evaluate_model
from .mdc import StudyModel
from .seeds import SeedDifference, seeded_difference, seeded_summary, train_seeded
from .seeds import training_columns as seed_training

__all__ = ["PAIRS", "is_seeded", "study_seeds", "train_study_seeded", "evaluate_seeds",
           "pair_table"]

#: The seeded pairs: label -> (study, n_speakers, sample_rate) of their DC and M-DC models.
PAIRS: dict[str, tuple[str, int, int]] = {
    "ground truth, 2 speakers, 8 kHz": ("table", 2, 8000),
    "bootstrapped (spatial labels, alpha = 1)": ("bootstrap", 2, 8000),
}


def is_seeded(model: StudyModel) -> bool:
    """True for the DC / M-DC models of :data:`PAIRS` (trained under every seed)."""
    return model.loss in ("dc", "mdc") and (model.study, model.n_speakers,
                                            model.sample_rate) in PAIRS.values()


def study_seeds(profile: Profile, model: StudyModel) -> tuple[int, ...]:
    """The profile's seed set for a seeded model, else the model's own seed."""
    own = model.job.run.train.seed
    if not is_seeded(model):
        return (own,)
    seeds = tuple(profile.evidence.seeds)
    if seeds[0] != own:
        raise ValueError(f"the first evidence seed ({seeds[0]}) must be {model.name}'s own "
                         f"seed ({own}), so its single-seed model is shared")
    return seeds


def train_study_seeded(
    profile: Profile,
    models: Sequence[StudyModel],
    *,
    jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, dict[int, TrainResult]]:
    """Train every model under its :func:`study_seeds` (shared run ids once), in one batch."""
    return train_seeded({m.name: m.job for m in models},
                        {m.name: study_seeds(profile, m) for m in models},
                        jobs=jobs, cache_dir=cache_dir)


def evaluate_seeds(
    profile: Profile,
    models: Sequence[StudyModel],
    results: Mapping[str, Mapping[int, TrainResult]],
    scores: Mapping[str, pd.DataFrame],
    *,
    jobs: int = 1,
    progress: bool = True,
) -> dict[str, dict[int, pd.DataFrame]]:
    """Per-mixture scores per seed of the seeded models.

    The first seed's table is ``scores[name]`` (:func:`~bootsep_lib.studies.mdc.evaluate_study`);
    the other seeds are scored with the SI measures (cached by :func:`evaluate_model`).
    """
    out: dict[str, dict[int, pd.DataFrame]] = {}
    for m in models:
        if not is_seeded(m):
            continue
        by_seed = results[m.name]
        first = next(iter(by_seed))
        out[m.name] = {s: scores[m.name] if s == first else evaluate_model(
            profile, r.run_dir, split="tt", subset=m.subset, head=m.head,
            mixture_baselines=False, jobs=jobs, progress=progress)
            for s, r in by_seed.items()}
    return out


def _arm(models: Sequence[StudyModel], key: tuple[str, int, int], loss: str) -> StudyModel:
    study, n, rate = key
    return next(m for m in models if (m.study, m.n_speakers, m.sample_rate, m.loss)
                == (study, n, rate, loss))


def _pair_row(
    label: str, dc: StudyModel, mdc: StudyModel,
    scores: Mapping[str, Mapping[int, pd.DataFrame]],
    results: Mapping[str, Mapping[int, TrainResult]] | None,
    metric: str, n_boot: int, seed: int,
) -> dict[str, object]:
    summary = seeded_summary({"dc": scores[dc.name], "mdc": scores[mdc.name]}, (metric,),
                             n_boot=n_boot, seed=seed)
    d: SeedDifference = seeded_difference(scores[mdc.name], scores[dc.name], metric,
                                          n_boot=n_boot, seed=seed)
    paper = MDC_TABLE1.get((dc.n_speakers, dc.sample_rate)) if dc.study == "table" else None
    row: dict[str, object] = {"pair": label, "metric": metric}
    for arm in ("dc", "mdc"):
        row.update({arm: summary.loc[arm, metric], f"{arm}_low": summary.loc[arm, f"{metric}_low"],
                    f"{arm}_high": summary.loc[arm, f"{metric}_high"]})
    row.update({"diff": d.mean, "diff_low": d.low, "diff_high": d.high, "mdc_wins": d.wins,
                "n_seeds": d.n_seeds, "n": d.n,
                "paper_diff": (paper["mdc"][metric] - paper["dc"][metric]
                               if paper and metric in paper["dc"] else math.nan)})
    if results is not None:
        for arm, m in (("dc", dc), ("mdc", mdc)):
            info = seed_training(results[m.name])
            row.update({f"{arm}_steps": info["steps"], f"{arm}_stop_reason": info["stop_reason"]})
        row["seeds"] = seed_training(results[dc.name])["seeds"]
    return row


def pair_table(
    models: Sequence[StudyModel],
    scores: Mapping[str, Mapping[int, pd.DataFrame]],
    results: Mapping[str, Mapping[int, TrainResult]] | None = None,
    *,
    metric: str = "si_sdr",
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """DC against M-DC over seeds for each pair of :data:`PAIRS` present.

    Parameters
    ----------
    models : sequence of StudyModel
    scores : name -> (seed -> per-mixture DataFrame)
        :func:`evaluate_seeds`' output.
    results : name -> (seed -> TrainResult), optional
        Adds the steps per seed and stop reasons of both arms.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``dc`` / ``mdc`` means over seeds and mixtures with hierarchical 95%
        CIs, ``diff`` (M-DC - DC, paired by seed and mixture) with its CI, ``mdc_wins`` (seeds
        in which M-DC is above DC), ``n_seeds``, ``n``, ``paper_diff`` (NaN beyond the paper)
        and, with ``results``, ``seeds``, ``{dc,mdc}_steps`` and ``{dc,mdc}_stop_reason``.
    """
    rows = []
    for label, key in PAIRS.items():
        try:
            dc, mdc = _arm(models, key, "dc"), _arm(models, key, "mdc")
        except StopIteration:
            continue
        if dc.name in scores and mdc.name in scores:
            rows.append(_pair_row(label, dc, mdc, scores, results, metric, n_boot, seed))
    return pd.DataFrame(rows)
