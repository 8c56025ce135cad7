"""Table 1 of the bootstrapping paper, bottom half: the spatial algorithm, a model, ensembles.

The spatial algorithm (stereo), the bootstrapped alpha = 1 model (channel 0) and three
ensembles of the two: *oracle* (the better of the two per mixture), *random* (a seeded coin
per mixture) and *confidence* (the spatial output where its mean confidence lies above the
bottom quartile of the **validation** set's mean confidences, else the model).  The top half
and the shared row names are :mod:`bootsep_lib.studies.bootstrap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import TrainResult
from .bootstrap import METRICS, SPATIAL, _with_paper, add_training_columns, spatial_name
from .evaluation import summarize

__all__ = ["Ensembles", "ensemble_name", "confidence_threshold", "ensemble_systems",
           "ensemble_table"]


def ensemble_name(kind: str, alpha: float = 1.0) -> str:
    """Row name of an ensemble: ``kind`` in {"oracle", "random", "conf."}."""
    return f"Ensemble ({kind}, alpha={alpha:g})"


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


def ensemble_table(
    ensembles: Ensembles,
    *,
    training: dict[int, TrainResult] | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 1, bottom half (with the bootstrapped model's row for reference).

    Parameters
    ----------
    ensembles : Ensembles
    training : dict of seed -> TrainResult, optional
        The bootstrapped model's run(s): steps and stop reason fill the training columns of
        every row that uses it (the model and the three ensembles).
    n_boot, seed
        Of the bootstrap CIs.

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``spatial_share`` (fraction of test mixtures that take the spatial
        output), each metric with its 95% CI bounds and the paper's value, ``n``, and the
        training columns when ``training`` is given.
    """
    summary = summarize(ensembles.systems, METRICS, n_boot=n_boot, seed=seed)
    share = {SPATIAL: 1.0, spatial_name(ensembles.alpha): 0.0}
    for kind, col in (("oracle", "oracle_spatial"), ("random", "random_spatial"),
                      ("conf.", "conf_spatial")):
        share[ensemble_name(kind, ensembles.alpha)] = float(ensembles.per_mixture[col].mean())
    summary["spatial_share"] = pd.Series(share)
    if training is not None:
        uses_model = [name for name in summary.index if name != SPATIAL]
        summary = add_training_columns(summary, {name: dict(training) for name in uses_model})
    return _with_paper(summary)
