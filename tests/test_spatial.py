"""Tests of bootsep_lib.spatial (Eq. 1-3 of the bootstrapping paper) against brute force."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_spatial import spatial_clustering_sklearn
from scipy.stats import norm
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import magnitude_db, stft
from bootsep_lib.spatial import (
    Gmm1d,
    SpatialResult,
    SpatialWarning,
    apply_masks,
    argmax0,
    fit_gmm_1d,
    fit_mask,
    gmm_posteriors,
    ipd,
    ipd_features,
    pca_project,
    separate_stereo,
    spatial_clustering,
)

SR = 8000
N_FFT = 256


def harmonic(n: int, f0: float, seed: int) -> np.ndarray:
    """A speech-like harmonic complex: vibrato on f0 and a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f = f0 * (1 + 0.08 * np.sin(2 * np.pi * (0.5 + rng.random()) * t + 6 * rng.random()))
    phase = 2 * np.pi * np.cumsum(f) / SR
    n_harm = int(3800 / f0 / 1.1)
    s = sum(np.sin(h * phase + 6 * rng.random()) / h for h in range(1, n_harm))
    return s * np.clip(np.sin(2 * np.pi * (2 + rng.random()) * t + 6 * rng.random()), 0, None)


def two_source_mixture(seconds: float = 2.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Stereo mixture ``(2, samples)`` and source images: A delayed by +1, B by -1 sample."""
    n, pad = int(seconds * SR), 8
    a, b = harmonic(n + 2 * pad, 130.0, 1), 0.8 * harmonic(n + 2 * pad, 220.0, 2)
    images = [np.stack([s[pad : pad + n], s[pad - d : pad - d + n]]) for s, d in ((a, 1), (b, -1))]
    return images[0] + images[1], images


def random_stft(seed: int, frames: int, freqs: int, zero_frac: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, frames, freqs)) + 1j * rng.standard_normal((2, frames, freqs))
    x[:, rng.random((frames, freqs)) < zero_frac] = 0.0
    x[1, rng.random((frames, freqs)) < zero_frac / 2] = 0.0
    return x


def best_agreement(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """Fraction of equal labels after the best permutation of ``b``'s label names."""
    return max(np.mean(a == np.asarray(p)[b]) for p in itertools.permutations(range(n)))


# --- Eq. 1 and 2 ------------------------------------------------------------------------------


def test_ipd_of_known_delay_is_omega_times_delay():
    """Tones on every 8th bin (no leakage onto those bins), channel 1 delayed by 3 samples."""
    n, delay = SR, 3
    bins = np.arange(8, 128, 8)
    rng = np.random.default_rng(0)
    phases = rng.uniform(0, 2 * np.pi, bins.size)
    t = np.arange(n)
    omega = 2 * np.pi * bins / N_FFT

    def tones(shift: int) -> np.ndarray:
        return np.cos(omega[:, None] * (t[None, :] - shift) + phases[:, None]).sum(0)

    spec = stft(np.stack([tones(0), tones(delay)]), SR)
    theta = ipd(spec)[4:-4][:, bins]  # interior frames: no zero padding in the window
    expected = np.angle(np.exp(1j * omega * delay))
    np.testing.assert_allclose(np.angle(np.exp(1j * (theta - expected))), 0.0, atol=1e-6)
    normalized = ipd(spec, freq_normalize=True)[4:-4][:, bins]
    np.testing.assert_allclose(normalized, theta / (omega + 1.0), atol=1e-12)


@pytest.mark.parametrize("reference", ["max", "absolute"])
@pytest.mark.parametrize("tau", [-10.0, -30.0, 5.0])
def test_fit_mask_matches_log_magnitude(reference, tau):
    spec = 3.0 * random_stft(1, 40, 17, 0.2)
    db = magnitude_db(spec)
    if reference == "max":
        db = db - db.max()
    np.testing.assert_array_equal(fit_mask(spec, tau, reference), db.max(axis=0) > tau)


def test_fit_mask_silence_and_bad_reference():
    assert not fit_mask(np.zeros((2, 5, 9), complex)).any()
    with pytest.raises(ValueError):
        fit_mask(random_stft(0, 4, 5, 0.0), reference="peak")


def test_pca_projection_matches_sklearn():
    spec = random_stft(2, 50, 33, 0.0)
    feats = ipd_features(ipd(spec))
    fit = fit_mask(spec, -6.0)
    ours = pca_project(feats, fit)
    assert feats.shape == (2, *spec.shape[1:])
    np.testing.assert_allclose(feats[0] ** 2 + feats[1] ** 2, 1.0, atol=1e-12)
    ref = PCA(n_components=1).fit(feats[:, fit].T).transform(feats.reshape(2, -1).T)[:, 0]
    sign = np.sign(np.dot(ours.ravel(), ref))
    np.testing.assert_allclose(ours.ravel(), sign * ref, atol=1e-10)


@pytest.mark.parametrize("freq_normalize", [False, True])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_fast_features_match_the_reference_functions(freq_normalize, dtype):
    """The fast path's features (no arctan2 without normalisation) against ipd/ipd_features."""
    spec = random_stft(4, 30, 17, 0.3).astype(dtype)
    result = spatial_clustering(spec, threshold_db=-20.0, freq_normalize=freq_normalize)
    feats = ipd_features(ipd(spec, freq_normalize))
    expected = pca_project(feats, fit_mask(spec, -20.0))
    atol = 1e-5 if dtype == np.complex64 else 1e-12
    assert result.features.dtype == spec.real.dtype
    np.testing.assert_allclose(result.features, expected, atol=atol)


@pytest.mark.parametrize("rows", [1, 2, 3, 4])
def test_argmax0_matches_numpy_with_ties(rows):
    a = np.random.default_rng(rows).integers(0, 3, size=(rows, 7, 11)).astype(np.float32)
    np.testing.assert_array_equal(argmax0(a), np.argmax(a, axis=0))


# --- EM and Eq. 3 -------------------------------------------------------------------------------


def sample_mixture(weights, means, sds, n, seed):
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(weights), size=n, p=weights)
    return np.asarray(means)[comp] + np.asarray(sds)[comp] * rng.standard_normal(n)


