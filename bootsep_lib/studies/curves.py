"""Learning curves: validation SI-SDR against optimiser steps, from weight snapshots.

The models named by ``profile.curves.arms`` (the ground-truth DC model, the bootstrapped
``alpha = 0`` and ``alpha = 1`` models of Table 1 and the M-DC model of notebook 06 in every
built-in profile) write a weight snapshot every ``profile.curves.snapshot_every_steps``
optimiser steps while they train (:mod:`bootsep_lib.engine.snapshots`; the decision is
:func:`~bootsep_lib.studies.training.is_curve_arm`, so notebooks 03, 04 and 06 and the CLI
share one run per model).  Afterwards :func:`learning_curves` scores every snapshot on the same
first ``profile.curves.n_mixtures`` mixtures of the main subset's ``cv`` split, with the
separation and scoring of the tables (:func:`bootsep_lib.separate.separate`, K-means on the
embeddings; :func:`bootsep_lib.eval.evaluate_mixture`), cached per run by a key of everything
the scores depend on (:data:`CURVES_VERSION`).

:func:`saturating_fit` fits ``a - b * exp(-step / tau)`` to a curve; it is a fit, drawn dashed
and labelled so, and its ``a`` is an extrapolation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..config import Profile
from ..data.fingerprint import split_fingerprint
from ..data.subsets import default_subset, open_split
from ..engine import TrainResult, list_snapshots
from ..eval import evaluate_mixture
from ..eval.stats import bootstrap_ci
from ..models import load_model
from ..report.published import BOOTSTRAP_TABLE1, MDC_TABLE1
from ..separate import separate
from ..util.cache import cache_entry, cached_table, stage_key
from ..util.parallel import parallel_map
from .bootstrap import GT_ALL, Table1Model, spatial_name
from .mdc import study_models
from .training import ModelJob, train_many

__all__ = ["CURVES_VERSION", "CurveArm", "Curves", "curve_arms", "score_snapshots",
           "learning_curves", "curve_summary", "saturating_fit"]

#: Bumped whenever the scores of a snapshot change for the same inputs.
CURVES_VERSION = 1


@dataclass(frozen=True)
class CurveArm:
    """One model of the figure: its name, its job and the paper's final test SI-SDR."""

    name: str
    job: ModelJob
    paper_si_sdr: float


def _arm(profile: Profile, spec: tuple, jobs: int) -> CurveArm:
    """The model of one ``profile.curves.arms`` entry ``(targets, alpha, loss, whole_split)``.

    Whole-split DC arms are Table-1 models of the bootstrapping study; the others are the
    M-DC study's models of the main subset (``profile.mdc_model`` / ``mdc_train``).
    """
    targets, alpha, loss, whole_split = spec
    if whole_split and loss == "dc":
        name = GT_ALL if targets == "ground_truth" else spatial_name(alpha)
        model = Table1Model(name, targets, float(alpha))
        return CurveArm(name, model.job(profile, jobs=jobs), BOOTSTRAP_TABLE1[name][2])
    main = default_subset(profile)
    for m in study_models(profile, chimera_weights=(), bootstrap=False):
        if m.loss == loss and m.subset == main and m.job.train_set.targets == targets:
            label = {"mdc": "M-DC", "dc": "DC"}[loss]
            paper = MDC_TABLE1[(main.n_speakers, main.sample_rate)][loss]["si_sdr"]
            return CurveArm(f"{label} w/ ground truth ({len(m.job.train_set)} mixtures)",
                            m.job, paper)
    raise ValueError(f"no model of the studies matches the curve arm {spec}")


def curve_arms(profile: Profile, *, jobs: int = 1) -> list[CurveArm]:
    """The models of ``profile.curves.arms``, each checked to write snapshots.

    Raises
    ------
    ValueError
        An arm's run config writes no snapshots (the arm does not match its own model).
    """
    arms = [_arm(profile, spec, jobs) for spec in profile.curves.arms]
    for arm in arms:
        if arm.job.run.snapshot_every_steps is None:
            raise ValueError(f"the model of curve arm {arm.name!r} writes no snapshots")
    return arms


def _score_worker(args: tuple) -> list[dict]:
    profile, path, step, n = args
    model, run = load_model(path, device="cpu")
    subset = default_subset(profile)
    ds = open_split(profile, "cv", subset=subset)
    rows = []
    for i in range(n):
        item = ds[i]
        mix, refs = item["mix"][0].numpy(), item["sources"][:, 0].numpy()
        est = separate(model, mix, subset.sample_rate, n_sources=run.n_sources,
                       window_ms=profile.spatial.window_ms, hop_ms=profile.spatial.hop_ms,
                       seed=profile.train.seed)
        scores = evaluate_mixture(est, refs, mix, subset.sample_rate)
        rows.append({"step": step, "id": item["id"], "si_sdr": float(np.mean(scores["si_sdr"])),
                     "si_sdr_mix": float(np.mean(scores["si_sdr_mix"]))})
    return rows


