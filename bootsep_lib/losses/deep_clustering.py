"""Weighted deep clustering (Eq. 8-9 of the bootstrapping paper) and its normalization.

Every loss returns one value per batch item, shape ``(batch,)``; the training objective is
the mean over the batch.  Normalization of the deep clustering loss is a separate, explicit
step (:func:`normalize_loss`) because it decides what the bootstrapping paper's confidence
weights can do:

* ``"batch"`` divides every item by the same number, ``(mean_b sum_i w_bi)^2``.  A mixture
  whose weights are scaled by a confidence ``c`` contributes ``c^2`` times as much as
  before, relative to the others, so the per-mixture factors ``C_cl`` and ``C_JSD`` of Eq. 7
  keep weighing whole mixtures as the paper intends.  For unweighted (all-ones) losses on
  equal-length items it equals ``"utterance"``: the classical ``1 / (TF)^2``.
* ``"utterance"`` divides each item by its own ``(sum_i w_i)^2``, the convention of much deep
  clustering code.  Scaling an item's weights by ``c`` scales its loss by ``c^2`` and its
  divisor by ``c^2``: **the per-mixture factors cancel**, and of Eq. 7 only ``C_post``
  (which varies within the mixture) survives.
* ``"none"`` leaves the loss as Eq. 9 defines it.  With the paper's weights
  ``w = C |X| / sum |X|`` (each utterance's weights sum to at most one) this is already of
  order one, and it is what the paper's text implies.

Registered loss: ``"dc"`` (one-hot targets, :class:`DeepClustering`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import torch

from bootsep_lib.targets import one_hot_targets

from .registry import Loss, LossSettings, register_loss

__all__ = ["BATCH_WEIGHT_MEAN", "NORMALIZATIONS", "DeepClustering", "WeightedDeepClustering",
           "deep_clustering_loss", "flat_batch", "normalize_loss"]

NORMALIZATIONS = ("batch", "utterance", "none")

BATCH_WEIGHT_MEAN = "batch_weight_mean"
"""Batch key of ``mean_b sum_i w_bi`` over the whole batch, set by the trainer when a process
holds only its slice of a data parallel batch (see :func:`normalize_loss`)."""


def _working_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs (squared Gram entries overflow float16), else as is."""
    return torch.promote_types(dtype, torch.float32)