@pytest.mark.parametrize(
    "weights, means, sds",
    [
        ([0.3, 0.7], [-1.0, 1.5], [0.3, 0.5]),
        ([0.5, 0.2, 0.3], [-4.0, 0.0, 3.0], [0.5, 0.4, 0.8]),
    ],
)
def test_em_recovers_truth_and_agrees_with_sklearn(weights, means, sds):
    x = sample_mixture(weights, means, sds, 6000, seed=3)
    fit = fit_gmm_1d(x, len(weights), seed=0)
    np.testing.assert_allclose(fit.gmm.weights, weights, atol=0.03)
    np.testing.assert_allclose(fit.gmm.means, means, atol=0.05)
    np.testing.assert_allclose(np.sqrt(fit.gmm.variances), sds, rtol=0.06)
    assert np.all(np.diff(fit.gmm.means) > 0)
    gm = GaussianMixture(len(weights), covariance_type="full", random_state=0).fit(x[:, None])
    ours = np.argmax(gmm_posteriors(fit.gmm, x), axis=0)
    assert best_agreement(ours, gm.predict(x[:, None]), len(weights)) >= 0.99
    np.testing.assert_allclose(fit.log_likelihood, gm.score(x[:, None]), atol=1e-3)


def test_posteriors_are_bayes_rule_of_fitted_gaussians():
    mix, _ = two_source_mixture(1.0)
    result = spatial_clustering(stft(mix, SR))
    sd = np.sqrt(result.variances)[:, None, None]
    joint = result.weights[:, None, None] * norm.pdf(
        result.features[None], result.means[:, None, None], sd
    )
    np.testing.assert_allclose(result.posteriors, joint / joint.sum(0), atol=1e-6)
    np.testing.assert_array_equal(result.labels, np.argmax(joint, axis=0))


def test_two_component_posteriors_far_from_both_means():
    """The closed form for N = 2 stays finite where a density ratio overflows float32."""
    gmm = Gmm1d(np.array([0.4, 0.6]), np.array([-0.1, 0.1]), np.array([1e-4, 4e-4]))
    x = np.array([-50.0, -1.0, -0.1, 0.0, 0.1, 1.0, 50.0], dtype=np.float32)
    post = gmm_posteriors(gmm, x)
    assert post.dtype == np.float32 and np.all(np.isfinite(post))
    np.testing.assert_allclose(post.sum(0), 1.0, atol=1e-6)
    joint = gmm.component_log_pdf(x.astype(float))
    expected = np.exp(joint - np.logaddexp(joint[0], joint[1]))
    np.testing.assert_allclose(post, expected, atol=1e-6)


def test_result_fields_and_determinism():
    mix, _ = two_source_mixture(1.0)
    spec = stft(mix, SR)
    r1, r2 = spatial_clustering(spec, seed=5), spatial_clustering(spec, seed=5)
    assert isinstance(r1, SpatialResult) and not r1.degenerate
    assert r1.masks is r1.posteriors and r1.masks.shape == (2, *spec.shape[1:])
    assert r1.labels.shape == r1.features.shape == r1.fit_bins.shape == spec.shape[1:]
    assert r1.n_iter >= 1 and np.isfinite(r1.log_likelihood)
    assert np.all(np.diff(r1.means) > 0) and np.isclose(r1.weights.sum(), 1.0)
    np.testing.assert_array_equal(r1.labels, r2.labels)
    np.testing.assert_array_equal(r1.means, r2.means)


def test_fast_path_agrees_with_sklearn_path():
    spec = stft(two_source_mixture(2.0)[0], SR)
    fast, ref = spatial_clustering(spec), spatial_clustering_sklearn(spec)
    assert best_agreement(fast.labels, ref.labels, 2) >= 0.99
    np.testing.assert_allclose(np.sort(np.abs(fast.means)), np.sort(np.abs(ref.means)), atol=1e-4)


