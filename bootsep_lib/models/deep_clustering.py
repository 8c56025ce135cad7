"""The BLSTM deep clustering network (Section 3.1 of the bootstrapping paper), ``"dc"``.

DC and M-DC train the same network; they differ only in the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bootsep_lib.config import ModelConfig

from .registry import register_model
from .trunk import BLSTMTrunk, EmbeddingHead

__all__ = ["DeepClusteringNet"]


@register_model("dc")
class DeepClusteringNet(nn.Module):
    """BLSTM deep clustering network (Section 3.1 of the bootstrapping paper).

    Parameters
    ----------
    n_freqs : int
        Number of frequencies ``F``.
    config : ModelConfig
        Layers, units per direction, embedding dimension ``D``, dropout between layers.
    """

    def __init__(self, n_freqs: int, config: ModelConfig) -> None:
        super().__init__()
        self.n_freqs = n_freqs
        self.embedding_dim = config.embedding_dim
        self.trunk = BLSTMTrunk(n_freqs, config)
        self.embedding = EmbeddingHead(self.trunk.output_size, n_freqs, config.embedding_dim)

    @classmethod
    def build(cls, n_freqs: int, config: ModelConfig, n_sources: int) -> DeepClusteringNet:
        """Registry factory (``n_sources`` is not used: DC embeds, K-means counts)."""
        return cls(n_freqs, config)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-frequency standardization of the input, shape (freqs,) each."""
        self.trunk.set_input_stats(mean, std)

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> torch.Tensor:
        """Embed every time-frequency bin.

        Parameters
        ----------
        features : Tensor, shape (batch, frames, freqs)
            Log-magnitude of the mixture (e.g. :func:`bootsep_lib.dsp.magnitude_db`).
        lengths : Tensor or sequence of int, shape (batch,), optional
            Valid frames per item (padding cannot reach them); ``None``: all frames valid.

        Returns
        -------
        embeddings : Tensor, shape (batch, frames, freqs, D)
            Unit-norm rows; ``.flatten(1, 2)`` gives the loss's ``(batch, bins, D)``.
        """
        return self.embedding(self.trunk(features, lengths))
