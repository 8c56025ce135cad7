"""Issue 14, items 8-10: numerical faults of the spatial stage, its confidence and the metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bootsep_lib import eval as ev
from bootsep_lib.dsp import stft
from bootsep_lib.spatial import SpatialWarning, spatial_clustering
from bootsep_lib.spatial.confidence import confidence

SR = 8000


def _stereo_speech(seconds: float = 2.0) -> np.ndarray:
    """Two harmonic sources, one delayed by +1 and one by -1 sample: (2, samples) float32."""
    rng = np.random.default_rng(3)
    n = int(seconds * SR)
    t = np.arange(n + 2) / SR
    src = [
        sum(np.sin(2 * np.pi * h * f0 * t + 6 * rng.random()) / h for h in range(1, 12))
        * np.clip(np.sin(2 * np.pi * (2 + k) * t), 0, None)
        for k, f0 in enumerate((130.0, 210.0))
    ]
    left = src[0][1:-1] + src[1][1:-1]
    right = src[0][:-2] + src[1][2:]
    return np.stack([left, right]).astype(np.float32)


def test_float32_fade_and_quiet_input_give_finite_scale_invariant_clustering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = _stereo_speech()
    fade = (np.linspace(1.0, 0.0, x.shape[1]) ** 12).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no SpatialWarning on valid input
        faded = spatial_clustering(stft(x * fade, SR))
        plain = spatial_clustering(stft(x, SR))
        exact = spatial_clustering(stft(x * np.float32(2.0**-83), SR))
        quiet = spatial_clustering(stft(x * np.float32(1e-25), SR))
    assert np.isfinite(faded.masks).all() and not faded.degenerate
    # scaled by a power of two: the identical clustering; by 1e-25: the same to rounding
    for name in ("masks", "labels", "features", "fit_bins", "means"):
        np.testing.assert_array_equal(getattr(exact, name), getattr(plain, name))
    assert not quiet.degenerate
    np.testing.assert_allclose(quiet.means, plain.means, atol=1e-5)
    loud = plain.fit_bins
    np.testing.assert_array_equal(quiet.fit_bins, loud)
    assert np.mean(quiet.labels[loud] == plain.labels[loud]) > 0.999
    assert np.mean(quiet.labels == plain.labels) > 0.99  # quiet bins: phase of rounding noise
    c_plain = confidence(plain, 1.0, n_samples=20_000).mean()
    c_quiet = confidence(quiet, 1.0, n_samples=20_000).mean()
    assert abs(c_quiet - c_plain) < 1e-3

    # a non-finite posterior, however it arises, is a degenerate result with a warning
    import bootsep_lib.spatial.clustering as clustering

    def nan_posteriors(gmm: object, phi: np.ndarray) -> np.ndarray:
        return np.full((2, *phi.shape), np.nan)

    monkeypatch.setattr(clustering, "gmm_posteriors", nan_posteriors)
    with pytest.warns(SpatialWarning, match="non-finite posteriors"):
        broken = spatial_clustering(stft(x, SR))
    assert broken.degenerate and np.all(broken.masks == 0.5)


def test_confidence_and_training_set_reject_non_finite_alpha() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialWarning)
        result = spatial_clustering(stft(_stereo_speech(0.5), SR))
    for alpha in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
            confidence(result, alpha, n_samples=1000)
    from bootsep_lib.config import get_profile
    from bootsep_lib.data.training_set import TrainingSet

    with pytest.raises(ValueError, match="alpha must be a finite number >= 0, got nan"):
        TrainingSet(get_profile("smoke"), "tr", targets="spatial", alpha=float("nan"))


def test_metric_edge_cases_agree_across_families() -> None:
    rng = np.random.default_rng(0)
    refs = rng.standard_normal((2, 4000))
    est = refs + 0.1 * rng.standard_normal(refs.shape)
    families = {
        "si": lambda e, r: ev.si_bss_eval(e, r),
        "bss": lambda e, r: ev.bss_eval(e, r, filter_length=32),
        "stoi": lambda e, r: ev.stoi(e, r, SR),
        "mixture": lambda e, r: ev.evaluate_mixture(e, r, r.sum(0), SR, stoi=True, bss=True),
    }
    bad = est.copy()
    bad[1, 7] = np.nan
    silent_ref = refs.copy()
    silent_ref[1] = 0.0
    for metric in families.values():
        with pytest.raises(ValueError, match="estimates contain NaN or infinite"):
            metric(bad, refs)
        with pytest.raises(ValueError, match="0 samples"):
            metric(est[:, :0], refs[:, :0])
        with pytest.raises(ValueError, match="reference 1 is silent"):
            metric(est, silent_ref)
    silent_est = est.copy()
    silent_est[0] = 0.0
    si = ev.si_bss_eval(silent_est, refs, permute=False)
    bss = ev.bss_eval(silent_est, refs, filter_length=32, permute=False)
    for scores in (si["si_sdr"], si["si_sir"], si["si_sar"], bss["sdr"], bss["sir"], bss["sar"]):
        assert scores[0] == -ev.MAX_DB and np.isfinite(scores[1])
    assert ev.si_sdr(silent_est[0], refs[0]) == -ev.MAX_DB
    assert ev.stoi(silent_est, refs, SR, perm=np.arange(2))[0] == 0.0
    with pytest.raises(ValueError, match=r"STOI needs at least 3280 samples \(0.41 s at 8000 Hz\)"):
        ev.stoi(est[:, :100], refs[:, :100], SR)


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -0.5])
def test_bootstrap_weights_reject_a_bad_alpha(alpha):
    from bootsep_lib.targets import bootstrap_weights

    mag = np.ones((4, 3))
    with pytest.raises(ValueError, match="finite number >= 0"):
        bootstrap_weights(mag, 0.5, 0.5, np.ones((4, 3)), alpha)
