"""The Chimera network: DC embeddings plus a mask-inference head on one trunk, ``"chimera"``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bootsep_lib.config import ModelConfig

from .registry import register_model
from .trunk import BLSTMTrunk, EmbeddingHead

__all__ = ["MASK_ACTIVATIONS", "ChimeraNet"]

MASK_ACTIVATIONS = ("softmax", "sigmoid")


@register_model("chimera")
class ChimeraNet(nn.Module):
    """Chimera network: the DC network plus a mask-inference head on the same BLSTM trunk.

    The MI head is a dense layer to ``freqs * n_sources`` followed by a softmax over the
    sources (the Chimera++ default, masks sum to one per bin) or a sigmoid (the Asteroid recipe
    the M-DC paper used).

    Parameters
    ----------
    n_freqs : int
        Number of frequencies ``F``.
    config : ModelConfig
        Trunk and embedding settings, as for :class:`DeepClusteringNet`.
    n_sources : int
        Number of masks ``C``.
    mask_activation : {"softmax", "sigmoid"}
    """

    def __init__(
        self,
        n_freqs: int,
        config: ModelConfig,
        n_sources: int,
        mask_activation: str = "softmax",
    ) -> None:
        super().__init__()
        if mask_activation not in MASK_ACTIVATIONS:
            raise ValueError(f"mask_activation must be one of {MASK_ACTIVATIONS}")
        if n_sources < 1:
            raise ValueError(f"n_sources must be >= 1, got {n_sources}")
        self.n_freqs = n_freqs
        self.embedding_dim = config.embedding_dim
        self.n_sources = n_sources
        self.mask_activation = mask_activation
        self.trunk = BLSTMTrunk(n_freqs, config)
        self.embedding = EmbeddingHead(self.trunk.output_size, n_freqs, config.embedding_dim)
        self.mask = nn.Linear(self.trunk.output_size, n_freqs * n_sources)

    @classmethod
    def build(cls, n_freqs: int, config: ModelConfig, n_sources: int) -> ChimeraNet:
        """Registry factory: ``n_sources`` softmax masks."""
        return cls(n_freqs, config, n_sources)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-frequency standardization of the input, shape (freqs,) each."""
        self.trunk.set_input_stats(mean, std)

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and masks.

        Parameters
        ----------
        features : Tensor, shape (batch, frames, freqs)
        lengths : Tensor or sequence of int, shape (batch,), optional

        Returns
        -------
        embeddings : Tensor, shape (batch, frames, freqs, D)
        masks : Tensor, shape (batch, n_sources, frames, freqs)
        """
        hidden = self.trunk(features, lengths)
        batch, frames, _ = hidden.shape
        logits = self.mask(hidden).view(batch, frames, self.n_sources, self.n_freqs)
        if self.mask_activation == "softmax":
            masks = torch.softmax(logits, dim=2)
        else:
            masks = torch.sigmoid(logits)
        return self.embedding(hidden), masks.transpose(1, 2)
