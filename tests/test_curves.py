"""Learning curves: which runs write snapshots, the saturating fit, the findings' statistics."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from bootsep_lib.config import get_profile
from bootsep_lib.plots.curves import learning_curves as plot_curves
from bootsep_lib.report.curves import curve_findings, gap_table, still_improving
from bootsep_lib.studies.curves import saturating_fit


def test_saturating_fit_recovers_the_generating_curve():
    steps = np.arange(0, 800, 50, dtype=float)
    truth = {"a": 6.0, "b": 5.5, "tau": 180.0}
    noise = np.random.default_rng(0).normal(scale=0.02, size=steps.size)
    values = truth["a"] - truth["b"] * np.exp(-steps / truth["tau"]) + noise
    fit = saturating_fit(steps, values)
    assert fit is not None
    assert fit["a"] == pytest.approx(truth["a"], abs=0.1)
    assert fit["tau"] == pytest.approx(truth["tau"], rel=0.1)
    assert fit["rmse"] < 0.05 and fit["identified"]
    line = saturating_fit(steps, 0.01 * steps)  # no saturation in sight: no plateau claimed
    assert line is not None and not line["identified"]
    assert saturating_fit(steps[:3], values[:3]) is None


def _scores() -> pd.DataFrame:
    """Two arms, 5 mixtures, steps 0..400: A = 0.01 s + m, B = 0.005 s + m (+ mixture offset m)."""
    rows = []
    for arm, slope in (("A", 0.01), ("B", 0.005)):
        for step in range(0, 401, 100):
            for m in range(5):
                rows.append({"arm": arm, "step": step, "id": f"m{m}",
                             "si_sdr": slope * step + m, "si_sdr_mix": 0.0})
    return pd.DataFrame(rows)


def test_still_improving_by_hand():
    table = still_improving(_scores())
    # last step 400; nearest to 300 among 0..300 is 300; change = slope * 100 for every mixture
    assert list(table["from_step"]) == [300, 300] and list(table["last_step"]) == [400, 400]
    assert table.loc["A", "change"] == pytest.approx(1.0)
    assert table.loc["A", ["change_low", "change_high"]].tolist() == pytest.approx([1.0, 1.0])
    assert table.loc["B", "change"] == pytest.approx(0.5)
    assert table.loc["A", "last"] == pytest.approx(4.0 + 2.0)  # 0.01 * 400 + mean(0..4)


def test_gap_table_by_hand():
    gaps = gap_table(_scores())
    assert len(gaps) == 1
    row = gaps.iloc[0]
    # common positive steps 100..400: end 400, half = nearest to 200 -> 200
    assert (row["a"], row["b"], row["half_step"], row["end_step"]) == ("A", "B", 200, 400)
    assert row["gap_half"] == pytest.approx(0.005 * 200)
    assert row["gap_end"] == pytest.approx(0.005 * 400)
    assert row["change"] == pytest.approx(1.0) and row["change_low"] == pytest.approx(1.0)


def test_findings_and_figure_follow_the_numbers():
    scores = _scores()
    summary = pd.DataFrame([
        {"arm": arm, "step": s, "si_sdr": v, "si_sdr_low": v - 1, "si_sdr_high": v + 1,
         "n": 5, "paper_si_sdr": 9.2, "fit_a": 7.0 if arm == "A" else np.nan, "fit_b": 5.0,
         "fit_tau": 100.0 if arm == "A" else np.nan, "steps_total": 400, "stop_reason": "max_steps"}
        for arm in ("A", "B") for s, v in zip(range(0, 401, 100), range(5), strict=True)])
    text = curve_findings(summary, scores)
    assert "**still improving**" in text
    assert "towards A (the gap widens)" in text and "+1.00 [+1.00, +1.00]" in text
    assert "7.00 dB" in text  # A's fitted plateau; B has no fit
    assert text.count("saturating fit") == 1 and "no plateau is claimed" not in text
    unidentified = summary.assign(fit_tau=summary["fit_tau"].fillna(900.0))
    assert "time constant (900 steps)" in curve_findings(unidentified, scores)
    flat = scores.assign(si_sdr=scores["id"].str[1:].astype(float))  # no change at all
    assert "flat within noise" in curve_findings(summary, flat)
    fig = plot_curves(summary)
    dashed = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and "extrapolated" in dashed[0].get_label()


def test_snapshots_only_for_the_curve_arms(smoke_data):
    from bootsep_lib.data.subsets import Subset
    from bootsep_lib.data.training_set import TrainingSet
    from bootsep_lib.studies.curves import curve_arms
    from bootsep_lib.studies.mdc import study_models
    from bootsep_lib.studies.training import run_config

    profile = get_profile("smoke")
    every = profile.curves.snapshot_every_steps
    arms = curve_arms(profile)
    assert len(arms) == len(profile.curves.arms)
    assert all(a.job.run.snapshot_every_steps == every for a in arms)
    subset_gt = TrainingSet(profile, "tr", limit=5)
    assert run_config(profile, subset_gt).snapshot_every_steps is None
    other = TrainingSet(profile, "tr", subset=Subset(3, "anechoic", 8000))
    assert run_config(profile, other, loss="mdc").snapshot_every_steps is None
    spatial = TrainingSet(profile, "tr", targets="spatial", alpha=0.5)
    assert run_config(profile, spatial).snapshot_every_steps is None
    snapshotting = [m.name for m in study_models(profile, bootstrap=True)
                    if m.job.run.snapshot_every_steps is not None]
    # the M-DC table model (shared by M-Chimera at w = 1) and the bootstrapped DC (alpha = 1)
    assert sorted(snapshotting) == ["bootstrap/dc", "chimera/mchimera/1", "table/mdc/2spk/8k"]
