"""Tests of bootsep_lib.eval against independent brute-force computations and hand cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootsep_lib import eval as ev

# ---------------------------------------------------------------------------------------------
# Independent reference implementation: one signal at a time, projection by np.linalg.lstsq.
# ---------------------------------------------------------------------------------------------


def _brute_si_measures(est: np.ndarray, refs: np.ndarray, j: int) -> tuple[float, float, float]:
    """SI-SDR/SIR/SAR (dB) of one estimate (T,) against reference j of refs (N, T)."""
    est = est - est.mean()
    refs = refs - refs.mean(axis=1, keepdims=True)
    s = refs[j]
    e_target = (est @ s) / (s @ s) * s
    coef, *_ = np.linalg.lstsq(refs.T, est, rcond=None)
    proj = refs.T @ coef
    e_interf = proj - e_target
    e_artif = est - proj
    e_res = est - e_target
    t = np.sum(e_target**2)
    return (
        10 * np.log10(t / np.sum(e_res**2)),
        10 * np.log10(t / np.sum(e_interf**2)),
        10 * np.log10(t / np.sum(e_artif**2)),
    )


def _brute_si_bss_eval(est: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Scores (3, N) ordered by reference and the permutation maximizing mean SI-SDR."""
    n = refs.shape[0]
    table = {(i, j): _brute_si_measures(est[i], refs, j) for i in range(n) for j in range(n)}
    best = max(
        itertools.permutations(range(n)),
        key=lambda p: np.mean([table[(p[j], j)][0] for j in range(n)]),
    )
    scores = np.array([table[(best[j], j)] for j in range(n)]).T
    return scores, best


