"""Tests of the BSS teachers (bootsep_lib.spatial.bss_teachers) against brute force."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from test_spatial import SR, harmonic

from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import istft, stft
from bootsep_lib.eval import evaluate_mixture
from bootsep_lib.spatial import get_teacher, teacher_names
from bootsep_lib.spatial.bss_teachers import image_masks, mask_confidence, principal_demixing

BSS_TEACHERS = ("auxiva-2ch", "auxiva-4ch", "ilrma-2ch", "fastmnmf2-2ch")
ALL_TEACHERS = ("ipd-gmm", *BSS_TEACHERS)


def four_mic_mixture(seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """An anechoic two-source mixture on 4 mics: integer delays per mic, distinct per source.

    Returns the mixture (4, samples) and the source images at mic 0 (2, samples).
    """
    n, pad = int(seconds * SR), 8
    a = harmonic(n + 2 * pad, 130.0, 1)
    b = 0.8 * harmonic(n + 2 * pad, 220.0, 2)
    delays = {0: (0, 1, 2, -1), 1: (0, -1, -2, 1)}
    images = np.stack([np.stack([s[pad - d: pad - d + n] for d in delays[k]])
                       for k, s in enumerate((a, b))])  # (sources, mics, samples)
    return images.sum(0), images[:, 0]


def _masked_si_sdr(masks: np.ndarray, mix: np.ndarray, refs: np.ndarray, cfg) -> float:
    spec = stft(mix[0], SR, cfg.window_ms, cfg.hop_ms)
    est = istft(masks * spec, SR, mix.shape[-1], cfg.window_ms, cfg.hop_ms)
    return float(evaluate_mixture(est, refs, mix[0], SR)["si_sdr"].mean())


def test_every_bss_teacher_is_registered():
    assert set(ALL_TEACHERS) <= set(teacher_names())


@pytest.mark.parametrize("name", ALL_TEACHERS)
def test_teacher_separates_better_than_the_mixture(name):
    mix, refs = four_mic_mixture()
    cfg = SpatialConfig(jsd_samples=20_000)
    out = get_teacher(name)(mix, SR, cfg, seed=0)
    assert not out.degenerate
    assert out.masks.shape == (2, *stft(mix[0], SR).shape)
    np.testing.assert_allclose(out.masks.sum(0), 1.0, atol=1e-9)
    assert out.masks.min() >= 0.0
    assert out.confidence.shape == out.masks.shape[1:]
    assert 0.0 <= out.confidence.min() and out.confidence.max() <= 1.0
    mixture_score = float(evaluate_mixture(refs, refs, mix[0], SR)["si_sdr_mix"].mean())
    assert _masked_si_sdr(out.masks, mix, refs, cfg) > mixture_score + 5.0


@pytest.mark.parametrize("name", ALL_TEACHERS)
def test_teachers_cannot_be_handed_sources(name):
    """Teachers see only the mixture: no parameter for references, a TypeError if given one,
    and the same labels for the same mixture whatever its sources were."""
    teacher = get_teacher(name)
    params = set(inspect.signature(teacher).parameters)
    assert not params & {"sources", "references", "refs", "images", "truth", "targets"}
    mix, refs = four_mic_mixture(1.0)
    cfg = SpatialConfig(jsd_samples=5_000)
    with pytest.raises(TypeError):
        teacher(mix, SR, cfg, seed=0, sources=refs)
    first = teacher(mix, SR, cfg, seed=0)
    again = teacher(mix.copy(), SR, cfg, seed=0)
    np.testing.assert_array_equal(first.masks.argmax(0), again.masks.argmax(0))


@pytest.mark.parametrize("name", BSS_TEACHERS)
def test_silence_is_degenerate(name):
    out = get_teacher(name)(np.zeros((4, SR)), SR, SpatialConfig())
    assert out.degenerate and not out.confidence.any()
    np.testing.assert_allclose(out.masks.sum(0), 1.0)


def test_image_masks_against_brute_force():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((3, 5, 4)) + 1j * rng.standard_normal((3, 5, 4))
    images[:, 0, 0] = 0.0
    masks = image_masks(images)
    for t in range(5):
        for f in range(4):
            mags = [abs(images[j, t, f]) for j in range(3)]
            expected = [1 / 3] * 3 if sum(mags) == 0 else [m / sum(mags) for m in mags]
            np.testing.assert_allclose(masks[:, t, f], expected, rtol=1e-12)


def test_mask_confidence_against_brute_force():
    rng = np.random.default_rng(1)
    for n in (2, 3):
        raw = rng.random((n, 6, 7)) ** 3
        masks = raw / raw.sum(0)
        labels = masks.argmax(0)
        fractions = [np.mean(labels == j) for j in range(n)]
        c_cl = max(0.0, sum(1 / n - abs(1 / n - fj) for fj in fractions))
        expected = np.empty((6, 7))
        for t in range(6):
            for f in range(7):
                expected[t, f] = c_cl * (max(masks[:, t, f]) - 1 / n) / (1 - 1 / n)
        np.testing.assert_allclose(mask_confidence(masks), expected, rtol=1e-12, atol=1e-15)


def test_mask_confidence_extremes():
    onehot = np.zeros((2, 4, 4))
    onehot[0, :2], onehot[1, 2:] = 1.0, 1.0
    np.testing.assert_allclose(mask_confidence(onehot), 1.0)  # sharp, equal clusters
    np.testing.assert_allclose(mask_confidence(np.full((2, 4, 4), 0.5)), 0.0)  # undecided
    one_cluster = np.zeros((2, 4, 4))
    one_cluster[0] = 1.0
    np.testing.assert_allclose(mask_confidence(one_cluster), 0.0)  # C_cl = 0


def test_principal_demixing_against_brute_force():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 3, 4)) + 1j * rng.standard_normal((50, 3, 4))
    w0 = principal_demixing(x, 2)
    assert w0.shape == (3, 2, 4)
    for f in range(3):
        cov = sum(np.outer(x[t, f], x[t, f].conj()) for t in range(50)) / 50
        values, vectors = np.linalg.eig(cov)
        top = np.argsort(values.real)[::-1][:2]
        for j, k in enumerate(top):  # equal up to a unit phase
            overlap = abs(np.vdot(vectors[:, k], w0[f, j].conj()))
            assert overlap == pytest.approx(1.0, abs=1e-9)
        # the kept components carry the largest energy
        energy = np.sum(np.abs(x[:, f] @ w0[f].T) ** 2, axis=0) / 50
        np.testing.assert_allclose(energy, np.sort(values.real)[::-1][:2], rtol=1e-9)
