"""Tests of bootsep_lib.spatial.confidence (Eq. 4-7 of the bootstrapping paper) vs brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from bootsep_lib.dsp import stft
from bootsep_lib.spatial import Gmm1d, SpatialWarning, spatial_clustering
from bootsep_lib.spatial.confidence import (
    ConfidenceTerms,
    cluster_size_confidence,
    confidence,
    confidence_terms,
    jsd_confidence,
    jsd_from_gmms,
    posterior_confidence,
)

SR = 8000


def stereo_noise_mixture(seed: int = 0, seconds: float = 1.0) -> np.ndarray:
    """Two noise sources, channel 1 delayed by +1 and -1 sample: ``(2, samples)``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    a, b = rng.standard_normal((2, n + 4))
    b *= np.repeat(rng.random(n // 400 + 1) > 0.4, 400)[: n + 4]  # bursts
    return np.stack([a[2 : n + 2] + b[2 : n + 2], a[1 : n + 1] + b[3 : n + 3]])


def exact_jsd(p: Gmm1d, q: Gmm1d) -> float:
    """JSD in bits by the trapezoid rule on a dense grid covering both densities."""
    sd = np.sqrt(np.concatenate([p.variances, q.variances]))
    mu = np.concatenate([p.means, q.means])
    grid = np.linspace((mu - 12 * sd).min(), (mu + 12 * sd).max(), 400_001)

    def density(g: Gmm1d) -> np.ndarray:
        return sum(
            w * norm.pdf(grid, m, np.sqrt(v))
            for w, m, v in zip(g.weights, g.means, g.variances, strict=True)
        )

    dp, dq = density(p), density(q)
    dm = 0.5 * (dp + dq)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(dp > 0, dp * np.log2(dp / dm), 0.0)
        kl_q = np.where(dq > 0, dq * np.log2(dq / dm), 0.0)
    return float(0.5 * np.trapezoid(kl_p, grid) + 0.5 * np.trapezoid(kl_q, grid))


def gmm(weights, means, variances) -> Gmm1d:
    return Gmm1d(*(np.asarray(v, dtype=float) for v in (weights, means, variances)))


# --- Eq. 4 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, n, expected",
    [
        ([0, 0, 0, 1], 2, 0.5),  # (1/2 - 1/4) + (1/2 - 1/4)
        ([0, 1, 1, 0], 2, 1.0),
        ([1, 1, 1, 1], 2, 0.0),
        ([0, 1, 2, 0, 1, 2], 3, 1.0),
        ([0, 0, 0, 1, 1, 1], 3, 1 / 3),  # 2 (1/3 - 1/6) + (1/3 - 1/3)
        ([0, 0, 0, 0, 0, 1], 3, 0.0),  # 1/3 - 1/2 + 1/3 - 1/6 + 0 = 0
        ([2, 2, 2, 2], 3, 0.0),  # Eq. 4 gives -1/3: clipped
    ],
)
def test_cluster_size_hand_counts(labels, n, expected):
    lab = np.asarray(labels).reshape(2, -1)
    assert cluster_size_confidence(lab, n) == pytest.approx(expected)


def test_cluster_size_mask_restricts_the_count():
    labels = np.array([[0, 0, 0, 1], [1, 1, 1, 1]])
    mask = np.array([[True, True, False, True], [False, True, False, False]])
    assert cluster_size_confidence(labels, 2) == pytest.approx(0.75)  # 3/8 vs 5/8
    assert cluster_size_confidence(labels, 2, mask) == pytest.approx(1.0)  # 2 vs 2
    assert cluster_size_confidence(labels, 2, np.zeros_like(mask)) == 0.0


# --- Eq. 5 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        gmm([0.5, 0.5], [-1.0, 1.0], [0.3, 0.3]),
        gmm([0.2, 0.8], [-0.5, 0.4], [0.2, 0.6]),
        gmm([0.3, 0.3, 0.4], [-2.0, 0.0, 1.5], [0.1, 0.5, 0.2]),
    ],
)
def test_jsd_matches_numerical_integration(q):
    mean = q.weights @ q.means
    var = q.weights @ (q.variances + q.means**2) - mean**2
    p = gmm([1.0], [mean], [var])
    exact = exact_jsd(p, q)
    estimates = np.array([jsd_from_gmms(p, q, 40_000, seed) for seed in range(8)])
    assert estimates.std() < 0.01
    tolerance = 4 * max(estimates.std(), 1e-3) / np.sqrt(estimates.size) + 2e-3
    assert abs(estimates.mean() - exact) < tolerance
    nats = jsd_from_gmms(p, q, 40_000, 0, base=np.e)
    assert nats == pytest.approx(estimates[0] * np.log(2.0), rel=1e-5)


