"""Agreement between T-F partitions: the paper's Quality (Bach & Jordan), label accuracy."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["partition_quality", "label_accuracy"]


def _checked_inputs(
    labels_true: np.ndarray,
    labels_est: np.ndarray,
    weights: np.ndarray | None,
    n_sources: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened labels and float64 weights of :func:`partition_quality`, validated.

    Raises ``ValueError`` on mismatched shapes, negative / non-integer / out-of-range labels,
    and negative or non-finite weights.
    """
    true = np.asarray(labels_true).ravel()
    est = np.asarray(labels_est).ravel()
    if true.shape != est.shape:
        raise ValueError(f"label shapes differ: {np.shape(labels_true)} vs {np.shape(labels_est)}")
    for labels in (true, est):
        if not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
            raise ValueError("labels must be non-negative integers")
        if n_sources is not None and labels.size and labels.max() >= n_sources:
            raise ValueError(f"labels must lie in [0, {n_sources})")
    w = np.ones(true.shape) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != true.shape:
        raise ValueError(f"weights shape {np.shape(weights)} does not match the labels")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return true, est, w


def partition_quality(
    labels_true: np.ndarray,
    labels_est: np.ndarray,
    weights: np.ndarray | None = None,
    n_sources: int | None = None,
) -> float:
    """Agreement ``1 - d`` between two (weighted) partitions of the T-F bins, in [0, 1].

    The "Quality" column of Table 1 of Seetharaman et al. (ICASSP 2019): ``1 - d_χ²`` with the
    label matrices weighted by ``√w`` at each T-F point, where ``d_χ²`` is the distance between
    partitions of Bach & Jordan, "Learning spectral clustering, with application to speech
    separation", JMLR 7 (2006), Sec. 5.  With indicator matrices ``E`` (bins x R) and ``F``
    (bins x S) whose rows are scaled by ``√w``, and the weighted contingency table
    ``n_rs = Σ_{i in r ∩ s} w_i`` (``n_r``, ``n_s`` its margins)::

        d²(E, F) = ½ ||E(EᵀE)⁻¹Eᵀ - F(FᵀF)⁻¹Fᵀ||²_F
                 = (R + S) / 2 - ||(EᵀE)^-½ EᵀF (FᵀF)^-½||²_F
                 = (R + S) / 2 - Σ_rs n_rs² / (n_r n_s)

    (``= R - ||...||²_F`` when ``R = S``).  ``Σ_rs n_rs² / (n_r n_s) = 1 + φ²`` with ``φ²`` the
    mean-square contingency (χ² statistic / total weight), which lies between 0 (independent
    partitions) and ``min(R, S) - 1``.  Hence ``d² <= (R + S)/2 - 1``, with equality exactly for
    independent partitions, and this function returns::

        quality = 1 - d² / ((R + S)/2 - 1) = φ² / ((R + S)/2 - 1)

    which is 1 for identical partitions (up to relabelling) and 0 for independent ones; for
    ``R = S`` it is ``1 - d² / (R - 1)``.  ``R`` and ``S`` count the clusters that hold positive
    weight: empty clusters are dropped, so an estimate that puts all weight in one cluster
    (mode collapse) scores 0.  If both partitions have a single cluster they are identical and
    the quality is 1.

    Parameters
    ----------
    labels_true, labels_est : np.ndarray of int, shape (frames, freqs) or (bins,)
        Cluster index of each T-F bin (any non-negative integers; values are only names).
    weights : np.ndarray, same shape, optional
        Non-negative weight ``w_i`` of each bin (the paper: magnitude x confidence); uniform if
        None.  The result is invariant to a global scale of ``w``.
    n_sources : int, optional
        If given, every label must lie in ``[0, n_sources)`` (checked).

    Returns
    -------
    float
        The quality in [0, 1].
    """
    true, est, w = _checked_inputs(labels_true, labels_est, weights, n_sources)
    total = w.sum()
    if total <= 0:
        raise ValueError("the total weight is zero")
    _, true_idx = np.unique(true, return_inverse=True)
    _, est_idx = np.unique(est, return_inverse=True)
    n_true, n_est = true_idx.max() + 1, est_idx.max() + 1
    joint = np.bincount(true_idx * n_est + est_idx, weights=w / total, minlength=n_true * n_est)
    joint = joint.reshape(n_true, n_est)
    joint = joint[joint.sum(axis=1) > 0][:, joint.sum(axis=0) > 0]  # drop empty clusters
    p_true, p_est = joint.sum(axis=1), joint.sum(axis=0)
    n_r, n_s = joint.shape
    if n_r == 1 and n_s == 1:
        return 1.0
    contingency = np.sum(joint**2 / np.outer(p_true, p_est))
    quality = (contingency - 1.0) / ((n_r + n_s) / 2.0 - 1.0)
    return float(np.clip(quality, 0.0, 1.0))


def label_accuracy(
    labels_true: np.ndarray,
    labels_est: np.ndarray,
    weights: np.ndarray | None = None,
    n_sources: int = 2,
) -> float:
    """Weighted fraction of T-F bins whose estimated label is right, under the best relabelling.

    Parameters
    ----------
    labels_true, labels_est : np.ndarray of int, shape (frames, freqs)
        Labels in ``[0, n_sources)``.
    weights : np.ndarray, shape (frames, freqs), optional
        Bin weights (e.g. the mixture magnitude, "magnitude-weighted accuracy"); uniform if
        None.
    n_sources : int

    Returns
    -------
    float
        ``max_perm Σ_i w_i [perm(est_i) = true_i] / Σ_i w_i`` in [0, 1] (0 for zero weight).
    """
    true = np.asarray(labels_true).ravel().astype(np.int64)
    est = np.asarray(labels_est).ravel().astype(np.int64)
    w = np.ones(true.shape) if weights is None else np.asarray(weights, np.float64).ravel()
    total = w.sum()
    if total <= 0:
        return 0.0
    joint = np.bincount(true * n_sources + est, weights=w, minlength=n_sources**2)
    joint = joint.reshape(n_sources, n_sources)
    best = max(joint[np.arange(n_sources), list(p)].sum()
               for p in itertools.permutations(range(n_sources)))
    return float(best / total)
