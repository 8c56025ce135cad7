"""Table 1 of the bootstrapping paper as numbers: the alpha sweep (top) and the ensembles (bottom).

Top half (notebook 04).  Deep clustering models that share architecture and initial weights
(:func:`~bootsep_lib.studies.training.run_config` takes both from the profile) are trained
on the profile's training split with ground-truth labels (all mixtures, and a subset as large
as the alpha = 1 model's effective training set) or with the spatial stage's pseudo labels
weighted by ``w(alpha)`` for every alpha in :data:`ALPHAS`, then evaluated on channel 0 of
every test mixture.  Two columns describe the training data of each model (Section 3.4):

* **Quantity**: ``sum_i w_i(alpha)`` over the training set relative to the ground-truth model's.
  Magnitude weights sum to 1 per mixture, so the ground-truth model's total is the number of
  training mixtures and Quantity is the mean of the per-mixture ``wsum_{alpha}``.
* **Quality**: ``1 - d_chi2`` between ground-truth and pseudo labels weighted by ``sqrt(w)``
  (per mixture in the spatial stage's ``quality_{alpha}``), averaged over the training set
  with each mixture weighted by its ``wsum_{alpha}``.

Bottom half (notebook 05): :mod:`bootsep_lib.studies.ensembles`.  Every model but the
ground-truth (all) model is trained under each seed of ``profile.evidence.seeds``
(:mod:`bootsep_lib.studies.seeds`); the table averages over seeds and mixtures with
hierarchical CIs and says how many steps each run took and why it stopped.

Here ``alpha`` is always the confidence exponent of ``w(alpha)``, and "bootstrapped" the paper's
method (training on spatial estimates); the resampling behind the CIs is
:mod:`bootsep_lib.eval.stats`.  Every table is a DataFrame of means with bootstrap 95% CIs and
the paper's numbers (:mod:`bootsep_lib.report.published`) in adjacent ``paper_*`` columns; the
findings and readable tables are written by :mod:`bootsep_lib.report.bootstrap`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Profile
from ..data.training_set import TrainingSet
from ..engine import TrainResult
from ..eval.stats import bootstrap_ci
from ..report.published import bootstrap_table1
from ..studies.evaluation import evaluate_model
from ..studies.seeds import as_seed_scores, seeded_summary, train_seeded, training_columns
from ..studies.spatial_stage import ALPHAS
from ..studies.training import ModelJob, run_config, train_many

__all__ = [
    "GT_ALL",
    "GT_SUBSET",
    "MIXTURE",
    "SPATIAL",
    "METRICS",
    "MIN_SUBSET_MIXTURES",
    "Table1Model",
    "spatial_name",
    "bootstrapped_model",
    "quality_quantity",
    "subset_size",
    "table1_models",
    "model_quality_quantity",
    "train_models",
    "evaluate_models",
    "model_seeds",
    "train_seeded_models",
    "evaluate_seeded_models",
    "alpha_sweep_table",
    "add_training_columns",
    "TRAINING_COLUMNS",
]

#: Row names, as in :data:`~bootsep_lib.report.published.BOOTSTRAP_TABLE1`.
GT_ALL = "DC w/ ground truth (all)"
GT_SUBSET = "DC w/ ground truth (subset)"
SPATIAL = "Spatial algorithm"
MIXTURE = "Unprocessed mixture"

#: Smallest ground-truth subset ("a handful of mixtures"), whatever the alpha = 1 Quantity.
MIN_SUBSET_MIXTURES = 8

#: Metrics of Table 1 (per-mixture means over sources).
METRICS = ("si_sdr", "si_sir", "si_sar")


def spatial_name(alpha: float) -> str:
    """Row name of the model trained on spatial estimates with exponent ``alpha``."""
    return f"DC w/ estimates, alpha={alpha:g}"


# -- the models of Table 1 ----------------------------------------------------------------------
@dataclass(frozen=True)
class Table1Model:
    """One deep clustering model of Table 1.

    Attributes
    ----------
    name : str
        Row name (:data:`GT_ALL`, :data:`GT_SUBSET` or :func:`spatial_name`).
    targets : {"ground_truth", "spatial"}
    alpha : float
        Confidence exponent of the weights (spatial targets only).
    limit : int, optional
        Train on the first ``limit`` training mixtures only (the ground-truth subset model).
    seeded : bool
        Trained under every seed of ``profile.evidence.seeds`` (else the ``train`` seed only).
    """

    name: str
    targets: str
    alpha: float = 0.0
    limit: int | None = None
    seeded: bool = True

    def job(self, profile: Profile, *, jobs: int = 1) -> ModelJob:
        """The model's training job on the ``tr`` split, validated on all of ``cv``.

        The alpha = 1 model is built exactly as notebook 03 builds it, so both share one
        config hash and one cached run.  A subset model trains for as many epochs as
        ``profile.evidence.subset_steps`` optimiser steps take on its subset (rounded up to
        whole epochs; early stopping still applies), when that budget is set.
        """
        if self.targets == "spatial":
            train = TrainingSet(profile, "tr", targets="spatial", alpha=self.alpha, jobs=jobs)
            valid = TrainingSet(profile, "cv", targets="spatial", alpha=self.alpha, jobs=jobs)
        else:
            train = TrainingSet(profile, "tr", targets="ground_truth", limit=self.limit)
            valid = TrainingSet(profile, "cv", targets="ground_truth")
        run = run_config(profile, train)
        budget = profile.evidence.subset_steps
        if self.limit is not None and budget is not None:
            per_epoch = math.ceil(len(train) / run.train.batch_size)
            epochs = max(1, math.ceil(budget / per_epoch))
            run = dataclasses.replace(run, train=dataclasses.replace(run.train, epochs=epochs))
        return ModelJob(run, train, valid)


def bootstrapped_model(alpha: float = 1.0) -> Table1Model:
    """The model trained on spatial estimates with weights ``w(alpha)``."""
    return Table1Model(spatial_name(alpha), "spatial", float(alpha))


def quality_quantity(train_table: pd.DataFrame, alphas: tuple[float, ...] = ALPHAS) -> pd.DataFrame:
    """Quality and Quantity of the spatial labels of a training set, per alpha (Section 3.4).

    Parameters
    ----------
    train_table : pandas.DataFrame
        The spatial stage's table of the training split: ``wsum_{alpha}`` (sum of ``w(alpha)``
        over the mixture's bins) and ``quality_{alpha}`` (``1 - d_chi2`` of the mixture).
    alphas : tuple of float

    Returns
    -------
    pandas.DataFrame
        Index ``alpha``; ``quality`` (mean of ``quality_{alpha}`` weighted by ``wsum_{alpha}``;
        NaN if every weight is zero), ``quantity`` (``sum wsum_{alpha}`` divided by the number
        of mixtures, the ground-truth model's total weight) and ``weight_sum``.
    """
    n = len(train_table)
    if n == 0:
        raise ValueError("the training table is empty")
    rows = {}
    for alpha in alphas:
        w = train_table[f"wsum_{alpha:g}"].to_numpy(dtype=np.float64)
        q = train_table[f"quality_{alpha:g}"].to_numpy(dtype=np.float64)
        total = float(w.sum())
        quality = float(np.sum(w * q) / total) if total > 0 else float("nan")
        rows[float(alpha)] = {"quality": quality, "quantity": total / n, "weight_sum": total}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("alpha")


def subset_size(quantity: float, n_train: int, minimum: int = MIN_SUBSET_MIXTURES) -> int:
    """Mixtures of a ground-truth subset whose Quantity matches ``quantity``.

    ``round(quantity * n_train)``, at least ``minimum`` and at most ``n_train``.
    """
    if n_train < 1:
        raise ValueError("n_train must be positive")
    return int(min(n_train, max(minimum, round(quantity * n_train))))


def table1_models(
    train_table: pd.DataFrame,
    alphas: tuple[float, ...] = ALPHAS,
    *,
    match_alpha: float = 1.0,
    minimum: int = MIN_SUBSET_MIXTURES,
) -> list[Table1Model]:
    """The models of Table 1 (top): ground truth (all, subset) and one per alpha.

    The subset's size is this training set's Quantity at ``match_alpha`` times its number
    of mixtures (:func:`subset_size`), not the paper's 5%.  Every model but the ground-truth
    (all) model is trained under every seed of the profile (the comparisons of the findings
    involve them); the ground-truth (all) model, far above the others, keeps one seed.
    """
    quantity = quality_quantity(train_table, (match_alpha,)).loc[match_alpha, "quantity"]
    limit = subset_size(quantity, len(train_table), minimum)
    return [
        Table1Model(GT_ALL, "ground_truth", seeded=False),
        Table1Model(GT_SUBSET, "ground_truth", limit=limit),
        *(bootstrapped_model(a) for a in alphas),
    ]


def model_quality_quantity(
    model: Table1Model, train_table: pd.DataFrame
) -> tuple[float, float]:
    """(Quality, Quantity) of a model's training labels; ground truth has Quality 1."""
    n = len(train_table)
    if model.targets == "ground_truth":
        used = n if model.limit is None else min(model.limit, n)
        return 1.0, used / n
    row = quality_quantity(train_table, (model.alpha,)).loc[model.alpha]
    return float(row["quality"]), float(row["quantity"])


def train_models(
    profile: Profile, models: list[Table1Model], *, jobs: int = 1, progress: bool = True
) -> dict[str, TrainResult]:
    """Train (or read from the cache) every model, ``jobs`` at a time; results by name."""
    job_list = [m.job(profile, jobs=jobs) for m in models]
    results = train_many(job_list, jobs=jobs, progress=progress)
    return {m.name: r for m, r in zip(models, results, strict=True)}


def model_seeds(profile: Profile, model: Table1Model) -> tuple[int, ...]:
    """The training seeds of ``model``: the profile's seed set, or the ``train`` seed alone.

    Single-seed: a model with ``seeded=False``, and a spatial-label model whose alpha is not
    in ``profile.evidence.seeded_alphas`` (when that is set).
    """
    evidence = profile.evidence
    if evidence.seeds[0] != profile.train.seed:
        raise ValueError(f"the first evidence seed ({evidence.seeds[0]}) must be the train "
                         f"seed ({profile.train.seed}), so single-seed models are shared")
    alphas = evidence.seeded_alphas
    left_out = (model.targets == "spatial" and alphas is not None
                and not any(math.isclose(model.alpha, a) for a in alphas))
    return (profile.train.seed,) if left_out or not model.seeded else tuple(evidence.seeds)


def train_seeded_models(
    profile: Profile, models: list[Table1Model], *, jobs: int = 1, progress: bool = True
) -> dict[str, dict[int, TrainResult]]:
    """Train (or read from the cache) every model under each of its :func:`model_seeds`."""
    return train_seeded({m.name: m.job(profile, jobs=jobs) for m in models},
                        {m.name: model_seeds(profile, m) for m in models},
                        jobs=jobs, progress=progress)


def evaluate_seeded_models(
    profile: Profile,
    results: dict[str, dict[int, TrainResult]],
    *,
    split: str = "tt",
    jobs: int = 1,
    progress: bool = True,
) -> dict[str, dict[int, pd.DataFrame]]:
    """Per-mixture scores of every model and seed (cached by :func:`evaluate_model`)."""
    return {name: {s: evaluate_model(profile, r.run_dir, split=split, jobs=jobs,
                                     progress=progress) for s, r in by_seed.items()}
            for name, by_seed in results.items()}


def evaluate_models(
    profile: Profile,
    results: dict[str, TrainResult],
    *,
    split: str = "tt",
    jobs: int = 1,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Per-mixture scores (channel 0 of every mixture of ``split``) of every trained model."""
    return {name: evaluate_model(profile, r.run_dir, split=split, jobs=jobs, progress=progress)
            for name, r in results.items()}


#: Columns on how each model was trained (:func:`~bootsep_lib.studies.seeds.training_columns`).
TRAINING_COLUMNS = ("n_seeds", "seeds", "steps", "steps_mean", "stop_reason")


def _with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Join the paper's columns and put each next to ours; training columns last."""
    table = summary.join(bootstrap_table1(), how="left").rename_axis("approach")
    order = [c for c in ("alpha", "spatial_share") if c in table]
    for col in ("quality", "quantity", *METRICS):
        if col in table:
            order += [c for c in (col, f"{col}_low", f"{col}_high") if c in table]
            order.append(f"paper_{col}")
    return table[order + ["n"] + [c for c in TRAINING_COLUMNS if c in table]]


def add_training_columns(
    summary: pd.DataFrame, training: dict[str, dict[int, TrainResult]]
) -> pd.DataFrame:
    """``summary`` with :data:`TRAINING_COLUMNS` filled for every model in ``training``."""
    out = summary.copy()
    for col in TRAINING_COLUMNS:
        out[col] = pd.Series(dtype=object if col in ("seeds", "steps", "stop_reason")
                             else float, index=out.index)
    for name, by_seed in training.items():
        if name in out.index:
            for key, value in training_columns(by_seed).items():
                out.at[name, key] = value
    return out


def alpha_sweep_table(
    models: list[Table1Model],
    evaluations: dict[str, dict[int, pd.DataFrame]] | dict[str, pd.DataFrame],
    train_table: pd.DataFrame,
    *,
    training: dict[str, dict[int, TrainResult]] | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 1, top half: one row per model plus the unprocessed mixture.

    Parameters
    ----------
    models : list of Table1Model
    evaluations : dict of name -> (dict of seed -> per-mixture DataFrame)
        :func:`evaluate_seeded_models`' output (``si_sdr``, ``si_sir``, ``si_sar``,
        ``si_sdr_mix``); a bare DataFrame per name is one seed.
    train_table : pandas.DataFrame
        The spatial stage's table of the training split (for Quality and Quantity).
    training : dict of name -> (dict of seed -> TrainResult), optional
        :func:`train_seeded_models`' output: adds :data:`TRAINING_COLUMNS` (steps per seed
        and why each run stopped).
    n_boot, seed
        Bootstrap resamples and seed of the CIs.

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``alpha`` (NaN for ground truth), ``quality``, ``quantity``,
        each metric averaged over seeds and mixtures with ``_low`` / ``_high`` hierarchical
        95% CI bounds (seeds and mixtures resampled), the paper's ``paper_*`` values beside
        each, ``n`` (test mixtures) and the training columns.  The mixture row has SI-SDR only
        (its SI-SAR is unbounded: a sum of the references has no artifacts).
    """
    seeded = as_seed_scores(evaluations)
    summary = seeded_summary({m.name: seeded[m.name] for m in models}, METRICS,
                             n_boot=n_boot, seed=seed)
    for m in models:
        summary.loc[m.name, ["quality", "quantity"]] = model_quality_quantity(m, train_table)
        summary.loc[m.name, "alpha"] = m.alpha if m.targets == "spatial" else np.nan
    mix = next(iter(seeded[models[0].name].values()))["si_sdr_mix"].to_numpy()
    mean, low, high = bootstrap_ci(mix, n_boot=n_boot, seed=seed)
    summary.loc[MIXTURE, ["si_sdr", "si_sdr_low", "si_sdr_high", "n"]] = [mean, low, high, len(mix)]
    summary["n"] = summary["n"].astype(int)
    summary = summary.drop(columns="n_seeds")
    if training is not None:
        summary = add_training_columns(summary, training)
    return _with_paper(summary)
