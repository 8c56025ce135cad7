"""Manifold-aware deep clustering (Tanaka et al., Interspeech 2021): simplex targets.

Registered loss: ``"mdc"`` (:class:`ManifoldAwareDeepClustering`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from bootsep_lib.targets import simplex_targets

from .deep_clustering import (
    BATCH_WEIGHT_MEAN,
    deep_clustering_loss,
    flat_batch,
    normalize_loss,
)
from .registry import Loss, LossSettings, register_loss

__all__ = ["ManifoldAwareDeepClustering", "mdc_loss"]


def mdc_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    n_sources: int,
) -> torch.Tensor:
    """Manifold-aware deep clustering loss (M-DC paper, Eq. 2 with the ``Y`` of Eq. 9).

    Exactly :func:`deep_clustering_loss` with the one-hot targets replaced by regular-simplex
    vertices (:func:`bootsep_lib.targets.simplex_targets`): the target inner product between
    bins of different sources is ``-1/(N-1)`` instead of 0.  Weights work as in Eq. 8-9 of
    the bootstrapping paper.

    Parameters
    ----------
    embeddings : Tensor, shape (batch, bins, D)
    labels : int Tensor, shape (batch, bins)
        Dominant (or pseudo) source index per bin, in ``[0, n_sources)``.
    weights : Tensor, shape (batch, bins), optional
    n_sources : int
        Number of sources ``N`` of the mixtures (keyword only: never inferred from labels).

    Returns
    -------
    loss : Tensor, shape (batch,)
        Unnormalized; see :func:`normalize_loss`.
    """
    targets = simplex_targets(labels, n_sources, dtype=embeddings.dtype)
    return deep_clustering_loss(embeddings, targets, weights)


@register_loss("mdc")
class ManifoldAwareDeepClustering(Loss):
    """M-DC: weighted DC with simplex targets, normalized by ``settings.loss_norm``."""

    model = "dc"
    keys = ("labels", "weights")

    def __call__(
        self, outputs: Any, batch: Mapping[str, torch.Tensor], settings: LossSettings
    ) -> torch.Tensor:
        flat, labels, weights = flat_batch(outputs, batch)
        per_item = mdc_loss(flat, labels, weights, n_sources=settings.n_sources)
        return normalize_loss(per_item, weights, settings.loss_norm,
                              batch.get(BATCH_WEIGHT_MEAN)).mean()
