"""Statistics behind every table: bootstrap CIs, one paired comparison, one CI formatter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["bootstrap_ci", "format_ci", "paired_difference_ci", "paired_scores"]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile-bootstrap confidence interval of the mean (Efron & Tibshirani 1993, ch. 13).

    ``n_boot`` resamples of the values (with replacement, same size) are drawn with
    ``numpy.random.default_rng(seed)``; the interval is the ``(1 - ci)/2`` and
    ``(1 + ci)/2`` quantiles of the resampled means.  Resampling is vectorized in blocks of
    about 4M indices.

    Parameters
    ----------
    values : array-like, shape (n,)
        Finite per-item values (e.g. per-mixture SI-SDR).
    n_boot : int, default 10000
    ci : float, default 0.95
        Coverage of the interval, in (0, 1).
    seed : int, default 0

    Returns
    -------
    (mean, low, high) : tuple of float
        The sample mean and the interval bounds.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("values must be a non-empty array of finite numbers")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    rng = np.random.default_rng(seed)
    n = x.size
    step = max(1, (1 << 22) // n)
    means = np.concatenate(
        [
            x[rng.integers(0, n, size=(min(step, n_boot - start), n))].mean(axis=1)
            for start in range(0, n_boot, step)
        ]
    )
    low, high = np.quantile(means, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0])
    return float(x.mean()), float(low), float(high)


def paired_difference_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Bootstrap CI of the mean paired difference ``a - b`` (two systems, same items).

    Resampling the items (not the two systems independently) keeps the pairing, so the
    between-mixture variance common to both systems cancels.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        Scores of the two systems on the same n items, in the same order.
    n_boot, ci, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    (mean, low, high) : tuple of float
        Mean of ``a - b`` and its interval; an interval excluding 0 indicates a difference.
    """
    a_arr = np.asarray(a, dtype=np.float64).ravel()
    b_arr = np.asarray(b, dtype=np.float64).ravel()
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired samples differ in size: {a_arr.size} vs {b_arr.size}")
    return bootstrap_ci(a_arr - b_arr, n_boot=n_boot, ci=ci, seed=seed)


def paired_scores(
    a: pd.DataFrame,
    b: pd.DataFrame,
    column: str,
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap CI of ``a - b`` for two per-mixture score tables matched by ``id``.

    The one paired comparison of the project: both tables must hold the same mixtures (each
    once); anything else is an error, never a silent drop.

    Parameters
    ----------
    a, b : pandas.DataFrame
        Per-mixture scores with columns ``id`` and ``column``.
    column : str
        The score to compare.
    n_boot, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    (mean, low, high) : tuple of float
    """
    joined = a[["id", column]].merge(b[["id", column]], on="id", suffixes=("_a", "_b"),
                                     validate="one_to_one")
    if joined.empty or len(joined) != len(a) or len(joined) != len(b):
        raise ValueError(f"paired comparison of {column!r}: the tables hold different mixtures "
                         f"({len(a)} and {len(b)} rows, {len(joined)} shared ids)")
    return paired_difference_ci(joined[f"{column}_a"], joined[f"{column}_b"],
                                n_boot=n_boot, seed=seed)


def format_ci(mean: float, low: float, high: float, digits: int = 2, *,
              sign: bool = False) -> str:
    """``"mean [low, high]"`` with ``digits`` decimals (``sign``: always show + or -)."""
    fmt = f"{'+' if sign else ''}.{digits}f"
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"