class _LowRankDeepClustering(torch.autograd.Function):
    """Eq. 8-9 in low-rank form with its analytic gradient with respect to the embeddings.

    Forward: ``A = V^T W V``, ``B = V^T W Y``, ``C = Y^T W Y`` and
    ``L = ||A||^2 - 2 ||B||^2 + ||C||^2``.  Backward: ``dL/dv_k = 4 w_k (A v_k - B y_k)``,
    i.e. ``dL/dV = 4 W (V A - Y B^T)``: one ``(bins, D) x (D, D)`` product and one
    ``(bins, K) x (K, D)`` product accumulated into a single new ``(batch, bins, D)`` tensor.
    Plain autograd through the three products allocates several bins-sized temporaries and
    was measured about 2x slower at batch 16 x 32,250 bins, D = 20 on CPU
    (``benchmarks/bench_loss.py``).
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        v: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor | None,
    ) -> torch.Tensor:
        wv = v if w is None else w.unsqueeze(-1) * v
        wy = y if w is None else w.unsqueeze(-1) * y
        a = torch.bmm(wv.transpose(1, 2), v)  # V^T W V, (batch, D, D)
        b = torch.bmm(wv.transpose(1, 2), y)  # V^T W Y, (batch, D, K)
        c = torch.bmm(wy.transpose(1, 2), y)  # Y^T W Y, (batch, K, K)
        ctx.save_for_backward(v, y, w, a, b)
        return (
            a.square().sum(dim=(1, 2))
            - 2.0 * b.square().sum(dim=(1, 2))
            + c.square().sum(dim=(1, 2))
        )

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor, None, None]:
        v, y, w, a, b = ctx.saved_tensors
        grad = torch.bmm(v, a)
        grad.baddbmm_(y, b.transpose(1, 2), alpha=-1.0)
        scale = 4.0 * grad_output[:, None, None]
        grad.mul_(scale if w is None else scale * w.unsqueeze(-1))
        return grad, None, None


def deep_clustering_loss(
    embeddings: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted deep clustering loss, Eq. 8-9 of the bootstrapping paper, per batch item.

    ``L = ||W^1/2 (V V^T - Y Y^T) W^1/2||_F^2 = sum_ij w_i w_j (<v_i, v_j> - <y_i, y_j>)^2``
    computed in the low-rank form (Eq. 2 of the M-DC paper, with weights)
    ``||V^T W V||_F^2 - 2 ||V^T W Y||_F^2 + ||Y^T W Y||_F^2``: three ``D x D``, ``D x K`` and
    ``K x K`` Gram matrices instead of the ``bins x bins`` affinity matrix, so time and memory
    are linear in the number of bins.  Unnormalized; see :func:`normalize_loss`.

    The gradient with respect to the embeddings is analytic,
    ``dL/dV = 4 W (V (V^T W V) - Y (V^T W Y)^T)`` (verified against finite differences and
    against autograd through the double sum in the tests); targets and weights are data and
    get no gradient (passing ones that require a gradient is an error).

    Everything is computed in (at least) float32 with autocast disabled: under mixed precision,
    float16 Gram entries would be fine but their squares (up to ``bins^2``) are not.  The
    result is mathematically non-negative; in floating point it may be a rounding error below
    zero when the embeddings match the targets.

    Parameters
    ----------
    embeddings : Tensor, shape (batch, bins, D)
        Embeddings ``V`` (unit-norm rows for DC; any rows are accepted).
    targets : Tensor, shape (batch, bins, K)
        Targets ``Y``: one-hot (DC) or simplex vertices (M-DC), see :mod:`bootsep_lib.targets`.
    weights : Tensor, shape (batch, bins), optional
        Non-negative bin weights ``w_i`` (the diagonal of ``W``); ``None`` means all ones.
        Padded bins must get weight 0.

    Returns
    -------
    loss : Tensor, shape (batch,)
        ``sum_ij w_i w_j (<v_i, v_j> - <y_i, y_j>)^2`` for each item, in the working dtype
        (float32, or float64 for float64 inputs).
    """
    if embeddings.ndim != 3 or targets.ndim != 3 or embeddings.shape[:2] != targets.shape[:2]:
        raise ValueError(
            "expected embeddings (batch, bins, D) and targets (batch, bins, K), got "
            f"{tuple(embeddings.shape)} and {tuple(targets.shape)}"
        )
    if weights is not None and weights.shape != embeddings.shape[:2]:
        raise ValueError(
            f"weights must be (batch, bins) = {tuple(embeddings.shape[:2])}, "
            f"got {tuple(weights.shape)}"
        )
    if targets.requires_grad or (weights is not None and weights.requires_grad):
        raise ValueError("targets and weights are data: they must not require a gradient")
    dtype = _working_dtype(embeddings.dtype)
    with torch.autocast(device_type=embeddings.device.type, enabled=False):
        return _LowRankDeepClustering.apply(
            embeddings.to(dtype),
            targets.to(dtype),
            None if weights is None else weights.to(dtype),
        )


