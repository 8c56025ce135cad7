"""The shared BLSTM trunk, the embedding head and input statistics of both networks.

Architecture (Section 3.1 of the bootstrapping paper; Section 3.2 of the M-DC paper): a stack
of bidirectional LSTMs over the frames of a log-magnitude spectrogram, then a dense layer to
``freqs * D`` with a tanh, reshaped to one ``D``-dimensional, unit-normalized embedding per
time-frequency bin.  The Chimera network adds a second dense head (mask inference, MI) that
outputs one mask per source and bin.  With the paper's configuration (4 x 300 units per
direction, D = 15, 129 frequencies at 8 kHz) the DC network has 8,691,735 parameters -- the
paper's "8.7M".

Input normalization
-------------------
Each frequency of the input is standardized with a mean and standard deviation held in
buffers (saved with the weights) and set from training-set statistics with
:meth:`DeepClusteringNet.set_input_stats` (see :func:`feature_statistics`), as in the
original deep clustering recipes.  Global statistics rather than per-utterance ones keep the
absolute level of a bin meaningful (a quiet bin stays quiet relative to the corpus) and make
the network's output independent of the crop it sees.  The defaults (mean 0, std 1) are the
identity: a trainer must set them.

Padding
-------
``forward(features, lengths)`` keeps padded frames from influencing the valid ones (in either
direction) without :func:`torch.nn.utils.rnn.pack_padded_sequence`, whose CPU kernel is 4-20x
slower than the padded one as soon as the lengths differ:

* all lengths equal to the number of frames: the plain padded BLSTM (bitwise equal to the
  packed one, outputs and gradients, and 1.6x faster);
* otherwise, layer by layer, the forward direction runs on the padded batch (padding comes
  after the valid frames, so it cannot reach them) and the backward direction runs forward
  over each item's valid frames reversed within its own length (:func:`reverse_within`), its
  outputs reversed back.  This equals the packed BLSTM on valid frames to float tolerance.

Outputs at padded frames are set to 0 (as the packed path's) and must get weight 0 in the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bootsep_lib.config import ModelConfig

__all__ = ["BLSTMTrunk", "EmbeddingHead", "feature_statistics", "reverse_within"]


_WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lengths_tensor(lengths: torch.Tensor | Sequence[int]) -> torch.Tensor:
    return torch.as_tensor(lengths, dtype=torch.int64).cpu()


def _valid_frames(frames: int, lengths: torch.Tensor | Sequence[int] | None) -> torch.Tensor:
    """Boolean mask ``(batch, frames)`` of frames inside each item's length."""
    lengths = _lengths_tensor(lengths)
    return torch.arange(frames).unsqueeze(0) < lengths.unsqueeze(1)


def feature_statistics(
    features: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and standard deviation of input features, for ``set_input_stats``.

    Parameters
    ----------
    features : Tensor, shape (batch, frames, freqs)
        Log-magnitude features of (a sample of) the training set.
    lengths : Tensor or sequence of int, shape (batch,), optional
        Valid frames of each item; padded frames are left out.

    Returns
    -------
    mean, std : Tensor, shape (freqs,)
    """
    if lengths is None:
        valid = features.reshape(-1, features.shape[-1])
    else:
        valid = features[_valid_frames(features.shape[1], lengths).to(features.device)]
    return valid.mean(dim=0), valid.std(dim=0)


def reverse_within(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Reverse every item of ``x`` (batch, frames, ...) within its length; padding stays put.

    ``index`` comes from :func:`reversal_index`.  The reversal is its own inverse.
    """
    shape = (*index.shape, *([1] * (x.ndim - 2)))
    return x.gather(1, index.view(shape).expand_as(x))


def reversal_index(lengths: torch.Tensor, frames: int, device: torch.device) -> torch.Tensor:
    """Frame indices ``(batch, frames)``: ``L - 1 - t`` on valid frames ``t < L``, else ``t``."""
    t = torch.arange(frames).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    return torch.where(t <= last, last - t, t).to(device)


class BLSTMTrunk(nn.Module):
    """Input standardization and a stack of bidirectional LSTMs (shared by both networks).

    Parameters
    ----------
    n_freqs : int
        Number of frequencies ``F`` of the input (129 for a 256-point STFT).
    config : ModelConfig
        ``layers`` BLSTM layers of ``units`` per direction, ``dropout`` between layers.
    """

    def __init__(self, n_freqs: int, config: ModelConfig) -> None:
        super().__init__()
        self.n_freqs = n_freqs
        self.output_size = 2 * config.units
        self.register_buffer("input_mean", torch.zeros(n_freqs))
        self.register_buffer("input_std", torch.ones(n_freqs))
        self.lstm = nn.LSTM(
            input_size=n_freqs,
            hidden_size=config.units,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor, floor: float = 1e-5) -> None:
        """Set the per-frequency standardization, shape (freqs,) each; ``std`` floored."""
        mean = torch.as_tensor(mean, dtype=self.input_mean.dtype)
        std = torch.as_tensor(std, dtype=self.input_std.dtype)
        if mean.shape != (self.n_freqs,) or std.shape != (self.n_freqs,):
            raise ValueError(
                f"mean and std must be ({self.n_freqs},), "
                f"got {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(floor))

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> torch.Tensor:
        """BLSTM outputs ``(batch, frames, 2 * units)`` for features ``(batch, frames, freqs)``."""
        if features.ndim != 3 or features.shape[-1] != self.n_freqs:
            raise ValueError(
                f"expected features (batch, frames, {self.n_freqs}), got {tuple(features.shape)}"
            )
        x = (features - self.input_mean) / self.input_std
        if lengths is None:
            return self.lstm(x)[0]
        lengths = _lengths_tensor(lengths)
        if bool((lengths == x.shape[1]).all()):
            return self.lstm(x)[0]
        return self._masked(x, lengths)

    def _direction(self, x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
        """One direction of one layer of :attr:`lstm`, run forward in time over ``x``."""
        lstm = self.lstm
        weights = [getattr(lstm, f"{name}_l{layer}{suffix}") for name in _WEIGHT_NAMES]
        zeros = x.new_zeros(1, x.shape[0], lstm.hidden_size)
        return torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training, False, True)[0]

    def _masked(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The BLSTM of unequal lengths, exact on valid frames (see the module docstring)."""
        index = reversal_index(lengths, x.shape[1], x.device)
        lstm = self.lstm
        for layer in range(lstm.num_layers):
            if layer > 0 and self.training and lstm.dropout > 0:
                x = F.dropout(x, lstm.dropout, training=True)
            forward = self._direction(x, layer, "")
            backward = reverse_within(self._direction(reverse_within(x, index), layer, "_reverse"),
                                      index)
            x = torch.cat([forward, backward], dim=-1)
        valid = _valid_frames(x.shape[1], lengths).to(x.device)
        return x * valid.unsqueeze(-1).to(x.dtype)

class EmbeddingHead(nn.Module):
    """Dense layer to ``freqs * D``, tanh, unit norm per bin: ``(batch, frames, freqs, D)``."""

    def __init__(self, in_size: int, n_freqs: int, embedding_dim: int) -> None:
        super().__init__()
        self.n_freqs = n_freqs
        self.embedding_dim = embedding_dim
        self.dense = nn.Linear(in_size, n_freqs * embedding_dim)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = hidden.shape
        v = torch.tanh(self.dense(hidden)).view(batch, frames, self.n_freqs, self.embedding_dim)
        return F.normalize(v, p=2.0, dim=-1)
