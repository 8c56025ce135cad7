"""Tests of bootsep_lib.losses: weighted DC (Eq. 8-9), normalization, M-DC, PIT MI, Chimera."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from bootsep_lib.losses import (
    chimera_loss,
    deep_clustering_loss,
    mask_inference_loss,
    mdc_loss,
    normalize_loss,
)
from bootsep_lib.targets import one_hot_targets, simplex_targets


def _brute_force(v: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """sum_i sum_j w_i w_j (<v_i, v_j> - <y_i, y_j>)^2 with explicit bins x bins matrices."""
    out = []
    for b in range(v.shape[0]):
        affinity = v[b] @ v[b].T - y[b] @ y[b].T
        wb = torch.ones(v.shape[1], dtype=v.dtype) if w is None else w[b]
        out.append((torch.outer(wb, wb) * affinity.square()).sum())
    return torch.stack(out)


def _inputs(k: int, seed: int = 0, batch: int = 3, bins: int = 17, dim: int = 5):
    g = torch.Generator().manual_seed(seed)
    v = F.normalize(torch.randn(batch, bins, dim, generator=g, dtype=torch.float64), dim=-1)
    labels = torch.randint(0, k, (batch, bins), generator=g)
    w = torch.rand(batch, bins, generator=g, dtype=torch.float64)
    return v, labels, w


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_low_rank_equals_brute_force_double_sum(k, weighted):
    v, labels, w = _inputs(k)
    weights = w if weighted else None
    for y in (one_hot_targets(labels, k, torch.float64), simplex_targets(labels, k, torch.float64)):
        loss = deep_clustering_loss(v, y, weights)
        assert loss.shape == (3,) and loss.dtype == torch.float64
        torch.testing.assert_close(loss, _brute_force(v, y, weights), rtol=1e-10, atol=1e-10)


def test_float32_close_to_float64():
    v, labels, w = _inputs(3, seed=1, bins=500, dim=20)
    y = one_hot_targets(labels, 3, torch.float64)
    ref = deep_clustering_loss(v, y, w)
    got = deep_clustering_loss(v.float(), y.float(), w.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-3)


def test_zero_when_embeddings_equal_targets():
    _, labels, w = _inputs(3, seed=2)
    y = one_hot_targets(labels, 3, torch.float64)
    loss = deep_clustering_loss(y.clone(), y, w)
    torch.testing.assert_close(loss, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    ys = simplex_targets(labels, 3, torch.float64)
    assert mdc_loss(ys.clone(), labels, w, n_sources=3).abs().max() < 1e-12
    # and positive otherwise
    v, _, _ = _inputs(3, seed=2)
    assert (deep_clustering_loss(v, y, w) > 0).all()


def test_zero_weight_bins_are_ignored():
    v, labels, w = _inputs(2, seed=3)
    y = one_hot_targets(labels, 2, torch.float64)
    w[:, 10:] = 0.0
    full = deep_clustering_loss(v, y, w)
    cropped = deep_clustering_loss(v[:, :10], y[:, :10], w[:, :10])
    torch.testing.assert_close(full, cropped)
    # whatever the padded bins hold
    v2 = v.clone()
    v2[:, 10:] = -v2[:, 10:]
    torch.testing.assert_close(deep_clustering_loss(v2, y, w), full)


def test_gradcheck_and_gradient_flows():
    v, labels, w = _inputs(2, seed=4, batch=2, bins=6, dim=3)
    y = one_hot_targets(labels, 2, torch.float64)
    v = v.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda e: deep_clustering_loss(e, y, w), (v,))
    deep_clustering_loss(v, y, w).sum().backward()
    assert torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0


@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_equals_autograd_through_brute_force(weighted):
    v, labels, w = _inputs(3, seed=10)
    weights = w if weighted else None
    y = simplex_targets(labels, 3, torch.float64)
    upstream = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    grads = []
    for loss_fn in (deep_clustering_loss, _brute_force):
        leaf = v.clone().requires_grad_(True)
        (loss_fn(leaf, y, weights) * upstream).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-10)


def test_targets_and_weights_must_not_require_grad():
    v, labels, w = _inputs(2)
    y = one_hot_targets(labels, 2, torch.float64)
    with pytest.raises(ValueError):
        deep_clustering_loss(v, y.requires_grad_(True))
    with pytest.raises(ValueError):
        deep_clustering_loss(v, y.detach(), w.requires_grad_(True))


def test_half_precision_inputs_are_computed_in_float32():
    v, labels, _ = _inputs(2, seed=5, bins=300)
    y = one_hot_targets(labels, 2)
    loss = deep_clustering_loss(v.half(), y.half())
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    torch.testing.assert_close(
        loss.double(), deep_clustering_loss(v, y.double()), rtol=2e-3, atol=0
    )


def test_shape_errors():
    v, labels, w = _inputs(2)
    y = one_hot_targets(labels, 2, torch.float64)
    with pytest.raises(ValueError):
        deep_clustering_loss(v.reshape(3, 17, 5, 1), y)
    with pytest.raises(ValueError):
        deep_clustering_loss(v, y, w[:, :5])


def test_normalization_modes():
    v, labels, w = _inputs(2, seed=6)
    y = one_hot_targets(labels, 2, torch.float64)
    raw = deep_clustering_loss(v, y, w)
    torch.testing.assert_close(normalize_loss(raw, w, "none"), raw)
    torch.testing.assert_close(normalize_loss(raw, w, "utterance"), raw / w.sum(-1) ** 2)
    torch.testing.assert_close(normalize_loss(raw, w, "batch"), raw / w.sum(-1).mean() ** 2)
    # unweighted, equal lengths: "batch" == "utterance" == classical 1 / bins^2
    ones = torch.ones_like(w)
    raw1 = deep_clustering_loss(v, y)
    torch.testing.assert_close(normalize_loss(raw1, ones, "batch"), raw1 / 17**2)
    torch.testing.assert_close(normalize_loss(raw1, ones, "utterance"), raw1 / 17**2)
    # an all-zero-weight item stays zero, no NaN
    w0 = w.clone()
    w0[1] = 0.0
    for mode in ("batch", "utterance"):
        out = normalize_loss(deep_clustering_loss(v, y, w0), w0, mode)
        assert torch.isfinite(out).all() and out[1] == 0
    with pytest.raises(ValueError):
        normalize_loss(raw, w, "mean")


def _shares(v, y, w, mode):
    per_item = normalize_loss(deep_clustering_loss(v, y, w), w, mode)
    return per_item / per_item.sum()


def test_per_mixture_confidence_cancels_only_under_utterance_normalization():
    """README fact: (sum w)^2 per utterance cancels C_cl and C_JSD; "batch" keeps them."""
    v, labels, w = _inputs(2, seed=7)
    y = one_hot_targets(labels, 2, torch.float64)
    scaled = w.clone()
    scaled[0] *= 0.3  # a low-confidence mixture: C_cl * C_JSD = 0.3
    torch.testing.assert_close(_shares(v, y, scaled, "utterance"), _shares(v, y, w, "utterance"))
    before, after = _shares(v, y, w, "batch"), _shares(v, y, scaled, "batch")
    assert after[0] < 0.5 * before[0]
    # item 0's loss relative to item 1 falls by exactly c^2 under "batch" (and "none")
    for mode in ("batch", "none"):
        b, a = _shares(v, y, w, mode), _shares(v, y, scaled, mode)
        torch.testing.assert_close(a[0] / a[1], 0.09 * b[0] / b[1])


def test_mdc_is_dc_with_simplex_targets_exactly():
    v, labels, w = _inputs(3, seed=8)
    v = v.float()
    w = w.float()
    expected = deep_clustering_loss(v, simplex_targets(labels, 3), w)
    assert torch.equal(mdc_loss(v, labels, w, n_sources=3), expected)
    dc = deep_clustering_loss(v, one_hot_targets(labels, 3), w)
    assert not torch.allclose(dc, expected)
    # two sources: antipodal targets (+-(1, -1)/sqrt(2)), not orthogonal ones
    v2, labels2, _ = _inputs(2, seed=9)
    assert not torch.allclose(
        mdc_loss(v2, labels2, n_sources=2),
        deep_clustering_loss(v2, one_hot_targets(labels2, 2, torch.float64)),
    )


def _mi_inputs(seed: int = 0, batch: int = 2, c: int = 3, frames: int = 4, freqs: int = 5):
    g = torch.Generator().manual_seed(seed)
    masks = torch.softmax(torch.randn(batch, c, frames, freqs, generator=g), dim=1)
    mix = torch.rand(batch, frames, freqs, generator=g) * 3
    sources = torch.rand(batch, c, frames, freqs, generator=g) * 2
    return masks, mix, sources


def _mi_brute_force(masks, mix, sources, weights=None, p=2):
    out = []
    for b in range(masks.shape[0]):
        best = None
        for perm in itertools.permutations(range(masks.shape[1])):
            err = (masks[b] * mix[b] - sources[b, list(perm)]).abs() ** p
            if weights is not None:
                err = err * weights[b]
            value = err.mean()
            best = value if best is None else torch.minimum(best, value)
        out.append(best)
    return torch.stack(out)


@pytest.mark.parametrize("c", [2, 3])
@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_mask_inference_is_min_over_permutations(c, norm):
    masks, mix, sources = _mi_inputs(seed=c, c=c)
    weights = torch.rand(mix.shape, generator=torch.Generator().manual_seed(1))
    p = 2 if norm == "l2" else 1
    for w in (None, weights):
        loss = mask_inference_loss(masks, mix, sources, w, norm=norm)
        assert loss.shape == (2,)
        torch.testing.assert_close(loss, _mi_brute_force(masks, mix, sources, w, p))


def test_mask_inference_invariant_to_source_order():
    masks, mix, sources = _mi_inputs(seed=5, c=3)
    loss = mask_inference_loss(masks, mix, sources)
    for perm in itertools.permutations(range(3)):
        torch.testing.assert_close(mask_inference_loss(masks, mix, sources[:, list(perm)]), loss)
    # ideal ratio masks of the right sources give zero loss in any order
    irm = sources / sources.sum(dim=1, keepdim=True)
    total = sources.sum(dim=1)
    assert mask_inference_loss(irm, total, sources[:, [2, 0, 1]]).abs().max() < 1e-6


def test_chimera_combines_terms():
    torch.manual_seed(0)
    batch, frames, freqs, d, c = 2, 4, 5, 6, 2
    emb = F.normalize(torch.randn(batch, frames * freqs, d), dim=-1)
    masks, mix, sources = _mi_inputs(c=c, frames=frames, freqs=freqs)
    labels = torch.randint(0, c, (batch, frames * freqs))
    y = one_hot_targets(labels, c)
    w = torch.rand(batch, frames * freqs)
    dc = normalize_loss(deep_clustering_loss(emb, y, w), w, "utterance")
    mi = mask_inference_loss(masks, mix, sources)
    got = chimera_loss(emb, masks, y, mix, sources, 0.25, weights=w, dc_norm="utterance")
    torch.testing.assert_close(got, 0.25 * dc + 0.75 * mi)
    torch.testing.assert_close(chimera_loss(emb, masks, y, mix, sources, 0.0), mi)
    dc1 = normalize_loss(deep_clustering_loss(emb, y), torch.ones(batch, frames * freqs), "batch")
    torch.testing.assert_close(chimera_loss(emb, masks, y, mix, sources, 1.0), dc1)
    with pytest.raises(ValueError):
        chimera_loss(emb, masks, y, mix, sources, 1.5)
