"""Training targets and time-frequency weights for deep clustering.

Everything here is a pure function of arrays; numpy arrays and torch tensors are both accepted
and the result has the input's type (and, for tensors, its device).

Conventions
-----------
* A *label* is the index of the dominant source of a time-frequency bin, ``int64``, shape
  ``(..., frames, freqs)`` (or ``(batch, bins)`` once flattened for the loss).
* A *target* is one row per bin, ``(..., n_sources)``: a one-hot vector for deep clustering
  (Eq. 1-2 of the M-DC paper) or a vertex of a regular simplex for manifold-aware deep
  clustering (Eq. 3, 9 of the M-DC paper).
* A *weight* is one non-negative number per bin, ``(..., frames, freqs)``: magnitude weights
  ``|X| / sum |X|`` or the bootstrapping paper's ``w(alpha)`` (Section 2.3).
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)

__all__ = [
    "ground_truth_labels",
    "one_hot_targets",
    "simplex_vertices",
    "simplex_targets",
    "magnitude_weights",
    "bootstrap_weights",
    "phase_sensitive_targets",
]


def _check_labels(labels: np.ndarray | torch.Tensor, n_sources: int) -> None:
    if n_sources < 1:
        raise ValueError(f"n_sources must be >= 1, got {n_sources}")
    size = labels.numel() if isinstance(labels, torch.Tensor) else np.size(labels)
    if size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n_sources:
        raise ValueError(f"labels must lie in [0, {n_sources}), found [{low}, {high}]")


def ground_truth_labels(source_stfts: ArrayLike) -> ArrayLike:
    """Dominant source of every time-frequency bin (the ideal binary mask as indices).

    Section 2.1 of the bootstrapping paper / Section 2.1 of the M-DC paper: ``Y_in = 1`` when
    source ``n`` is dominant in bin ``i``.  Ties go to the lowest source index.

    Parameters
    ----------
    source_stfts : array, complex or real, shape (..., n_sources, frames, freqs)
        Source STFTs (or magnitudes) as seen at the reference microphone.

    Returns
    -------
    labels : int64 array, shape (..., frames, freqs)
        ``argmax_j |S_j|``.
    """
    if source_stfts.ndim < 3:
        raise ValueError(f"expected (..., n_sources, frames, freqs), got {source_stfts.shape}")
    if isinstance(source_stfts, torch.Tensor):
        return source_stfts.abs().argmax(dim=-3)
    return np.argmax(np.abs(source_stfts), axis=-3).astype(np.int64)


def one_hot_targets(labels: ArrayLike, n_sources: int, dtype: object = None) -> ArrayLike:
    """One-hot deep clustering targets ``Y`` (Eq. 1 of the M-DC paper, Eq. 8 of bootstrapping).

    Parameters
    ----------
    labels : int array, shape (...)
        Source index per bin, in ``[0, n_sources)``.
    n_sources : int
        Number of sources ``N``; never inferred from the labels present (a mixture in which
        one source is silent still has ``N`` sources).
    dtype : numpy or torch dtype, optional
        Output dtype, float32 by default.

    Returns
    -------
    targets : float array, shape (..., n_sources)
    """
    _check_labels(labels, n_sources)
    if isinstance(labels, torch.Tensor):
        return F.one_hot(labels.long(), n_sources).to(dtype or torch.float32)
    return np.eye(n_sources, dtype=dtype or np.float32)[np.asarray(labels, dtype=np.int64)]


def simplex_vertices(n: int) -> np.ndarray:
    """Vertices of the regular ``(n-1)``-simplex inscribed in the unit sphere of ``R^n``.

    Eq. 3 of the M-DC paper: vertex ``k`` is the centred one-hot vector scaled to unit norm,
    ``x_k = (e_k - 1/n) * sqrt(n / (n - 1))``, so that (Eq. 4-5)
    ``<x_k, x_k> = 1`` and ``<x_k, x_l> = -1 / (n - 1)`` for ``k != l``; the vertices sum to
    zero.  As ``n -> inf`` they approach the one-hot vectors (Eq. 6-8): M-DC tends to DC.

    Parameters
    ----------
    n : int
        Number of sources, ``n >= 2``.

    Returns
    -------
    vertices : float64 array, shape (n, n)
        Row ``k`` is the target vector of source ``k``.
    """
    if n < 2:
        raise ValueError(f"a regular simplex needs n >= 2 vertices, got {n}")
    return (np.eye(n) - 1.0 / n) * math.sqrt(n / (n - 1.0))


def simplex_targets(labels: ArrayLike, n_sources: int, dtype: object = None) -> ArrayLike:
    """Manifold-aware deep clustering targets (Eq. 9 of the M-DC paper).

    ``y_i = x_n`` (a vertex of :func:`simplex_vertices`) when source ``n`` dominates bin ``i``.
    Substituting these rows for the one-hot ``Y`` in the low-rank DC loss is the whole of M-DC.

    Parameters
    ----------
    labels : int array, shape (...)
        Source index per bin, in ``[0, n_sources)``.
    n_sources : int
        Number of sources ``N >= 2`` (sets the target angle ``arccos(-1/(N-1))``).
    dtype : numpy or torch dtype, optional
        Output dtype, float32 by default.

    Returns
    -------
    targets : float array, shape (..., n_sources)
    """
    _check_labels(labels, n_sources)
    vertices = simplex_vertices(n_sources)
    if isinstance(labels, torch.Tensor):
        table = torch.as_tensor(vertices, dtype=dtype or torch.float32, device=labels.device)
        return table[labels.long()]
    return vertices.astype(dtype or np.float32)[np.asarray(labels, dtype=np.int64)]


def magnitude_weights(mix: ArrayLike, norm: str = "sum") -> ArrayLike:
    """Magnitude weights ``|X_tf| / sum_tf |X_tf|`` (Section 2.3 of the bootstrapping paper).

    Parameters
    ----------
    mix : array, complex STFT or real magnitude, shape (..., frames, freqs)
        The (reference channel of the) mixture.
    norm : {"sum", "max"}
        ``"sum"`` (the paper's text): divide by the sum over the utterance's bins, so each
        utterance's weights sum to one.  ``"max"``: divide by the largest magnitude (the
        variant of the paper's original code).

    Returns
    -------
    weights : real array, shape (..., frames, freqs)
        Non-negative; an all-zero utterance gets all-zero weights.
    """
    if norm not in ("sum", "max"):
        raise ValueError(f"norm must be 'sum' or 'max', got {norm!r}")
    if mix.ndim < 2:
        raise ValueError(f"expected (..., frames, freqs), got shape {tuple(mix.shape)}")
    if isinstance(mix, torch.Tensor):
        magnitude = mix.abs()
        if norm == "max":
            total = magnitude.amax(dim=(-2, -1), keepdim=True)
        else:
            total = magnitude.sum(dim=(-2, -1), keepdim=True)
        return magnitude / torch.where(total > 0, total, torch.ones_like(total))
    magnitude = np.abs(mix)
    if norm == "max":
        total = magnitude.max(axis=(-2, -1), keepdims=True)
    else:
        total = magnitude.sum(axis=(-2, -1), keepdims=True)
    return magnitude / np.where(total > 0, total, 1.0)


def _per_mixture(value: float | ArrayLike, like: ArrayLike) -> float | ArrayLike:
    """A per-mixture scalar, or a ``(...)`` array given axes to broadcast to (..., T, F)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(like, torch.Tensor):
        value = torch.as_tensor(value, device=like.device)
    else:
        value = np.asarray(value)
    return value[..., None, None]


def bootstrap_weights(
    magnitude: ArrayLike,
    c_cl: float | ArrayLike,
    c_jsd: float | ArrayLike,
    c_post: ArrayLike,
    alpha: float,
    norm: str = "sum",
) -> ArrayLike:
    """Confidence-weighted magnitude weights ``w(alpha)`` of the bootstrapping paper.

    Eq. 7 and Section 2.3: ``w_tf(alpha) = [C_cl C_JSD C_post(t, f)]^alpha |X_tf| / sum |X|``.
    With ``alpha = 0`` the result equals :func:`magnitude_weights` exactly (``x**0 == 1``,
    also for ``x = 0``); for confidences below one the weights fall as ``alpha`` grows.

    Parameters
    ----------
    magnitude : array, complex STFT or real magnitude, shape (..., frames, freqs)
        The mixture at the reference channel.
    c_cl : float or array, shape (...)
        Cluster-size equality, Eq. 4 (one number per mixture).
    c_jsd : float or array, shape (...)
        Clustering fit (Jensen-Shannon divergence), Eq. 5 (one number per mixture).
    c_post : array, shape (..., frames, freqs)
        Posterior confidence per bin, Eq. 6.
    alpha : float
        Exponent of Eq. 7, ``alpha >= 0``.
    norm : {"sum", "max"}
        Normalization of the magnitude part, see :func:`magnitude_weights`.

    Returns
    -------
    weights : real array, shape (..., frames, freqs)
    """
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    confidence = (_per_mixture(c_cl, magnitude) * _per_mixture(c_jsd, magnitude) * c_post) ** alpha
    return confidence * magnitude_weights(magnitude, norm)


def phase_sensitive_targets(mix_stft: ArrayLike, source_stfts: ArrayLike) -> ArrayLike:
    """Truncated phase-sensitive magnitudes ``T_0^{|X|}(|S_c| cos(angle S_c - angle X))``.

    The target of the phase-sensitive mask-inference loss of Chimera++ (Wang, Le Roux and
    Hershey, ICASSP 2018, ref. [19] of the M-DC paper): the part of each source in phase with
    the mixture, clipped to ``[0, |X|]`` so that a mask in ``[0, 1]`` can reach it.  Pass the
    result as ``source_magnitudes`` of :func:`bootsep_lib.losses.mask_inference_loss` for
    the phase-sensitive variant; pass ``|S_c|`` for magnitude spectrum approximation.

    Parameters
    ----------
    mix_stft : complex array, shape (..., frames, freqs)
    source_stfts : complex array, shape (..., n_sources, frames, freqs)

    Returns
    -------
    targets : real array, shape (..., n_sources, frames, freqs)
    """
    if isinstance(mix_stft, torch.Tensor):
        mix = mix_stft.unsqueeze(-3)
        mix_mag = mix.abs()
        in_phase = (source_stfts * mix.conj()).real / torch.where(mix_mag > 0, mix_mag, 1.0)
        return torch.minimum(in_phase.clamp_min(0.0), mix_mag)
    mix = np.asarray(mix_stft)[..., None, :, :]
    mix_mag = np.abs(mix)
    in_phase = np.real(source_stfts * np.conj(mix)) / np.where(mix_mag > 0, mix_mag, 1.0)
    return np.clip(in_phase, 0.0, mix_mag)
