"""Seeded studies (training columns, seed counts, pair table), subset budget, report cards."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bootsep_lib.config import get_profile
from bootsep_lib.engine import RunConfig, TrainResult
from bootsep_lib.report import bootstrap as rbs
from bootsep_lib.report import cards
from bootsep_lib.report import mdc as mdc_report
from bootsep_lib.studies import bootstrap as bs
from bootsep_lib.studies import mdc, mdc_seeds, seeds
from bootsep_lib.studies.training import ModelJob

IDS = [f"tt_{i:03d}" for i in range(40)]


def _result(tmp: Path, steps: int, reason: str, seed: int = 0, name: str = "run") -> TrainResult:
    run_dir = tmp / f"{name}_{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        {"run_id": f"{name}{seed}", "loss": "dc", "data_tag": "tag", "train": {"seed": seed}}))
    epochs = 4
    history = pd.DataFrame({"epoch": range(1, epochs + 1),
                            "step": np.linspace(steps / epochs, steps, epochs).astype(int),
                            "valid_loss": [0.5, 0.3, 0.4, 0.35]})
    return TrainResult(run_dir, run_dir / "best.pt", run_dir / "last.pt", history, True, 0.0,
                       stop_reason=reason)


def _scores(values: np.ndarray, mix: np.ndarray | None = None) -> pd.DataFrame:
    mix = np.zeros_like(values) if mix is None else mix
    return pd.DataFrame({"id": IDS, "si_sdr": values, "si_sir": values + 10,
                         "si_sar": values + 1, "si_sdr_mix": mix, "si_sdri": values - mix})


def test_training_columns_and_run_steps(tmp_path):
    by_seed = {0: _result(tmp_path, 756, "epochs"), 1000: _result(tmp_path, 400, "early_stop", 1)}
    cols = seeds.training_columns(by_seed)
    assert cols == {"n_seeds": 2, "seeds": "0, 1000", "steps": "756, 400", "steps_mean": 578.0,
                    "stop_reason": "early_stop x1, epochs x1"}


def test_with_seed_changes_only_the_seed():
    prof = get_profile("smoke")
    base = ModelJob(RunConfig(model=prof.model, train=prof.train), None, None)
    other = seeds.with_seed(base, 1000)
    assert other.run.train.seed == 1000 and base.run.train.seed == 0
    assert other.run.run_id != base.run.run_id
    assert dataclasses.replace(other.run.train, seed=0) == base.run.train
    assert seeds.with_seed(base, 0) is base


def test_seeded_difference_counts_seeds_and_pairs_them():
    rng = np.random.default_rng(0)
    base = rng.normal(size=40)
    a = {s: _scores(base + off + 0.5) for s, off in ((0, 0.0), (1, 2.0), (2, -1.0))}
    b = {s: _scores(base + off) for s, off in ((0, 0.0), (1, 2.0), (2, -1.0))}
    b[2] = _scores(base - 1.0 + 0.9)  # seed 2: b above a
    d = seeds.seeded_difference(a, b, "si_sdr", n_boot=2000)
    assert (d.wins, d.n_seeds, d.n) == (2, 3, 40)
    assert d.mean == pytest.approx((0.5 + 0.5 - 0.4) / 3)
    one = seeds.seeded_difference(a, {0: b[0]}, "si_sdr", n_boot=500)  # shared seeds only
    assert (one.n_seeds, one.low, one.high) == (1, pytest.approx(0.5), pytest.approx(0.5))
    with pytest.raises(ValueError, match="no shared seed"):
        seeds.seeded_difference(a, {7: b[0]}, "si_sdr")


def _sweep(tmp_path, gain_per_seed):
    """Seeded evaluations: alpha = 1 above alpha = 0 by ``gain_per_seed[k]`` in seed k."""
    rng = np.random.default_rng(3)
    base, mix = rng.normal(2.0, 2.0, size=40), rng.normal(0.0, 1.0, size=40)
    sds = (0, 1000, 2000)
    offsets = {bs.GT_SUBSET: 0.5, bs.spatial_name(0.0): 0.0, bs.spatial_name(0.5): 0.2,
               bs.spatial_name(1.0): None, bs.spatial_name(2.0): -1.0}
    evals = {bs.GT_ALL: {0: _scores(base + 5, mix)}}
    for name, off in offsets.items():
        evals[name] = {s: _scores(base + (gain_per_seed[k] if off is None else off)
                                  + rng.normal(0, 0.05, 40), mix) for k, s in enumerate(sds)}
    training = {name: {s: _result(tmp_path, 60 if name == bs.GT_SUBSET else 756, "epochs", s,
                                  name.replace(" ", "")) for s in by_seed}
                for name, by_seed in evals.items()}
    table_in = pd.DataFrame({
        "id": ["a", "b"], **{f"wsum_{a:g}": [1.0, 1.0] for a in (0, 0.5, 1, 2)},
        **{f"quality_{a:g}": [0.5, 0.5] for a in (0, 0.5, 1, 2)}})
    models = bs.table1_models(table_in, minimum=1)
    table = bs.alpha_sweep_table(models, evals, table_in, training=training, n_boot=500)
    return table, evals


def test_alpha_sweep_with_seeds_reports_counts_and_budget(tmp_path):
    table, evals = _sweep(tmp_path, (1.0, 1.2, -0.5))
    assert table.loc[bs.GT_ALL, "n_seeds"] == 1 and table.loc[bs.GT_SUBSET, "n_seeds"] == 3
    assert table.loc[bs.GT_SUBSET, "steps"] == "60, 60, 60"
    assert table.loc[bs.spatial_name(1.0), "stop_reason"] == "epochs x3"
    text = rbs.alpha_sweep_findings(table, evals, get_profile("smoke"), n_train=2, n_boot=500)
    line = next(s for s in text.splitlines()
                if s.startswith("- **DC w/ estimates, alpha=1 vs DC w/ estimates, alpha=0**"))
    assert "alpha=1 > DC w/ estimates, alpha=0 in 2 of 3 seeds" in line
    assert "one seed" in next(s for s in text.splitlines() if s.startswith("- **DC w/ ground"))
    assert "- **1 seed**: DC w/ ground truth (all)" in text
    assert "60 optimiser steps on average" in text
    readable = rbs.format_table(table)
    assert readable.loc[bs.GT_SUBSET, "seeds"] == "3"


def test_alpha_sweep_finding_against_the_paper_is_reported(tmp_path):
    table, evals = _sweep(tmp_path, (-1.0, -1.1, -0.9))
    text = rbs.alpha_sweep_findings(table, evals, get_profile("smoke"), n_train=2, n_boot=500)
    line = next(s for s in text.splitlines()
                if s.startswith("- **DC w/ estimates, alpha=1 vs DC w/ estimates, alpha=0**"))
    assert "ordering is reversed" in line and "in 0 of 3 seeds" in line


def test_subset_model_gets_the_step_budget(smoke_data):
    prof = get_profile("smoke")
    model = bs.Table1Model(bs.GT_SUBSET, "ground_truth", limit=8)
    job = model.job(prof)
    per_epoch = math.ceil(8 / prof.train.batch_size)
    assert job.run.train.epochs == math.ceil(prof.evidence.subset_steps / per_epoch)
    assert job.run.train.epochs * per_epoch >= prof.evidence.subset_steps
    plain = model.job(get_profile("smoke", evidence={"subset_steps": None}))
    assert plain.run.train.epochs == prof.train.epochs
    assert bs.Table1Model(bs.GT_ALL, "ground_truth").job(prof).run.train == prof.train
    with pytest.raises(ValueError, match="first evidence seed"):
        bs.model_seeds(get_profile("smoke", evidence={"seeds": [5, 6]}), model)


def _study_model(name, study, loss, run_id=None, seed=0):
    job = SimpleNamespace(run=SimpleNamespace(run_id=run_id or name,
                                              train=SimpleNamespace(seed=seed)))
    return mdc.StudyModel(name, study, loss, 2, 8000, None, "dc", job)


def test_pair_table_and_findings(tmp_path):
    rng = np.random.default_rng(4)
    base = rng.normal(5.0, 1.0, size=40)
    models = [_study_model("table/dc/2spk/8k", "table", "dc"),
              _study_model("table/mdc/2spk/8k", "table", "mdc"),
              _study_model("bootstrap/dc", "bootstrap", "dc"),
              _study_model("bootstrap/mdc", "bootstrap", "mdc"),
              _study_model("chimera/chimera/0.5", "chimera", "chimera")]
    assert [mdc_seeds.is_seeded(m) for m in models] == [True] * 4 + [False]
    prof = get_profile("smoke")
    assert mdc_seeds.study_seeds(prof, models[0]) == prof.evidence.seeds
    assert mdc_seeds.study_seeds(prof, models[4]) == (0,)
    sds = prof.evidence.seeds
    scores = {"table/dc/2spk/8k": {s: _scores(base) for s in sds},
              "table/mdc/2spk/8k": {s: _scores(base - 1.0) for s in sds},
              "bootstrap/dc": {s: _scores(base) for s in sds},
              "bootstrap/mdc": {s: _scores(base + (0.3 if s == sds[0] else -0.3)) for s in sds}}
    results = {name: {s: _result(tmp_path, 100, "epochs", s, name.replace("/", ""))
                      for s in sds} for name in scores}
    pairs = mdc_seeds.pair_table(models, scores, results, n_boot=500)
    gt, boot = pairs.iloc[0], pairs.iloc[1]
    assert gt["diff"] == pytest.approx(-1.0) and gt["mdc_wins"] == 0
    assert gt["paper_diff"] > 0 and math.isnan(boot["paper_diff"])
    assert boot["mdc_wins"] == 1 and boot["n_seeds"] == len(sds)
    lines = mdc_report.findings(pairs=pairs)
    assert "against the paper" in lines[0] and "M-DC > DC in 0 of 2 seeds" in lines[0]
    assert "beyond the papers" in lines[1]
    md = mdc_report.pair_table_markdown(pairs)
    assert list(md["M-DC > DC"]) == ["0 of 2 seeds", "1 of 2 seeds"]


def test_report_card_numbers_and_files(tmp_path):
    values = np.arange(40, dtype=float)
    scores = _scores(values, mix=np.full(40, 2.0))
    result = _result(tmp_path / "cache", 756, "early_stop", 1000, "alpha1")
    card = cards.model_card("DC w/ estimates, alpha=1", result, scores, n_boot=2000)
    assert (card["seed"], card["steps"], card["stop_reason"]) == (1000, 756, "early_stop")
    assert card["best_epoch"] == 2 and card["n_mixtures"] == 40
    sdr = card["metrics"]["si_sdr"]
    assert sdr["mean"] == pytest.approx(19.5) and sdr["median"] == pytest.approx(19.5)
    assert sdr["std"] == pytest.approx(np.std(values, ddof=1))
    assert sdr["ci_low"] < 19.5 < sdr["ci_high"]
    assert card["metrics"]["si_sdri"]["mean"] == pytest.approx(17.5)
    written = cards.write_cards({"DC w/ estimates, alpha=1": {1000: result}},
                                {"DC w/ estimates, alpha=1": {1000: scores}}, tmp_path / "cards")
    stem = "DC_w_estimates_alpha=1_seed1000"
    assert cards.card_stem(written[0]) == stem
    again = json.loads((tmp_path / "cards" / f"{stem}.json").read_text())
    assert again == json.loads((result.run_dir / "card_tt.json").read_text())
    assert len(pd.read_csv(tmp_path / "cards" / f"{stem}.csv")) == 40
    assert list(cards.cards_table(written)["steps"]) == [756]


def test_model_seeds_follow_the_profile():
    laptop = get_profile("laptop")
    seeds_of = {m.name: bs.model_seeds(laptop, m) for m in (
        bs.Table1Model(bs.GT_ALL, "ground_truth", seeded=False),
        bs.Table1Model(bs.GT_SUBSET, "ground_truth", limit=5),
        *(bs.bootstrapped_model(a) for a in (0.0, 0.5, 1.0, 2.0)))}
    assert seeds_of[bs.GT_ALL] == (laptop.train.seed,)
    for name in (bs.GT_SUBSET, *map(bs.spatial_name, (0.0, 0.5, 1.0, 2.0))):  # issue 11's list
        assert seeds_of[name] == laptop.evidence.seeds and len(laptop.evidence.seeds) >= 3
    trimmed = get_profile("laptop", evidence={"seeded_alphas": [0.5, 1.0]})  # a budget switch
    for alpha in (0.0, 2.0):
        assert bs.model_seeds(trimmed, bs.bootstrapped_model(alpha)) == (laptop.train.seed,)
    assert bs.model_seeds(trimmed, bs.bootstrapped_model(0.5)) == laptop.evidence.seeds
    assert len(get_profile("paper").evidence.seeds) >= 3