def test_jsd_of_identical_mixtures_is_zero():
    p = gmm([1.0], [0.3], [0.7])
    assert jsd_from_gmms(p, p) == pytest.approx(0.0, abs=1e-6)
    assert jsd_from_gmms(p, gmm([0.5, 0.5], [0.3, 0.3], [0.7, 0.7])) == pytest.approx(0, abs=1e-6)


def test_jsd_of_far_apart_components_is_near_one():
    x = np.concatenate([np.full(500, -1.0), np.full(500, 1.0)])
    x += 1e-3 * np.random.default_rng(0).standard_normal(x.size)
    assert jsd_confidence(x, 2, 20_000) > 0.97


def test_jsd_separates_bimodal_from_unimodal_features():
    rng = np.random.default_rng(1)
    bimodal = np.concatenate([rng.normal(-1, 0.2, 2000), rng.normal(1, 0.2, 2000)])
    assert jsd_confidence(bimodal, 2, 20_000) > 0.3
    assert jsd_confidence(rng.normal(0, 1, 4000), 2, 20_000) < 0.05
    mask = np.zeros(bimodal.size, bool)
    mask[:2000] = True  # only one mode
    assert jsd_confidence(bimodal, 2, 20_000, fit_mask=mask) < 0.05


def test_jsd_is_invariant_to_a_sign_flip():
    p, q = gmm([1.0], [0.2], [1.1]), gmm([0.3, 0.7], [-1.0, 0.8], [0.2, 0.3])
    flipped_q = gmm(q.weights[::-1], -q.means[::-1], q.variances[::-1])
    flipped = jsd_from_gmms(gmm([1.0], [-0.2], [1.1]), flipped_q, 10_000, 3)
    assert jsd_from_gmms(p, q, 10_000, 3) == pytest.approx(flipped, abs=1e-6)


