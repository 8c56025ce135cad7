"""Training objectives: weighted deep clustering, manifold-aware deep clustering, Chimera.

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
"""

from __future__ import annotations

import itertools

import torch

from bootsep_lib.targets import simplex_targets

__all__ = [
    "NORMALIZATIONS",
    "deep_clustering_loss",
    "normalize_loss",
    "mdc_loss",
    "mask_inference_loss",
    "chimera_loss",
]

NORMALIZATIONS = ("batch", "utterance", "none")


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
    per_item_loss: torch.Tensor, weights: torch.Tensor, mode: str = "batch"
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
        ``"none"``: unchanged.  See the module docstring.  Under data parallelism ``"batch"``
        uses each process's local batch.

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
    divisor = totals.square() if mode == "utterance" else totals.mean().square()
    return per_item_loss / torch.where(divisor > 0, divisor, torch.ones_like(divisor))


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

    Returns
    -------
    loss : Tensor, shape (batch,)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    dc = deep_clustering_loss(embeddings, targets, weights)
    dc_weights = torch.ones(embeddings.shape[:2], device=dc.device) if weights is None else weights
    dc = normalize_loss(dc, dc_weights, dc_norm)
    mi = mask_inference_loss(masks, mix_magnitude, source_magnitudes, mi_weights, mi_norm)
    return alpha * dc + (1.0 - alpha) * mi
