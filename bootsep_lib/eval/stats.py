"""Statistics behind every table: bootstrap CIs, one paired comparison, one CI formatter.

Scores of several training seeds on the same test mixtures are a crossed (seeds x mixtures)
design; :func:`hierarchical_ci` and :func:`hierarchical_paired_ci` resample both factors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "bootstrap_ci",
    "format_ci",
    "hierarchical_ci",
    "hierarchical_means",
    "hierarchical_paired_ci",
    "paired_difference_ci",
    "paired_scores",
    "seed_matrix",
]


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


def _finite_matrix(values: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("values must be a non-empty (seeds, mixtures) array of finite numbers")
    return x


def hierarchical_means(
    values: Sequence[Sequence[float]] | np.ndarray,
    n_boot: int = 10_000,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap replicates of the grand mean, resampling seeds and mixtures together.

    Each replicate draws ``S`` seeds with replacement and, independently, ``M`` mixtures with
    replacement (the same mixture indices for every drawn seed: every seed's model is scored
    on the same test mixtures, a crossed design), and averages ``values[s*][:, m*]``.  The
    mean of a resample equals ``c_s^T X c_m / (S M)`` with ``c_s`` and ``c_m`` the
    multinomial counts of the draws, which is how it is computed (Owen 2007's "pigeonhole"
    bootstrap of a two-factor crossed design).

    Parameters
    ----------
    values : array-like, shape (seeds, mixtures)
        Per-mixture scores of one system, one row per training seed (a 1-D array is one seed).
    n_boot : int
    seed : int
        Of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray, shape (n_boot,)
    """
    x = _finite_matrix(values)
    n_seeds, n_mix = x.shape
    rng = np.random.default_rng(seed)
    seed_counts = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot)
    mix_counts = rng.multinomial(n_mix, np.full(n_mix, 1.0 / n_mix), size=n_boot)
    per_seed = mix_counts @ x.T  # (n_boot, seeds): each seed's resampled sum
    return np.einsum("bs,bs->b", seed_counts, per_seed) / (n_seeds * n_mix)


def hierarchical_ci(
    values: Sequence[Sequence[float]] | np.ndarray,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean over seeds and mixtures with a percentile CI of :func:`hierarchical_means`.

    With one seed the interval covers mixture sampling only (as :func:`bootstrap_ci`).

    Parameters
    ----------
    values : array-like, shape (seeds, mixtures)
    n_boot, ci, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    (mean, low, high) : tuple of float
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    x = _finite_matrix(values)
    means = hierarchical_means(x, n_boot=n_boot, seed=seed)
    low, high = np.quantile(means, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0])
    return float(x.mean()), float(low), float(high)


def hierarchical_paired_ci(
    a: Sequence[Sequence[float]] | np.ndarray,
    b: Sequence[Sequence[float]] | np.ndarray,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Hierarchical CI of the mean paired difference ``a - b`` (same seeds, same mixtures).

    The same seed and mixture draws apply to both arms (the statistic is linear, so this is
    :func:`hierarchical_ci` of ``a - b``): what the arms share -- initial weights and data
    order of a seed, difficulty of a mixture -- cancels.

    Parameters
    ----------
    a, b : array-like, shape (seeds, mixtures)
        Rows in the same seed order, columns in the same mixture order.
    """
    a_arr, b_arr = _finite_matrix(a), _finite_matrix(b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired arms differ in shape: {a_arr.shape} vs {b_arr.shape}")
    return hierarchical_ci(a_arr - b_arr, n_boot=n_boot, ci=ci, seed=seed)


def seed_matrix(tables: dict[int, pd.DataFrame], column: str) -> tuple[list, np.ndarray]:
    """Per-seed score tables as one (seeds, mixtures) array, mixtures matched by ``id``.

    Parameters
    ----------
    tables : dict of seed -> per-mixture DataFrame (``id`` and ``column``)
    column : str

    Returns
    -------
    (ids, values) : list and numpy.ndarray of shape (seeds, mixtures)
        Rows in the order of ``tables``; columns sorted by ``id``.

    Raises
    ------
    ValueError
        The tables hold different mixtures (or one holds a mixture twice).
    """
    if not tables:
        raise ValueError("no seeds")
    rows, ids = [], None
    for seed, table in tables.items():
        series = table.set_index("id")[column]
        if not series.index.is_unique:
            raise ValueError(f"seed {seed}: a mixture id appears twice")
        series = series.sort_index()
        if ids is None:
            ids = list(series.index)
        elif list(series.index) != ids:
            raise ValueError(f"seed {seed} was scored on other mixtures than the first seed")
        rows.append(series.to_numpy(dtype=np.float64))
    return ids, np.vstack(rows)
