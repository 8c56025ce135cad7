"""Chimera objective: a DC head plus a permutation-invariant mask-inference (MI) head.

Registered losses: ``"chimera"`` (one-hot DC targets) and ``"mchimera"`` (simplex DC targets,
the M-DC paper's M-Chimera), both training a Chimera network.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import torch

from bootsep_lib.targets import one_hot_targets, simplex_targets

from .deep_clustering import (
    BATCH_WEIGHT_MEAN,
    deep_clustering_loss,
    flat_batch,
    normalize_loss,
)
from .registry import Loss, LossSettings, register_loss

__all__ = ["Chimera", "MChimera", "mask_inference_loss", "chimera_loss"]


def mask_inference_loss(
    masks: torch.Tensor,
    mix_magnitude: torch.Tensor,
    source_magnitudes: torch.Tensor,
    weights: torch.Tensor | None = None,
    norm: str = "l2",
) -> torch.Tensor:
    """Permutation-invariant mask-inference loss of the Chimera network's MI head.

    For each permutation ``pi`` of the sources,
    ``E_pi = 1/(C T F) sum_c sum_tf w_tf |M_c,tf |X_tf| - T_pi(c),tf|^p`` and the loss is
    ``min_pi E_pi`` (PIT over all ``C!`` permutations, from a ``C x C`` pairwise matrix).

    Which variant the M-DC paper uses: its Chimera experiments (Section 3.2, Fig. 2) ran on
    Asteroid, whose Chimera loss is ``alpha * DC + (1 - alpha) * PIT-MSE`` between masked
    mixture magnitudes and source magnitudes -- magnitude spectrum approximation (MSA) with
    ``p = 2``, the default here.  The phase-sensitive variant of Chimera++ (ref. [19]) uses
    truncated phase-sensitive targets (:func:`bootsep_lib.targets.phase_sensitive_targets`)
    with ``p = 1``: pass those as ``source_magnitudes`` and ``norm="l1"``.

    Parameters
    ----------
    masks : Tensor, shape (batch, n_sources, frames, freqs)
        Estimated masks ``M``.
    mix_magnitude : Tensor, shape (batch, frames, freqs)
        ``|X|``.
    source_magnitudes : Tensor, shape (batch, n_sources, frames, freqs)
        Targets ``T``: ``|S_c|`` (MSA) or truncated phase-sensitive magnitudes (tPSA).
    weights : Tensor, shape (batch, frames, freqs), optional
        Per-bin weights multiplying the error (0 for padded frames).  The sum is divided by
        the number of bins ``T F`` whatever the weights, so ``None`` gives the plain mean and
        per-mixture weight factors are not normalized away.
    norm : {"l2", "l1"}
        ``p = 2`` (squared error) or ``p = 1`` (absolute error).

    Returns
    -------
    loss : Tensor, shape (batch,)
        In units of magnitude squared (``"l2"``) or magnitude (``"l1"``), so its scale
        follows the signal level.
    """
    if norm not in ("l2", "l1"):
        raise ValueError(f"norm must be 'l2' or 'l1', got {norm!r}")
    if masks.ndim != 4 or masks.shape != source_magnitudes.shape:
        raise ValueError(
            "masks and source_magnitudes must both be (batch, n_sources, frames, freqs), got "
            f"{tuple(masks.shape)} and {tuple(source_magnitudes.shape)}"
        )
    if mix_magnitude.shape != masks.shape[:1] + masks.shape[2:]:
        raise ValueError(f"mix_magnitude must be (batch, frames, freqs), got {mix_magnitude.shape}")
    n_sources = masks.shape[1]
    estimates = masks * mix_magnitude.unsqueeze(1)
    # errors[b, i, j, t, f]: estimate i against target j
    errors = estimates.unsqueeze(2) - source_magnitudes.unsqueeze(1)
    errors = errors.square() if norm == "l2" else errors.abs()
    if weights is not None:
        errors = errors * weights[:, None, None]
    pairwise = errors.mean(dim=(-2, -1))  # (batch, n_sources, n_sources)
    sources = torch.arange(n_sources, device=masks.device)
    per_permutation = torch.stack(
        [
            pairwise[:, sources, torch.as_tensor(perm, device=masks.device)].mean(dim=-1)
            for perm in itertools.permutations(range(n_sources))
        ],
        dim=-1,
    )  # (batch, n_sources!)
    return per_permutation.amin(dim=-1)


def chimera_loss(
    embeddings: torch.Tensor,
    masks: torch.Tensor,
    targets: torch.Tensor,
    mix_magnitude: torch.Tensor,
    source_magnitudes: torch.Tensor,
    alpha: float,
    weights: torch.Tensor | None = None,
    dc_norm: str = "batch",
    mi_weights: torch.Tensor | None = None,
    mi_norm: str = "l2",
    dc_batch_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """Chimera objective ``alpha * DC + (1 - alpha) * MI`` per batch item.

    The weighting of the M-DC paper's Fig. 2 (``alpha = 1``: DC head only, ``alpha = 0``:
    MI head only).  With simplex ``targets`` this is the paper's M-Chimera.

    Scale of the two terms: the DC term is :func:`deep_clustering_loss` normalized by
    ``dc_norm``; with ``"batch"`` or ``"utterance"`` it is a weighted mean over bin pairs of
    squared inner-product errors, each in ``[0, 4]`` for unit embeddings (about 0.5-1 at
    initialization).  The MI term (:func:`mask_inference_loss`) is a mean squared magnitude
    error, so it scales with the square of the signal level: ``alpha`` trades off the two
    only for a fixed level convention (audio peak-normalized as in the data pipeline).

    Parameters
    ----------
    embeddings : Tensor, shape (batch, bins, D)
        DC head output with ``bins = frames * freqs`` (frames before freqs).
    masks : Tensor, shape (batch, n_sources, frames, freqs)
        MI head output.
    targets : Tensor, shape (batch, bins, K)
        DC targets: one-hot (Chimera) or simplex vertices (M-Chimera).
    mix_magnitude : Tensor, shape (batch, frames, freqs)
    source_magnitudes : Tensor, shape (batch, n_sources, frames, freqs)
        MI targets, see :func:`mask_inference_loss`.
    alpha : float
        Weight of the DC term, in ``[0, 1]``.
    weights : Tensor, shape (batch, bins), optional
        DC bin weights (``None``: all ones).
    dc_norm : {"batch", "utterance", "none"}
        Normalization of the DC term, see :func:`normalize_loss`.
    mi_weights : Tensor, shape (batch, frames, freqs), optional
        MI bin weights (``None``: plain mean).
    mi_norm : {"l2", "l1"}
        Error of the MI term.
    dc_batch_mean : Tensor, optional
        Whole-batch weight mean for the ``"batch"`` normalization, see :func:`normalize_loss`.

    Returns
    -------
    loss : Tensor, shape (batch,)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    dc = deep_clustering_loss(embeddings, targets, weights)
    dc_weights = torch.ones(embeddings.shape[:2], device=dc.device) if weights is None else weights
    dc = normalize_loss(dc, dc_weights, dc_norm, dc_batch_mean)
    mi = mask_inference_loss(masks, mix_magnitude, source_magnitudes, mi_weights, mi_norm)
    return alpha * dc + (1.0 - alpha) * mi


class _ChimeraObjective(Loss):
    """``chimera_loss`` on a batch; the MI term's weights are 1 on real frames, 0 on padding."""

    model = "chimera"
    keys = ("labels", "weights", "mix_mag", "source_mags")
    targets: Callable[..., torch.Tensor] = staticmethod(one_hot_targets)

    def __call__(
        self, outputs: Any, batch: Mapping[str, torch.Tensor], settings: LossSettings
    ) -> torch.Tensor:
        flat, labels, weights = flat_batch(outputs, batch)
        per_item = chimera_loss(
            flat,
            outputs[1],
            self.targets(labels, settings.n_sources),
            batch["mix_mag"],
            batch["source_mags"],
            settings.chimera_alpha,
            weights=weights,
            dc_norm=settings.loss_norm,
            mi_weights=batch["valid"],
            dc_batch_mean=batch.get(BATCH_WEIGHT_MEAN),
        )
        return per_item.mean()


@register_loss("chimera")
class Chimera(_ChimeraObjective):
    """Chimera: one-hot DC targets."""

    targets = staticmethod(one_hot_targets)


@register_loss("mchimera")
class MChimera(_ChimeraObjective):
    """M-Chimera: simplex DC targets on the DC head."""

    targets = staticmethod(simplex_targets)