def score_snapshots(
    profile: Profile, result: TrainResult, *, jobs: int = 1, progress: bool = True
) -> pd.DataFrame:
    """Per-mixture validation SI-SDR of every snapshot of a finished run (cached).

    Parameters
    ----------
    profile : Profile
        ``curves.n_mixtures``: the first that many mixtures of the main subset's ``cv`` split.
    result : TrainResult
        A finished run with snapshots.
    jobs : int
        Worker processes (one snapshot per task).

    Returns
    -------
    pandas.DataFrame
        One row per (snapshot, mixture): ``step``, ``id``, ``si_sdr`` and ``si_sdr_mix`` (dB,
        means over sources), sorted by step and id.
    """
    snaps = list_snapshots(result.run_dir)
    if not snaps:
        raise ValueError(f"run {result.run_dir.name} has no snapshots")
    folder = open_split(profile, "cv", return_sources=False).folder
    n = min(profile.curves.n_mixtures, len(open_split(profile, "cv", return_sources=False)))
    key = stage_key("curves", CURVES_VERSION, {
        "run": result.run_dir.name, "steps": [s for s, _ in snaps], "n": n,
        "cv": split_fingerprint(folder), "subset": asdict(default_subset(profile)),
        "stft": [profile.spatial.window_ms, profile.spatial.hop_ms], "seed": profile.train.seed,
        "mtimes": [p.stat().st_mtime_ns for _, p in snaps],
    })

    def compute() -> pd.DataFrame:
        tasks = [(profile, str(path), step, n) for step, path in snaps]
        parts = parallel_map(_score_worker, tasks, jobs=jobs, progress=progress,
                             desc=f"curve {result.run_dir.name}")
        rows = [row for part in parts for row in part]
        return pd.DataFrame(rows).sort_values(["step", "id"], ignore_index=True)

    return cached_table(cache_entry("curves", key, ".csv"), compute)


@dataclass
class Curves:
    """Scores of every arm's snapshots and the runs behind them.

    Attributes
    ----------
    arms : list of CurveArm
    results : dict of name -> TrainResult
    scores : pandas.DataFrame
        Per (arm, snapshot, mixture): ``arm``, ``step``, ``id``, ``si_sdr``, ``si_sdr_mix``.
    """

    arms: list[CurveArm]
    results: dict[str, TrainResult]
    scores: pd.DataFrame


def learning_curves(
    profile: Profile, *, jobs: int = 1, progress: bool = True
) -> Curves:
    """Train (or read from the cache) every arm, then score its snapshots."""
    arms = curve_arms(profile, jobs=jobs)
    results = train_many([a.job for a in arms], jobs=jobs, progress=progress)
    frames = []
    for arm, result in zip(arms, results, strict=True):
        frame = score_snapshots(profile, result, jobs=jobs, progress=progress)
        frames.append(frame.assign(arm=arm.name))
    scores = pd.concat(frames, ignore_index=True)[["arm", "step", "id", "si_sdr", "si_sdr_mix"]]
    return Curves(arms, {a.name: r for a, r in zip(arms, results, strict=True)}, scores)


def saturating_fit(steps: np.ndarray, values: np.ndarray) -> dict[str, float] | None:
    """Least-squares fit of ``a - b * exp(-step / tau)``; None when it does not converge.

    Parameters
    ----------
    steps, values : numpy.ndarray, shape (n,)
        A curve's snapshot steps and mean SI-SDR (dB); at least 4 points.

    Returns
    -------
    dict or None
        ``a`` (the fitted plateau, dB: an extrapolation), ``b``, ``tau`` (steps), ``rmse`` and
        ``identified``: whether the data pin the plateau down (``tau`` at most half the last
        step, i.e. two time constants observed; otherwise ``a`` is a guess and not shown).
    """
    from scipy.optimize import curve_fit

    x, y = np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if x.size < 4:
        return None
    span = float(x.max())
    p0 = (float(y[-1]), float(y[-1] - y[0]), span / 3)
    bounds = ([-np.inf, -np.inf, span / 1e3], [np.inf, np.inf, span * 100])
    try:
        params, _ = curve_fit(lambda s, a, b, t: a - b * np.exp(-s / t), x, y, p0=p0,
                              bounds=bounds, maxfev=20_000)
    except (RuntimeError, ValueError):
        return None
    a, b, tau = (float(p) for p in params)
    rmse = float(np.sqrt(np.mean((a - b * np.exp(-x / tau) - y) ** 2)))
    return {"a": a, "b": b, "tau": tau, "rmse": rmse, "identified": tau <= span / 2}


def curve_summary(curves: Curves, *, n_boot: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """One row per (arm, snapshot): mean validation SI-SDR with a bootstrap 95% CI.

    Returns
    -------
    pandas.DataFrame
        ``arm``, ``step``, ``si_sdr``, ``si_sdr_low``, ``si_sdr_high``, ``n`` (mixtures),
        ``paper_si_sdr`` (the paper's final test SI-SDR of the arm), ``fit_a``, ``fit_b``,
        ``fit_tau`` (the arm's :func:`saturating_fit`; ``fit_a`` / ``fit_b`` NaN when the fit
        does not identify a plateau, all NaN without a fit), ``steps_total``
        and ``stop_reason`` of the run.
    """
    rows = []
    for arm in curves.arms:
        frame = curves.scores[curves.scores["arm"] == arm.name]
        by_step = [(int(step), part["si_sdr"].to_numpy()) for step, part in frame.groupby("step")]
        fit = saturating_fit(np.array([s for s, _ in by_step]),
                             np.array([v.mean() for _, v in by_step])) or {}
        if not fit.get("identified", False):  # keep tau to say why no plateau is drawn
            fit = {"tau": fit["tau"]} if fit else {}
        result = curves.results[arm.name]
        for step, values in by_step:
            mean, low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
            rows.append({"arm": arm.name, "step": step, "si_sdr": mean, "si_sdr_low": low,
                         "si_sdr_high": high, "n": len(values), "paper_si_sdr": arm.paper_si_sdr,
                         **{f"fit_{k}": fit.get(k, math.nan) for k in ("a", "b", "tau")},
                         "steps_total": result.steps, "stop_reason": result.stop_reason})
    return pd.DataFrame(rows)