def _noisy_mixture(
    rng: np.random.Generator, n_src: int, n_samples: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """References (N, T) and estimates with leakage, scaling, offset and artifacts."""
    refs = rng.standard_normal((n_src, n_samples))
    mixing = np.eye(n_src) + 0.3 * rng.standard_normal((n_src, n_src))
    est = mixing @ refs + noise * rng.standard_normal((n_src, n_samples)) + 0.1
    return est, refs


# ---------------------------------------------------------------------------------------------
# SI-SDR / SI-SIR / SI-SAR
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_src", [2, 3, 5])
def test_si_bss_eval_matches_brute_force(n_src: int) -> None:
    rng = np.random.default_rng(n_src)
    est, refs = _noisy_mixture(rng, n_src, 2000, noise=0.4)
    est = est[rng.permutation(n_src)]
    out = ev.si_bss_eval(est, refs)
    scores, perm = _brute_si_bss_eval(est, refs)
    np.testing.assert_array_equal(out["perm"], perm)
    for k, key in enumerate(("si_sdr", "si_sir", "si_sar")):
        np.testing.assert_allclose(out[key], scores[k], rtol=1e-8, atol=1e-8)


def test_si_bss_eval_batched_matches_loop() -> None:
    rng = np.random.default_rng(1)
    est = rng.standard_normal((2, 3, 2, 500))
    refs = est + rng.standard_normal(est.shape)
    out = ev.si_bss_eval(est.astype(np.float32), refs.astype(np.float32))
    assert out["si_sdr"].shape == (2, 3, 2) and out["perm"].shape == (2, 3, 2)
    for idx in np.ndindex(2, 3):
        single = ev.si_bss_eval(est[idx], refs[idx])
        for key in ("si_sdr", "si_sir", "si_sar"):
            np.testing.assert_allclose(out[key][idx], single[key], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out["perm"][idx], single["perm"])


def test_si_sdr_helper_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    est, refs = _noisy_mixture(rng, 3, 1000, noise=0.5)
    expected = [_brute_si_measures(est[j], refs, j)[0] for j in range(3)]
    np.testing.assert_allclose(ev.si_sdr(est, refs), expected, rtol=1e-10)


def test_perfect_estimate_is_huge() -> None:
    rng = np.random.default_rng(3)
    refs = rng.standard_normal((2, 4000))
    out = ev.si_bss_eval(3.0 * refs + 1.0, refs)
    assert np.all(out["si_sdr"] >= 100.0)
    assert np.all(out["si_sdr"] <= ev.MAX_DB)
    assert np.all(ev.si_sdr(refs, refs) >= 100.0)


def test_mixture_of_orthogonal_references_hand_case() -> None:
    # Two exactly orthogonal zero-mean signals: sinusoids with whole periods in the window.
    t = np.arange(1000)
    s1 = 2.0 * np.sin(2 * np.pi * 5 * t / 1000)
    s2 = 0.5 * np.cos(2 * np.pi * 13 * t / 1000)
    a, b = 1.5, -0.2
    refs = np.stack([s1, s2])
    est = np.stack([a * s1 + b * s2, s2])
    out = ev.si_bss_eval(est, refs, permute=False)
    expected_sir = 20 * np.log10(abs(a) * np.linalg.norm(s1) / (abs(b) * np.linalg.norm(s2)))
    np.testing.assert_allclose(out["si_sir"][0], expected_sir, rtol=1e-9)
    # No artifacts: the estimate lies in the span of the references, so SI-SDR = SI-SIR.
    assert out["si_sar"][0] >= 100.0
    np.testing.assert_allclose(out["si_sdr"][0], expected_sir, rtol=1e-9)


def test_swapped_estimates_give_same_scores_and_perm() -> None:
    rng = np.random.default_rng(4)
    est, refs = _noisy_mixture(rng, 2, 3000, noise=0.3)
    straight = ev.si_bss_eval(est, refs)
    swapped = ev.si_bss_eval(est[::-1], refs)
    np.testing.assert_array_equal(straight["perm"], [0, 1])
    np.testing.assert_array_equal(swapped["perm"], [1, 0])
    for key in ("si_sdr", "si_sir", "si_sar"):
        np.testing.assert_allclose(swapped[key], straight[key], rtol=1e-12)
    fixed = ev.si_bss_eval(est[::-1], refs, permute=False)
    np.testing.assert_array_equal(fixed["perm"], [0, 1])
    assert np.all(fixed["si_sdr"] < straight["si_sdr"])


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        ev.si_bss_eval(np.zeros((2, 10)), np.zeros((3, 10)))


_seeds = st.integers(0, 2**32 - 1)
_n_src = st.integers(2, 4)


@settings(max_examples=25, deadline=None)
@given(seed=_seeds, n_src=_n_src, scale=st.floats(1e-3, 1e3))
def test_scale_invariance(seed: int, n_src: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    est, refs = _noisy_mixture(rng, n_src, 400, noise=0.5)
    base = ev.si_bss_eval(est, refs)
    scaled = ev.si_bss_eval(scale * est, refs / scale)
    for key in ("si_sdr", "si_sir", "si_sar"):
        np.testing.assert_allclose(scaled[key], base[key], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        ev.si_sdr(scale * est, refs), ev.si_sdr(est, refs), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=25, deadline=None)
@given(seed=_seeds, n_src=_n_src)
def test_invariance_to_source_order(seed: int, n_src: int) -> None:
    rng = np.random.default_rng(seed)
    est, refs = _noisy_mixture(rng, n_src, 400, noise=0.5)
    base = ev.si_bss_eval(est, refs)
    order = rng.permutation(n_src)
    # Reordering the estimates alone changes nothing but perm.
    shuffled = ev.si_bss_eval(est[order], refs)
    np.testing.assert_array_equal(order[shuffled["perm"]], base["perm"])
    # Reordering both reorders the per-reference scores.
    both = ev.si_bss_eval(est[order], refs[order])
    for key in ("si_sdr", "si_sir", "si_sar"):
        np.testing.assert_allclose(shuffled[key], base[key], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(both[key], base[key][order], rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=_seeds, n_src=_n_src, noise=st.floats(0.01, 3.0))
def test_sdr_sir_sar_identity_and_bounds(seed: int, n_src: int, noise: float) -> None:
    rng = np.random.default_rng(seed)
    est, refs = _noisy_mixture(rng, n_src, 400, noise=noise)
    out = ev.si_bss_eval(est, refs)
    lin = {key: 10.0 ** (-out[key] / 10.0) for key in ("si_sdr", "si_sir", "si_sar")}
    np.testing.assert_allclose(lin["si_sdr"], lin["si_sir"] + lin["si_sar"], rtol=1e-9)
    assert np.all(out["si_sdr"] <= np.minimum(out["si_sir"], out["si_sar"]) + 1e-9)
    # The chosen permutation is at least as good as the identity.
    fixed = ev.si_bss_eval(est, refs, permute=False)
    assert out["si_sdr"].mean() >= fixed["si_sdr"].mean() - 1e-12


# ---------------------------------------------------------------------------------------------
# BSS-eval v4 (fast_bss_eval) and STOI
# ---------------------------------------------------------------------------------------------


def test_bss_eval_close_to_si_for_gain_plus_white_noise() -> None:
    rng = np.random.default_rng(5)
    refs = rng.standard_normal((2, 8000))
    est = 0.7 * refs + 0.2 * rng.standard_normal(refs.shape)
    bss = ev.bss_eval(est[::-1], refs)
    si = ev.si_bss_eval(est[::-1], refs)
    np.testing.assert_array_equal(bss["perm"], [1, 0])
    # The 512-tap filter absorbs ~2 * 512 / 8000 of the noise: SDR exceeds SI-SDR by ~0.3 dB.
    assert np.all(bss["sdr"] >= si["si_sdr"] - 0.05)
    np.testing.assert_allclose(bss["sdr"], si["si_sdr"], atol=1.0)


def test_bss_eval_perfect_and_batched() -> None:
    rng = np.random.default_rng(6)
    refs = rng.standard_normal((2, 2, 2000))
    out = ev.bss_eval(refs, refs)
    assert out["sdr"].shape == (2, 2)
    assert np.all(out["sdr"] > 60.0)
    fixed = ev.bss_eval(refs[:, ::-1], refs, permute=False)
    np.testing.assert_array_equal(fixed["perm"], [[0, 1], [0, 1]])
    assert np.all(fixed["sdr"] < 0.0)


def _speech_like(rng: np.random.Generator, sample_rate: int, seconds: float) -> np.ndarray:
    """Harmonic tone with a syllable-rate envelope (STOI needs modulated energy)."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 120 + 40 * rng.random()
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.random() * 6) / k for k in range(1, 15))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t + rng.random() * 6)) ** 2
    return tone * envelope


def test_stoi_identical_and_noise() -> None:
    rng = np.random.default_rng(7)
    sr = 8000
    refs = np.stack([_speech_like(rng, sr, 2.0) for _ in range(2)])
    same = ev.stoi(refs[::-1], refs, sr)  # perm solved internally
    assert np.all(same > 0.99)
    noise = refs.std(axis=1, keepdims=True) * rng.standard_normal(refs.shape)
    order = np.arange(2)
    scores = [ev.stoi(refs + g * noise, refs, sr, perm=order) for g in (0.3, 3.0)]
    pure_noise = ev.stoi(noise, refs, sr, perm=order)
    assert np.all(same > scores[0]) and np.all(scores[0] > scores[1] + 0.1)
    assert np.all(scores[1] > pure_noise) and np.all(pure_noise < 0.5)
    # The other source is no better than noise.
    assert np.all(ev.stoi(refs[::-1], refs, sr, perm=order) < 0.2)
    assert np.all(ev.stoi(refs, refs, sr, extended=True, perm=np.arange(2)) > 0.99)


def test_evaluate_mixture_improvements() -> None:
    rng = np.random.default_rng(8)
    sr = 8000
    refs = np.stack([_speech_like(rng, sr, 1.0) for _ in range(2)])
    mixture = refs.sum(axis=0)
    est = (refs + 0.3 * rng.standard_normal(refs.shape))[::-1]
    out = ev.evaluate_mixture(est, refs, mixture, sr, stoi=True, bss=True)
    mix_sdr = ev.si_sdr(mixture, refs)
    np.testing.assert_allclose(out["si_sdr_mix"], mix_sdr, rtol=1e-6)
    np.testing.assert_allclose(out["si_sdri"], out["si_sdr"] - mix_sdr, rtol=1e-6)
    np.testing.assert_array_equal(out["perm"], [1, 0])
    np.testing.assert_array_equal(out["bss_perm"], [1, 0])
    assert np.all(out["si_sdri"] > 0) and np.all(out["sdri"] > 0)
    assert np.all(out["stoi"] > out["stoi_mix"])
    for key in ("si_sir", "si_sar", "sdr", "sir", "sar", "stoi", "si_sari", "siri"):
        assert out[key].shape == (2,)
    lean = ev.evaluate_mixture(est, refs, mixture, sr, stoi=True, bss=True,
                                    mixture_baselines=False)
    dropped = {"sdr_mix", "sir_mix", "sar_mix", "sdri", "siri", "sari", "stoi_mix"}
    assert set(lean) == set(out) - dropped
    for key in lean:
        np.testing.assert_array_equal(lean[key], out[key])


# ---------------------------------------------------------------------------------------------
# Partition quality (1 - normalized chi-squared distance of Bach & Jordan 2006)
# ---------------------------------------------------------------------------------------------


def _loop_quality(true: list[int], est: list[int], w: list[float]) -> float:
    """Quality from the weighted indicator matrices, with explicit loops only."""
    r_labels, s_labels = sorted(set(true)), sorted(set(est))
    n_r = {r: sum(wi for ti, wi in zip(true, w, strict=True) if ti == r) for r in r_labels}
    n_s = {s: sum(wi for ei, wi in zip(est, w, strict=True) if ei == s) for s in s_labels}
    norm2 = 0.0  # ||(E'E)^-1/2 E'F (F'F)^-1/2||_F^2 with rows of E, F scaled by sqrt(w)
    for r in r_labels:
        for s in s_labels:
            n_rs = sum(wi for ti, ei, wi in zip(true, est, w, strict=True) if ti == r and ei == s)
            norm2 += n_rs**2 / (n_r[r] * n_s[s])
    half_sum = (len(r_labels) + len(s_labels)) / 2
    d2 = half_sum - norm2
    return 1.0 - d2 / (half_sum - 1)


def test_partition_quality_hand_case() -> None:
    # p_rs = [[1/4, 1/4], [0, 1/2]]: sum p_rs^2 / (p_r p_s) = 1/2 + 1/6 + 2/3 = 4/3 -> 1/3.
    q = ev.partition_quality(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert q == pytest.approx(1 / 3, abs=1e-12)


def test_partition_quality_matches_loops_and_projection_definition() -> None:
    rng = np.random.default_rng(9)
    true = rng.integers(0, 3, 60)
    est = np.where(rng.random(60) < 0.7, true, rng.integers(0, 4, 60))
    w = rng.random(60)
    q = ev.partition_quality(true, est, w)
    assert q == pytest.approx(_loop_quality(true.tolist(), est.tolist(), w.tolist()), abs=1e-12)
    # Bach & Jordan: d^2 = 1/2 ||P_E - P_F||_F^2 with P_E the projector on the columns of E.
    e_mat = np.sqrt(w)[:, None] * (true[:, None] == np.unique(true)[None, :])
    f_mat = np.sqrt(w)[:, None] * (est[:, None] == np.unique(est)[None, :])
    proj_e = e_mat @ np.linalg.inv(e_mat.T @ e_mat) @ e_mat.T
    proj_f = f_mat @ np.linalg.inv(f_mat.T @ f_mat) @ f_mat.T
    d2 = 0.5 * np.sum((proj_e - proj_f) ** 2)
    half_sum = (e_mat.shape[1] + f_mat.shape[1]) / 2
    assert q == pytest.approx(1 - d2 / (half_sum - 1), abs=1e-10)


def test_partition_quality_identical_and_invariances() -> None:
    rng = np.random.default_rng(10)
    true = rng.integers(0, 2, (40, 33))
    w = rng.random((40, 33))
    assert ev.partition_quality(true, true, w) == pytest.approx(1.0, abs=1e-12)
    assert ev.partition_quality(true, 1 - true, w) == pytest.approx(1.0, abs=1e-12)
    est = np.where(rng.random(true.shape) < 0.8, true, 1 - true)
    q = ev.partition_quality(true, est, w)
    assert 0.05 < q < 0.95
    assert ev.partition_quality(true, 7 * (1 - est), w) == pytest.approx(q, abs=1e-12)
    assert ev.partition_quality(true, est, 1e-6 * w) == pytest.approx(q, abs=1e-12)
    assert ev.partition_quality(true.ravel(), est.ravel(), w.ravel()) == pytest.approx(q)


def test_partition_quality_independent_is_near_zero() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    q = ev.partition_quality(rng.integers(0, 2, n), rng.integers(0, 2, n), rng.random(n))
    assert 0.0 <= q < 0.005
    q3 = ev.partition_quality(rng.integers(0, 3, n), rng.integers(0, 2, n))
    assert 0.0 <= q3 < 0.005


def test_partition_quality_empty_clusters_and_collapse() -> None:
    true = np.array([0, 0, 1, 1, 2, 2])
    w = np.array([1.0, 2.0, 1.0, 3.0, 0.0, 0.0])  # cluster 2 carries no weight: dropped
    assert ev.partition_quality(true, np.array([0, 0, 1, 1, 0, 1]), w) == pytest.approx(1.0)
    collapsed = ev.partition_quality(true, np.zeros(6, dtype=int), w)
    assert collapsed == pytest.approx(0.0) and np.isfinite(collapsed)
    assert ev.partition_quality(np.zeros(6, int), np.zeros(6, int)) == 1.0
    with pytest.raises(ValueError):
        ev.partition_quality(true, true, n_sources=2)
    with pytest.raises(ValueError):
        ev.partition_quality(true, true, np.zeros(6))


# ---------------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# ---------------------------------------------------------------------------------------------


def test_bootstrap_ci_contains_mean_and_shrinks() -> None:
    rng = np.random.default_rng(12)
    data = rng.normal(3.0, 2.0, 4000)
    widths = []
    for n in (100, 400, 1600):
        mean, low, high = ev.bootstrap_ci(data[:n], n_boot=2000)
        assert mean == pytest.approx(data[:n].mean())
        assert low < mean < high
        widths.append(high - low)
        # Percentile interval of a normal mean: about 2 * 1.96 * sigma / sqrt(n).
        assert high - low == pytest.approx(2 * 1.96 * data[:n].std() / np.sqrt(n), rel=0.15)
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_ci_deterministic_with_seed() -> None:
    data = np.random.default_rng(13).standard_normal(300)
    assert ev.bootstrap_ci(data, seed=3) == ev.bootstrap_ci(data, seed=3)
    assert ev.bootstrap_ci(data, seed=3) != ev.bootstrap_ci(data, seed=4)
    with pytest.raises(ValueError):
        ev.bootstrap_ci([1.0, np.nan])


def test_paired_difference_ci_uses_pairing() -> None:
    rng = np.random.default_rng(14)
    shared = rng.normal(0.0, 5.0, 500)  # large between-mixture variance common to both
    a = shared + 0.3 + rng.normal(0.0, 0.2, 500)
    b = shared + rng.normal(0.0, 0.2, 500)
    mean, low, high = ev.paired_difference_ci(a, b, n_boot=2000)
    assert mean == pytest.approx(np.mean(a - b))
    assert 0.0 < low < 0.3 < high
    assert ev.paired_difference_ci(a, b, n_boot=2000) == ev.bootstrap_ci(
        a - b, n_boot=2000
    )
    with pytest.raises(ValueError):
        ev.paired_difference_ci(a, b[:-1])


def test_bss_eval_matches_fast_bss_eval_reference_function() -> None:
    from fast_bss_eval.numpy import bss_eval_sources

    rng = np.random.default_rng(15)
    est, refs = _noisy_mixture(rng, 2, 2000, noise=0.5)
    ours = ev.bss_eval(est[::-1], refs)
    sdr, sir, sar, perm = bss_eval_sources(refs, est[::-1])
    np.testing.assert_array_equal(ours["perm"], perm)
    for key, value in (("sdr", sdr), ("sir", sir), ("sar", sar)):
        np.testing.assert_allclose(ours[key], value, rtol=1e-7, atol=1e-7)


def test_label_accuracy_hand_cases():
    true = np.array([[0, 0, 1, 1]])
    assert ev.label_accuracy(true, true) == 1.0
    assert ev.label_accuracy(true, 1 - true) == 1.0  # relabelling is free
    est = np.array([[0, 1, 1, 1]])
    assert ev.label_accuracy(true, est) == pytest.approx(0.75)
    # weights: the wrong bin carries half the weight -> 0.5
    w = np.array([[1.0, 3.0, 1.0, 1.0]])
    assert ev.label_accuracy(true, est, w) == pytest.approx(3 / 6)
    # three sources, brute force over all relabellings written out by hand
    t3 = np.array([0, 1, 2, 2, 1, 0])
    e3 = np.array([2, 0, 1, 1, 0, 0])
    best = max(
        np.mean(np.array(p)[e3] == t3)
        for p in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    )
    assert ev.label_accuracy(t3, e3, n_sources=3) == pytest.approx(best)
