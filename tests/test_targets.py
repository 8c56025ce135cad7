"""Tests of bootsep_lib.targets: labels, one-hot and simplex targets, weights w(alpha)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bootsep_lib.targets import (
    bootstrap_weights,
    ground_truth_labels,
    magnitude_weights,
    one_hot_targets,
    phase_sensitive_targets,
    simplex_targets,
    simplex_vertices,
)


def _complex(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def test_ground_truth_labels_numpy_and_torch_agree_with_argmax():
    rng = np.random.default_rng(0)
    sources = _complex(rng, 3, 7, 5)
    labels = ground_truth_labels(sources)
    assert labels.shape == (7, 5) and labels.dtype == np.int64
    mags = np.abs(sources)
    for t in range(7):
        for f in range(5):
            assert mags[labels[t, f], t, f] == mags[:, t, f].max()
    torch_labels = ground_truth_labels(torch.from_numpy(sources))
    assert torch_labels.dtype == torch.int64
    np.testing.assert_array_equal(torch_labels.numpy(), labels)
    # a leading batch axis is allowed
    batched = ground_truth_labels(np.stack([sources, sources[::-1]]))
    np.testing.assert_array_equal(batched[0], labels)
    np.testing.assert_array_equal(batched[1], 2 - labels)


def test_one_hot_targets():
    labels = np.array([[0, 2], [1, 1]])
    y = one_hot_targets(labels, 3)
    assert y.shape == (2, 2, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y.sum(-1), 1.0)
    np.testing.assert_array_equal(y.argmax(-1), labels)
    yt = one_hot_targets(torch.from_numpy(labels), 3)
    np.testing.assert_array_equal(yt.numpy(), y)
    # a source absent from the labels still gets its column
    assert one_hot_targets(np.zeros(4, dtype=np.int64), 2).shape == (4, 2)
    with pytest.raises(ValueError):
        one_hot_targets(labels, 2)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_simplex_vertices_geometry(n):
    x = simplex_vertices(n)
    assert x.shape == (n, n)
    gram = x @ x.T
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    off = gram[~np.eye(n, dtype=bool)]
    np.testing.assert_allclose(off, -1.0 / (n - 1), atol=1e-12)
    np.testing.assert_allclose(x.sum(axis=0), 0.0, atol=1e-12)
    # Eq. 3 of the M-DC paper, coordinate by coordinate
    scale = np.sqrt(n / (n - 1))
    np.testing.assert_allclose(np.diag(x), (n - 1) / n * scale)
    np.testing.assert_allclose(x[~np.eye(n, dtype=bool)], -1 / n * scale)


def test_simplex_two_sources_are_antipodal():
    x = simplex_vertices(2)
    np.testing.assert_allclose(x[0], -x[1])
    with pytest.raises(ValueError):
        simplex_vertices(1)


def test_simplex_gram_approaches_one_hot_gram():
    """Eq. 6-8 of the M-DC paper: as N grows the simplex targets tend to one-hot (orthogonal)."""
    distances = []
    for n in [2, 3, 5, 10, 50, 200]:
        x = simplex_vertices(n)
        distances.append(np.abs(x @ x.T - np.eye(n)).max())
        np.testing.assert_allclose(distances[-1], 1.0 / (n - 1), rtol=1e-9)
        np.testing.assert_allclose(x, np.eye(n), atol=2.0 / n)
    assert all(a > b for a, b in zip(distances, distances[1:], strict=False))


def test_simplex_targets_rows_are_vertices():
    labels = torch.tensor([[0, 1, 2], [2, 2, 0]])
    y = simplex_targets(labels, 3)
    assert y.shape == (2, 3, 3) and y.dtype == torch.float32
    vertices = torch.as_tensor(simplex_vertices(3), dtype=torch.float32)
    for b in range(2):
        for i in range(3):
            assert torch.equal(y[b, i], vertices[labels[b, i]])
    y64 = simplex_targets(labels.numpy(), 3, dtype=np.float64)
    np.testing.assert_allclose(y64, y.numpy(), atol=1e-7)
    with pytest.raises(ValueError):
        simplex_targets(labels, 2)


def test_magnitude_weights_sum_to_one_per_utterance():
    rng = np.random.default_rng(1)
    mix = _complex(rng, 2, 6, 4)
    w = magnitude_weights(mix)
    assert w.shape == (2, 6, 4) and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=(-2, -1)), 1.0)
    np.testing.assert_allclose(w[0], np.abs(mix[0]) / np.abs(mix[0]).sum())
    wt = magnitude_weights(torch.from_numpy(mix))
    np.testing.assert_allclose(wt.numpy(), w)
    w_max = magnitude_weights(mix, norm="max")
    np.testing.assert_allclose(w_max.max(axis=(-2, -1)), 1.0)
    np.testing.assert_array_equal(magnitude_weights(np.zeros((3, 3))), 0.0)


def _confidence_inputs(seed: int = 2):
    rng = np.random.default_rng(seed)
    mix = _complex(rng, 8, 5)
    c_post = rng.uniform(0.05, 0.95, size=(8, 5))
    return mix, 0.8, 0.6, c_post


def test_bootstrap_weights_alpha_zero_is_magnitude_weights_exactly():
    mix, c_cl, c_jsd, c_post = _confidence_inputs()
    c_post[0, 0] = 0.0  # 0 ** 0 == 1
    np.testing.assert_array_equal(
        bootstrap_weights(mix, c_cl, c_jsd, c_post, 0.0), magnitude_weights(mix)
    )
    t = bootstrap_weights(torch.from_numpy(mix), c_cl, c_jsd, torch.from_numpy(c_post), 0.0)
    assert torch.equal(t, magnitude_weights(torch.from_numpy(mix)))


def test_bootstrap_weights_formula_and_monotone_in_alpha():
    mix, c_cl, c_jsd, c_post = _confidence_inputs()
    w1 = bootstrap_weights(mix, c_cl, c_jsd, c_post, 1.0)
    np.testing.assert_allclose(w1, c_cl * c_jsd * c_post * np.abs(mix) / np.abs(mix).sum())
    np.testing.assert_allclose(w1.sum(), (c_cl * c_jsd * c_post * magnitude_weights(mix)).sum())
    assert w1.sum() < 1.0
    previous = magnitude_weights(mix)
    for alpha in [0.5, 1.0, 2.0, 4.0]:
        w = bootstrap_weights(mix, c_cl, c_jsd, c_post, alpha)
        assert (w < previous).all()
        previous = w
    with pytest.raises(ValueError):
        bootstrap_weights(mix, c_cl, c_jsd, c_post, -1.0)


def test_bootstrap_weights_per_mixture_confidences_broadcast():
    rng = np.random.default_rng(3)
    mix = _complex(rng, 3, 4, 5)
    c_post = rng.uniform(size=(3, 4, 5))
    c_cl = np.array([1.0, 0.5, 0.25])
    w = bootstrap_weights(mix, c_cl, 1.0, c_post, 1.0)
    for b in range(3):
        expected = bootstrap_weights(mix[b], c_cl[b], 1.0, c_post[b], 1.0)
        np.testing.assert_allclose(w[b], expected)
    wt = bootstrap_weights(
        torch.from_numpy(mix), torch.from_numpy(c_cl), 1.0, torch.from_numpy(c_post), 1.0
    )
    np.testing.assert_allclose(wt.numpy(), w)


def test_phase_sensitive_targets():
    rng = np.random.default_rng(4)
    sources = _complex(rng, 2, 6, 5)
    mix = sources.sum(axis=0)
    t = phase_sensitive_targets(mix, sources)
    assert t.shape == (2, 6, 5)
    assert (t >= 0).all() and (t <= np.abs(mix) + 1e-12).all()
    untruncated = np.abs(sources) * np.cos(np.angle(sources) - np.angle(mix))
    np.testing.assert_allclose(t, np.clip(untruncated, 0, np.abs(mix)), atol=1e-12)
    tt = phase_sensitive_targets(torch.from_numpy(mix), torch.from_numpy(sources))
    np.testing.assert_allclose(tt.numpy(), t, atol=1e-12)
