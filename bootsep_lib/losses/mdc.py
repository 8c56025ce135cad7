"""Manifold-aware deep clustering (Tanaka et al., Interspeech 2021): simplex targets.

Registered loss: ``"mdc"`` (:class:`ManifoldAwareDeepClustering`).
"""

from __future__ import annotations

import torch

from bootsep_lib.targets import simplex_targets

from .deep_clustering import WeightedDeepClustering, deep_clustering_loss
from .registry import register_loss

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
class ManifoldAwareDeepClustering(WeightedDeepClustering):
    """M-DC: weighted DC with simplex targets, normalized by ``settings.loss_norm``."""

    def per_item(
        self, embeddings: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
        n_sources: int,
    ) -> torch.Tensor:
        """:func:`mdc_loss` of each item."""
        return mdc_loss(embeddings, labels, weights, n_sources=n_sources)
