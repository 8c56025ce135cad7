"""Table 1 builders: Quality/Quantity, ensembles, findings text (no training needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bootsep_lib.config import get_profile
from bootsep_lib.report import bootstrap as rbs
from bootsep_lib.report import markdown_table, write_table
from bootsep_lib.studies import bootstrap as bs
from bootsep_lib.studies import ensembles as ens_mod

ALPHAS = (0.0, 0.5, 1.0, 2.0)


def _train_table() -> pd.DataFrame:
    """Three training mixtures with hand-picked weight sums and qualities."""
    return pd.DataFrame({
        "id": ["a", "b", "c"],
        "wsum_0": [1.0, 1.0, 1.0], "quality_0": [0.2, 0.5, 0.8],
        "wsum_0.5": [0.5, 0.25, 0.25], "quality_0.5": [0.4, 0.6, 0.8],
        "wsum_1": [0.3, 0.0, 0.0], "quality_1": [0.9, 0.0, 0.1],
        "wsum_2": [0.0, 0.0, 0.0], "quality_2": [0.0, 0.0, 0.0],
    })


def test_quality_quantity_hand_worked():
    qq = bs.quality_quantity(_train_table(), ALPHAS)
    # alpha = 0: magnitude weights sum to 1 per mixture -> Quantity 1, plain mean of quality
    assert qq.loc[0.0, "quantity"] == pytest.approx(1.0)
    assert qq.loc[0.0, "quality"] == pytest.approx((0.2 + 0.5 + 0.8) / 3)
    # alpha = 0.5: (0.5*0.4 + 0.25*0.6 + 0.25*0.8) / 1.0 and 1.0 / 3 mixtures
    assert qq.loc[0.5, "quality"] == pytest.approx(0.55)
    assert qq.loc[0.5, "quantity"] == pytest.approx(1.0 / 3)
    # alpha = 1: only mixture "a" carries weight
    assert qq.loc[1.0, "quality"] == pytest.approx(0.9)
    assert qq.loc[1.0, "quantity"] == pytest.approx(0.1)
    assert qq.loc[1.0, "weight_sum"] == pytest.approx(0.3)
    # no weight at all: Quality undefined, Quantity 0
    assert np.isnan(qq.loc[2.0, "quality"])
    assert qq.loc[2.0, "quantity"] == 0.0


def test_subset_size_and_models():
    assert bs.subset_size(0.05, 1000) == 50
    assert bs.subset_size(0.001, 1000) == bs.MIN_SUBSET_MIXTURES
    assert bs.subset_size(0.001, 5) == 5
    models = bs.table1_models(_train_table(), ALPHAS, minimum=1)
    by_name = {m.name: m for m in models}
    assert by_name[bs.GT_SUBSET].limit == 1  # round(0.1 * 3) = 0 -> minimum 1
    assert [m.alpha for m in models if m.targets == "spatial"] == list(ALPHAS)
    table = _train_table()
    assert bs.model_quality_quantity(by_name[bs.GT_ALL], table) == (1.0, 1.0)
    assert bs.model_quality_quantity(by_name[bs.GT_SUBSET], table) == (1.0, pytest.approx(1 / 3))
    assert bs.model_quality_quantity(by_name[bs.spatial_name(1.0)], table) == (
        pytest.approx(0.9), pytest.approx(0.1))


def _scores(ids, sdr, mix=None):
    sdr = np.asarray(sdr, dtype=float)
    out = pd.DataFrame({"id": ids, "si_sdr": sdr, "si_sir": sdr + 10, "si_sar": sdr + 1})
    if mix is not None:
        out["si_sdr_mix"] = mix
    return out


def _stage(ids, sdr, conf):
    table = _scores(ids, sdr)
    table["confidence"] = conf
    return table


def test_threshold_uses_validation_only():
    rng = np.random.default_rng(0)
    ids = [f"tt_{i:03d}" for i in range(40)]
    valid = _stage([f"cv_{i}" for i in range(20)], rng.normal(size=20), rng.uniform(size=20))
    model = _scores(ids, rng.normal(size=40))
    test_a = _stage(ids, rng.normal(size=40), rng.uniform(size=40))
    test_b = test_a.assign(confidence=rng.uniform(size=40) * 100)
    ens_a = ens_mod.ensemble_systems(test_a, model, valid)
    ens_b = ens_mod.ensemble_systems(test_b, model, valid)
    assert ens_a.threshold == ens_b.threshold == ens_mod.confidence_threshold(valid)
    assert ens_a.threshold == pytest.approx(np.quantile(valid["confidence"], 0.25))
    # and the threshold follows the validation table
    shifted = ens_mod.ensemble_systems(test_a, model, valid.assign(confidence=valid.confidence + 1))
    assert shifted.threshold == pytest.approx(ens_a.threshold + 1)


def test_ensembles_oracle_random_confidence():
    rng = np.random.default_rng(1)
    ids = [f"tt_{i:03d}" for i in range(50)]
    valid = _stage(ids, 0.0, np.linspace(0, 1, 50))
    spatial = _stage(ids, rng.normal(size=50), rng.uniform(size=50))
    model = _scores(ids[::-1], rng.normal(size=50))  # other order: matched by id
    ens = ens_mod.ensemble_systems(spatial, model, valid, seed=3)
    pm = ens.per_mixture
    oracle = ens.systems[ens_mod.ensemble_name("oracle")]["si_sdr"].to_numpy()
    assert np.all(oracle >= pm["spatial_si_sdr"].to_numpy())
    assert np.all(oracle >= pm["model_si_sdr"].to_numpy())
    conf = ens.systems[ens_mod.ensemble_name("conf.")]
    high = pm["confidence"] > ens.threshold
    assert np.array_equal(conf["si_sdr"][high], pm["spatial_si_sdr"][high])
    assert np.array_equal(conf["si_sdr"][~high], pm["model_si_sdr"][~high])
    again = ens_mod.ensemble_systems(spatial, model, valid, seed=3)
    other = ens_mod.ensemble_systems(spatial, model, valid, seed=4)
    assert again.per_mixture["random_spatial"].equals(pm["random_spatial"])
    assert not other.per_mixture["random_spatial"].equals(pm["random_spatial"])
    table = ens_mod.ensemble_table(ens, n_boot=200)
    assert table.loc[bs.SPATIAL, "spatial_share"] == 1.0
    assert table.loc[ens_mod.ensemble_name("oracle"), "paper_si_sdr"] == 6.2
    with pytest.raises(ValueError, match="same test mixtures"):
        ens_mod.ensemble_systems(spatial, model.iloc[1:], valid)


def _sweep(gain: float, noise: float = 0.3):
    """Evaluations where alpha = 1 beats alpha = 0 by ``gain`` dB on average."""
    rng = np.random.default_rng(2)
    ids = [f"tt_{i:03d}" for i in range(60)]
    base = rng.normal(2.0, 2.0, size=60)
    mix = rng.normal(0.0, 1.0, size=60)
    sdr = {bs.GT_ALL: base + 5, bs.GT_SUBSET: base + 0.5, bs.spatial_name(0.0): base,
           bs.spatial_name(0.5): base + gain / 2, bs.spatial_name(1.0): base + gain,
           bs.spatial_name(2.0): base - 1}
    evaluations = {k: _scores(ids, v + rng.normal(0, noise, size=60), mix)
                   for k, v in sdr.items()}
    table = bs.alpha_sweep_table(bs.table1_models(_train_table(), ALPHAS), evaluations,
                                 _train_table(), n_boot=500)
    return table, evaluations


def test_alpha_sweep_table_layout():
    table, _ = _sweep(1.0)
    assert list(table.index) == [bs.GT_ALL, bs.GT_SUBSET, *map(bs.spatial_name, ALPHAS),
                                 bs.MIXTURE]
    cols = list(table.columns)
    assert cols.index("paper_si_sdr") == cols.index("si_sdr_high") + 1
    assert table.loc[bs.spatial_name(1.0), "quantity"] == pytest.approx(0.1)
    assert table.loc[bs.GT_ALL, "paper_si_sdr"] == 9.2
    assert np.isnan(table.loc[bs.MIXTURE, "si_sir"])
    assert (table["si_sdr_low"] <= table["si_sdr"]).all()
    md = markdown_table(rbs.format_table(table))
    assert md.count("\n") == len(table) + 2
    assert "| DC w/ ground truth (all) |" in md


def test_findings_follow_the_numbers():
    profile = get_profile("smoke")
    clear, _ = _sweep(1.0)
    text = rbs.alpha_sweep_findings(clear, _sweep(1.0)[1], profile, n_train=3, n_boot=500)
    line = next(s for s in text.splitlines() if s.startswith("- **DC w/ estimates, alpha=1 vs"))
    assert "ordering holds" in line
    flat_table, flat_eval = _sweep(0.0, noise=1.0)
    text = rbs.alpha_sweep_findings(flat_table, flat_eval, profile, n_train=3, n_boot=500)
    line = next(s for s in text.splitlines() if s.startswith("- **DC w/ estimates, alpha=1 vs"))
    assert "inconclusive" in line
    worse_table, worse_eval = _sweep(-1.0)
    text = rbs.alpha_sweep_findings(worse_table, worse_eval, profile, n_train=3, n_boot=500)
    assert "ordering is reversed" in text.splitlines()[2]
    assert "1×32 BLSTM" in text and "eSpeak" in text
    assert "Quality does not strictly rise" in text  # _train_table's quality is not monotone


def test_compare_needs_an_expectation_without_paper_numbers():
    ids = ["a", "b", "c"]
    scores = {"x": _scores(ids, [1, 2, 3]), "y": _scores(ids, [0, 1, 2])}
    with pytest.raises(ValueError, match="pass expect"):
        rbs.compare("x", "y", scores)
    assert rbs.compare("x", "y", scores, expect="greater", n_boot=100).verdict == "holds"
    assert rbs.compare("x", "y", scores, expect="less", n_boot=100).verdict == "reversed"
    assert rbs.compare("x", "y", scores, expect="similar", n_boot=100).verdict == "differs"


def test_write_table(tmp_path):
    table, _ = _sweep(1.0)
    paths = write_table(table, tmp_path, "t", readable=rbs.format_table(table))
    assert [p.name for p in paths] == ["t.csv", "t.md"]
    back = pd.read_csv(paths[0], index_col=0)
    assert back.loc[bs.GT_ALL, "si_sdr"] == pytest.approx(table.loc[bs.GT_ALL, "si_sdr"])


def test_write_table_appends_notes_then_findings_verbatim(tmp_path):
    table = pd.DataFrame({"x": [1.5]}, index=pd.Index(["a"], name="approach"))
    findings = "### Findings\n\n- one **holds**\n\n"
    _, md = write_table(table, tmp_path, "t", notes=["note"], findings=findings)
    assert md.read_text() == ("| approach | x |\n|---|--:|\n| a | 1.5 |\n\n- note\n\n"
                              "### Findings\n\n- one **holds**\n")
    _, md = write_table(table, tmp_path, "t")
    assert md.read_text() == "| approach | x |\n|---|--:|\n| a | 1.5 |\n"