def test_masks_separate_two_delayed_sources():
    mix, images = two_source_mixture(2.0)
    estimates, result = separate_stereo(mix, SR)
    spec0 = stft(mix[0], SR)
    truth = (np.abs(stft(images[1][0], SR)) > np.abs(stft(images[0][0], SR))).astype(int)
    energy = np.abs(spec0) ** 2
    accuracy = (
        max(np.sum(energy * (result.labels == truth)), np.sum(energy * (result.labels != truth)))
        / energy.sum()
    )
    assert accuracy > 0.9

    def si_sdr(est, ref):
        ref_part = ref * (est @ ref) / (ref @ ref)
        return 10 * np.log10(np.sum(ref_part**2) / np.sum((est - ref_part) ** 2))

    refs = [images[0][0], images[1][0]]
    best = max(
        np.mean([si_sdr(estimates[i], refs[j]) for i, j in enumerate(p)])
        for p in itertools.permutations(range(2))
    )
    mixture_score = np.mean([si_sdr(mix[0], r) for r in refs])
    assert best > mixture_score + 6.0
    np.testing.assert_allclose(estimates.sum(0), mix[0], atol=1e-4)  # masks sum to 1


def test_separate_stereo_honours_the_whole_config():
    mix, _ = two_source_mixture(1.0)
    cfg = SpatialConfig(reference="absolute", freq_normalize=True, threshold_db=-40.0)
    spec = stft(mix, SR, cfg.window_ms, cfg.hop_ms)
    expected = spatial_clustering(spec, 2, -40.0, reference="absolute", freq_normalize=True)
    _, result = separate_stereo(mix, SR, cfg=cfg)
    np.testing.assert_array_equal(result.masks, expected.masks)
    _, overridden = separate_stereo(mix, SR, cfg=cfg, reference="max", freq_normalize=False)
    np.testing.assert_array_equal(
        overridden.masks, spatial_clustering(spec, 2, -40.0, reference="max").masks
    )


def test_apply_masks_shapes():
    masks = np.full((3, 4, 5), 1 / 3)
    spec = np.ones((4, 5), complex)
    assert apply_masks(masks, spec).shape == (3, 4, 5)
    with pytest.raises(ValueError):
        apply_masks(masks, np.ones((5, 4), complex))


# --- degenerate input ---------------------------------------------------------------------------


def assert_uniform_degenerate(result: SpatialResult, n: int) -> None:
    assert result.degenerate and result.n_iter == 0
    np.testing.assert_allclose(result.masks, 1.0 / n)
    assert np.all(np.isfinite(result.features)) and not np.isnan(result.log_likelihood)


@pytest.mark.parametrize("n_sources", [2, 3])
def test_silence_is_degenerate(n_sources):
    with pytest.warns(SpatialWarning):
        result = spatial_clustering(np.zeros((2, 20, 9), complex), n_sources)
    assert_uniform_degenerate(result, n_sources)


def test_identical_channels_are_degenerate():
    x = np.random.default_rng(0).standard_normal(4000)
    with pytest.warns(SpatialWarning, match="single-valued"):
        result = spatial_clustering(stft(np.stack([x, x]), SR))
    assert_uniform_degenerate(result, 2)


def test_too_few_fitted_bins_is_degenerate():
    spec = np.full((2, 10, 9), 1e-6 + 0j)
    spec[:, 3, 4] = [1.0, 1j]
    with pytest.warns(SpatialWarning, match="1 bin"):
        result = spatial_clustering(spec, threshold_db=-10.0)
    assert_uniform_degenerate(result, 2)
    with pytest.warns(SpatialWarning):
        assert spatial_clustering_sklearn(spec).degenerate


def test_bad_arguments():
    with pytest.raises(ValueError):
        spatial_clustering(np.ones((3, 4, 5), complex))
    with pytest.raises(ValueError):
        spatial_clustering(np.ones((2, 4, 5), complex), n_sources=1)
    with pytest.raises(TypeError):
        spatial_clustering(np.ones((2, 4, 5)))


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    frames=st.integers(1, 30),
    freqs=st.integers(1, 20),
    zero_frac=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
    tau=st.floats(-60.0, 0.0),
    n_sources=st.integers(2, 3),
)
def test_masks_are_finite_and_sum_to_one(seed, frames, freqs, zero_frac, tau, n_sources):
    spec = random_stft(seed, frames, freqs, zero_frac)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialWarning)
        result = spatial_clustering(spec, n_sources, tau, seed)
    assert np.all(np.isfinite(result.masks)) and np.all(np.isfinite(result.features))
    np.testing.assert_allclose(result.masks.sum(0), 1.0, atol=1e-6)
    assert result.labels.min() >= 0 and result.labels.max() < n_sources
    assert np.all(result.variances > 0) and np.isclose(result.weights.sum(), 1.0)


def test_gmm1d_log_pdf_matches_scipy():
    gmm = Gmm1d(np.array([0.2, 0.8]), np.array([-1.0, 2.0]), np.array([0.5, 2.0]))
    x = np.linspace(-5, 5, 101)
    expected = np.log(0.2 * norm.pdf(x, -1, np.sqrt(0.5)) + 0.8 * norm.pdf(x, 2, np.sqrt(2)))
    np.testing.assert_allclose(gmm.log_pdf(x), expected, atol=1e-12)