def normalize_loss(
    per_item_loss: torch.Tensor, weights: torch.Tensor, mode: str = "batch",
    batch_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """Normalize per-item deep clustering losses; the batch mean is the training objective.

    Parameters
    ----------
    per_item_loss : Tensor, shape (batch,)
        Output of :func:`deep_clustering_loss` (or :func:`mdc_loss`).
    weights : Tensor, shape (batch, bins)
        The weights the loss was computed with (``torch.ones(batch, bins)`` for unweighted).
    mode : {"batch", "utterance", "none"}
        ``"batch"``: every item divided by the common ``(mean_b sum_i w_bi)^2`` -- per-mixture
        confidence factors keep their effect.  ``"utterance"``: item ``b`` divided by
        ``(sum_i w_bi)^2`` -- per-mixture confidence factors (``C_cl``, ``C_JSD``) cancel.
        ``"none"``: unchanged.  See the module docstring.
    batch_mean : Tensor, optional
        ``mean_b sum_i w_bi`` of the whole batch when ``weights`` are only part of it (one
        process's slice of a data parallel batch; the trainer puts it in the batch as
        :data:`BATCH_WEIGHT_MEAN`); default: the mean over ``weights``.  ``"batch"`` only.

    Returns
    -------
    loss : Tensor, shape (batch,)
        Items whose weights are all zero (and whose loss is therefore zero) stay zero.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"mode must be one of {NORMALIZATIONS}, got {mode!r}")
    if weights.ndim != 2 or weights.shape[0] != per_item_loss.shape[0]:
        raise ValueError(
            f"weights must be (batch, bins) with batch {per_item_loss.shape[0]}, "
            f"got {tuple(weights.shape)}"
        )
    if mode == "none":
        return per_item_loss
    totals = weights.to(per_item_loss.dtype).sum(dim=-1)
    if mode == "utterance":
        divisor = totals.square()
    else:
        divisor = (totals.mean() if batch_mean is None else batch_mean.to(totals.dtype)).square()
    return per_item_loss / torch.where(divisor > 0, divisor, torch.ones_like(divisor))


def flat_batch(
    outputs: Any, batch: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embeddings, labels and weights of a batch with bins flattened, frames before freqs.

    Returns
    -------
    embeddings : Tensor, shape (batch, frames * freqs, D)
        From ``outputs`` (a DC network's tensor, or the first of a Chimera network's pair).
    labels : int Tensor, shape (batch, frames * freqs)
    weights : Tensor, shape (batch, frames * freqs)
    """
    embeddings = outputs[0] if isinstance(outputs, tuple) else outputs  # (B, T, F, D)
    b, t, f, d = embeddings.shape
    flat = embeddings.reshape(b, t * f, d)
    labels = batch["labels"].reshape(b, t * f)
    weights = batch["weights"].reshape(b, t * f)
    return flat, labels, weights


class WeightedDeepClustering(Loss):
    """Base of the weighted DC losses: flatten the batch, score each item, normalize, average.

    A subclass supplies :meth:`per_item` (the targets it compares the embeddings with) and
    registers itself; the rest, ``settings.loss_norm`` included, is shared.
    """

    model = "dc"
    keys = ("labels", "weights")

    @abstractmethod
    def per_item(
        self, embeddings: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
        n_sources: int,
    ) -> torch.Tensor:
        """Unnormalized loss of each item, shape ``(batch,)``, from :func:`flat_batch`'s tensors."""

    def __call__(
        self, outputs: Any, batch: Mapping[str, torch.Tensor], settings: LossSettings
    ) -> torch.Tensor:
        flat, labels, weights = flat_batch(outputs, batch)
        per_item = self.per_item(flat, labels, weights, settings.n_sources)
        return normalize_loss(per_item, weights, settings.loss_norm,
                              batch.get(BATCH_WEIGHT_MEAN)).mean()


@register_loss("dc")
class DeepClustering(WeightedDeepClustering):
    """Weighted DC with one-hot targets (Eq. 8-9), normalized by ``settings.loss_norm``."""

    def per_item(
        self, embeddings: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
        n_sources: int,
    ) -> torch.Tensor:
        """Eq. 9 with the one-hot ``Y`` of Eq. 8."""
        return deep_clustering_loss(embeddings, one_hot_targets(labels, n_sources), weights)
