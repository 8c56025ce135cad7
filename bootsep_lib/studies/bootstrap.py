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

Bottom half (notebook 05).  The spatial algorithm (stereo), the bootstrapped alpha = 1 model
(channel 0) and three ensembles of the two: *oracle* (the better of the two per mixture),
*random* (a seeded coin per mixture) and *confidence* (the spatial output where its mean
confidence lies above the bottom quartile of the **validation** set's mean confidences, else
the model).

Here ``alpha`` is always the confidence exponent of ``w(alpha)``, and "bootstrapped" the paper's
method (training on spatial estimates); the resampling behind the CIs is
:mod:`bootsep_lib.eval.stats`.  Every table is a DataFrame of means with bootstrap 95% CIs and
the paper's numbers (:mod:`bootsep_lib.report.published`) in adjacent ``paper_*`` columns; the
findings and readable tables are written by :mod:`bootsep_lib.report.bootstrap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Profile
from ..data.training_set import TrainingSet
from ..engine import TrainResult
from ..eval.stats import bootstrap_ci
from ..report.published import bootstrap_table1
from ..studies.evaluation import evaluate_model, summarize
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
    "Ensembles",
    "spatial_name",
    "ensemble_name",
    "bootstrapped_model",
    "quality_quantity",
    "subset_size",
    "table1_models",
    "model_quality_quantity",
    "train_models",
    "evaluate_models",
    "alpha_sweep_table",
    "confidence_threshold",
    "ensemble_systems",
    "ensemble_table",
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


def ensemble_name(kind: str, alpha: float = 1.0) -> str:
    """Row name of an ensemble: ``kind`` in {"oracle", "random", "conf."}."""
    return f"Ensemble ({kind}, alpha={alpha:g})"


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
    """

    name: str
    targets: str
    alpha: float = 0.0
    limit: int | None = None

    def job(self, profile: Profile, *, jobs: int = 1) -> ModelJob:
        """The model's training job on the ``tr`` split, validated on all of ``cv``.

        The alpha = 1 model is built exactly as notebook 03 builds it, so both share one
        config hash and one cached run.
        """
        if self.targets == "spatial":
            train = TrainingSet(profile, "tr", targets="spatial", alpha=self.alpha, jobs=jobs)
            valid = TrainingSet(profile, "cv", targets="spatial", alpha=self.alpha, jobs=jobs)
        else:
            train = TrainingSet(profile, "tr", targets="ground_truth", limit=self.limit)
            valid = TrainingSet(profile, "cv", targets="ground_truth")
        return ModelJob(run_config(profile, train), train, valid)


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
    of mixtures (:func:`subset_size`), not the paper's 5%.
    """
    quantity = quality_quantity(train_table, (match_alpha,)).loc[match_alpha, "quantity"]
    limit = subset_size(quantity, len(train_table), minimum)
    return [
        Table1Model(GT_ALL, "ground_truth"),
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


def _with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Join the paper's columns and put each next to ours."""
    table = summary.join(bootstrap_table1(), how="left").rename_axis("approach")
    order = [c for c in ("alpha", "spatial_share") if c in table]
    for col in ("quality", "quantity", *METRICS):
        if col in table:
            order += [c for c in (col, f"{col}_low", f"{col}_high") if c in table]
            order.append(f"paper_{col}")
    return table[order + ["n"]]


def alpha_sweep_table(
    models: list[Table1Model],
    evaluations: dict[str, pd.DataFrame],
    train_table: pd.DataFrame,
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 1, top half: one row per model plus the unprocessed mixture.

    Parameters
    ----------
    models : list of Table1Model
    evaluations : dict of name -> per-mixture DataFrame
        :func:`evaluate_models`' output (``si_sdr``, ``si_sir``, ``si_sar``, ``si_sdr_mix``).
    train_table : pandas.DataFrame
        The spatial stage's table of the training split (for Quality and Quantity).
    n_boot, seed
        Bootstrap resamples and seed of the CIs.

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``alpha`` (NaN for ground truth), ``quality``, ``quantity``,
        each metric with ``_low`` / ``_high`` 95% CI bounds, the paper's ``paper_*`` values
        beside each, and ``n`` (test mixtures).  The mixture row has SI-SDR only (its SI-SAR
        is unbounded: a sum of the references has no artifacts).
    """
    summary = summarize({m.name: evaluations[m.name] for m in models}, METRICS,
                        n_boot=n_boot, seed=seed)
    for m in models:
        summary.loc[m.name, ["quality", "quantity"]] = model_quality_quantity(m, train_table)
        summary.loc[m.name, "alpha"] = m.alpha if m.targets == "spatial" else np.nan
    mix = evaluations[models[0].name]["si_sdr_mix"].to_numpy()
    mean, low, high = bootstrap_ci(mix, n_boot=n_boot, seed=seed)
    summary.loc[MIXTURE, ["si_sdr", "si_sdr_low", "si_sdr_high", "n"]] = [mean, low, high, len(mix)]
    summary["n"] = summary["n"].astype(int)
    return _with_paper(summary)


# -- ensembles ----------------------------------------------------------------------------------
def confidence_threshold(valid_table: pd.DataFrame, quantile: float = 0.25) -> float:
    """Switching point of the confidence ensemble: a quantile of the validation confidences.

    Parameters
    ----------
    valid_table : pandas.DataFrame
        The spatial stage's table of the **validation** split (column ``confidence``, the
        mean confidence of each mixture).  Test data never enter the threshold.
    quantile : float
        0.25: the bottom quartile, as in the paper.
    """
    values = valid_table["confidence"].to_numpy(dtype=np.float64)
    if values.size == 0:
        raise ValueError("the validation table is empty")
    return float(np.quantile(values, quantile))


@dataclass
class Ensembles:
    """The spatial algorithm, a bootstrapped model and their ensembles on one test set.

    Attributes
    ----------
    per_mixture : pandas.DataFrame
        One row per test mixture (sorted by ``id``): ``confidence``, ``spatial_{metric}``,
        ``model_{metric}`` and booleans ``{oracle,random,conf}_spatial`` (True where the
        ensemble takes the spatial output).
    systems : dict of name -> DataFrame
        Per-mixture ``id`` and metrics of each system (for :func:`summarize`).
    threshold : float
        The confidence threshold, from the validation set.
    alpha : float
        The bootstrapped model's alpha.
    """

    per_mixture: pd.DataFrame
    systems: dict[str, pd.DataFrame]
    threshold: float
    alpha: float


def ensemble_systems(
    spatial_test: pd.DataFrame,
    model_test: pd.DataFrame,
    spatial_valid: pd.DataFrame,
    *,
    alpha: float = 1.0,
    quantile: float = 0.25,
    seed: int = 0,
) -> Ensembles:
    """The spatial algorithm, the model and the oracle / random / confidence ensembles.

    Parameters
    ----------
    spatial_test : pandas.DataFrame
        Spatial stage table of the test split (``id``, ``confidence``, metrics).
    model_test : pandas.DataFrame
        :func:`evaluate_model` table of the bootstrapped model on the same split.
    spatial_valid : pandas.DataFrame
        Spatial stage table of the validation split: the only input of the threshold.
    alpha : float
        The model's alpha (for the row names).
    quantile : float
        Quantile of the validation confidences below which the model is used.
    seed : int
        Seed of the random ensemble's coins.

    Returns
    -------
    Ensembles
    """
    threshold = confidence_threshold(spatial_valid, quantile)
    left = spatial_test[["id", "confidence", *METRICS]].rename(
        columns={m: f"spatial_{m}" for m in METRICS})
    right = model_test[["id", *METRICS]].rename(columns={m: f"model_{m}" for m in METRICS})
    if set(left["id"]) != set(right["id"]) or len(left) != len(right):
        raise ValueError("the spatial and model tables must hold the same test mixtures")
    table = left.merge(right, on="id", validate="one_to_one").sort_values("id", ignore_index=True)
    rng = np.random.default_rng(seed)
    table["oracle_spatial"] = table["spatial_si_sdr"] >= table["model_si_sdr"]
    table["random_spatial"] = rng.random(len(table)) < 0.5
    table["conf_spatial"] = table["confidence"] > threshold

    def pick(choice: pd.Series) -> pd.DataFrame:
        out = {"id": table["id"]}
        for m in METRICS:
            out[m] = np.where(choice, table[f"spatial_{m}"], table[f"model_{m}"])
        return pd.DataFrame(out)

    systems = {
        SPATIAL: pick(pd.Series(True, index=table.index)),
        spatial_name(alpha): pick(pd.Series(False, index=table.index)),
        ensemble_name("oracle", alpha): pick(table["oracle_spatial"]),
        ensemble_name("random", alpha): pick(table["random_spatial"]),
        ensemble_name("conf.", alpha): pick(table["conf_spatial"]),
    }
    return Ensembles(table, systems, threshold, float(alpha))


def ensemble_table(ensembles: Ensembles, *, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Table 1, bottom half (with the bootstrapped model's row for reference).

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``spatial_share`` (fraction of test mixtures that take the spatial
        output), each metric with its 95% CI bounds and the paper's value, and ``n``.
    """
    summary = summarize(ensembles.systems, METRICS, n_boot=n_boot, seed=seed)
    share = {SPATIAL: 1.0, spatial_name(ensembles.alpha): 0.0}
    for kind, col in (("oracle", "oracle_spatial"), ("random", "random_spatial"),
                      ("conf.", "conf_spatial")):
        share[ensemble_name(kind, ensembles.alpha)] = float(ensembles.per_mixture[col].mean())
    summary["spatial_share"] = pd.Series(share)
    return _with_paper(summary)