def test_jsd_argument_checks():
    p, q = gmm([1.0], [0.0], [1.0]), gmm([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        jsd_from_gmms(q, q)
    with pytest.raises(ValueError):
        jsd_from_gmms(p, q, n_samples=2)


# --- Eq. 6 and 7 --------------------------------------------------------------------------------


def test_posterior_confidence_hand_values():
    two = np.array([[0.5, 1.0, 0.75, 0.1], [0.5, 0.0, 0.25, 0.9]])[:, None, :]
    np.testing.assert_allclose(posterior_confidence(two)[0], [0.0, 1.0, 0.5, 0.8])
    np.testing.assert_allclose(posterior_confidence(two)[0], 2 * np.abs(two.max(0)[0] - 0.5))
    three = np.array([[1 / 3, 0.6, 1.0], [1 / 3, 0.2, 0.0], [1 / 3, 0.2, 0.0]])[:, None, :]
    np.testing.assert_allclose(posterior_confidence(three)[0], [0.0, 0.4, 1.0], atol=1e-12)
    with pytest.raises(ValueError):
        posterior_confidence(np.ones((1, 2, 2)))


def test_combined_is_the_power_of_the_product():
    post = np.array([[0.0, 0.5], [0.9, 1.0]])
    terms = ConfidenceTerms(0.8, 0.5, post)
    for alpha in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(terms.combined(alpha), (0.8 * 0.5 * post) ** alpha)
    np.testing.assert_array_equal(terms.combined(0.0), 1.0)  # 0 ** 0 = 1
    assert terms.mean(1.0) == pytest.approx(0.4 * post.mean())
    mask = np.array([[False, True], [False, True]])
    assert terms.mean(2.0, mask) == pytest.approx(np.mean((0.4 * post[mask]) ** 2))
    assert terms.mean(1.0, np.zeros_like(mask)) == 0.0
    with pytest.raises(ValueError):
        terms.combined(-1.0)


def test_confidence_of_a_real_clustering():
    result = spatial_clustering(stft(stereo_noise_mixture(), SR))
    terms = confidence_terms(result, n_samples=20_000)
    assert not terms.degenerate
    assert terms.cl == pytest.approx(cluster_size_confidence(result.labels, 2))
    np.testing.assert_allclose(terms.post, posterior_confidence(result.posteriors))
    refit = jsd_confidence(result.features, 2, 20_000, fit_mask=result.fit_bins)
    assert terms.jsd == pytest.approx(refit, abs=0.02)
    assert 0.1 < terms.jsd <= 1.0  # two distinct delays
    np.testing.assert_allclose(
        confidence(result, 0.5, n_samples=20_000), terms.combined(0.5), atol=1e-12
    )


# --- degenerate input and properties ------------------------------------------------------------


def test_silence_gives_zero_confidence_with_a_warning():
    with pytest.warns(SpatialWarning):
        result = spatial_clustering(np.zeros((2, 12, 9), complex))
    with pytest.warns(SpatialWarning, match="confidence set to 0"):
        terms = confidence_terms(result)
    assert terms.degenerate and terms.cl == 0.0 and terms.jsd == 0.0
    with pytest.warns(SpatialWarning):
        np.testing.assert_array_equal(confidence(result, 1.0), 0.0)
    np.testing.assert_array_equal(terms.combined(0.0), 1.0)
    assert np.all(np.isfinite(result.masks))


def test_constant_features_give_zero_jsd_with_a_warning():
    with pytest.warns(SpatialWarning):
        assert jsd_confidence(np.full(100, 0.3)) == 0.0
    with pytest.warns(SpatialWarning):
        assert jsd_confidence(np.array([1.0])) == 0.0


def random_stft(seed: int, frames: int, freqs: int, zero_frac: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, frames, freqs)) + 1j * rng.standard_normal((2, frames, freqs))
    x[:, rng.random((frames, freqs)) < zero_frac] = 0.0
    return x


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 25),
    freqs=st.integers(1, 17),
    zero_frac=st.sampled_from([0.0, 0.5, 1.0]),
    tau=st.floats(-40.0, 0.0),
    alpha=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
)
def test_confidences_bounded_finite_and_channel_swap_invariant(
    seed, frames, freqs, zero_frac, tau, alpha
):
    spec = random_stft(seed, frames, freqs, zero_frac)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialWarning)
        terms = confidence_terms(spatial_clustering(spec, 2, tau), n_samples=2_000)
        swapped = confidence_terms(spatial_clustering(spec[::-1], 2, tau), n_samples=2_000)
    combined = terms.combined(alpha)
    assert np.all(np.isfinite(combined)) and combined.min() >= 0 and combined.max() <= 1
    assert 0 <= terms.cl <= 1 and 0 <= terms.jsd <= 1 and 0 <= terms.mean(alpha) <= 1
    assert swapped.cl == pytest.approx(terms.cl, abs=1e-9)
    assert swapped.jsd == pytest.approx(terms.jsd, abs=1e-5)
    np.testing.assert_allclose(swapped.post, terms.post, atol=1e-6)
