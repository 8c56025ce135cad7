"""Notebook 06 (manifold-aware deep clustering): objectives, sharing, geometry, tables, findings.

``tests/test_losses.py`` already checks that ``mdc_loss`` is the DC loss with simplex targets
and ``tests/test_targets.py`` that the simplex Gram matrix tends to the one-hot one (Eq. 6-8 of
the M-DC paper).  Here: the same at the level of the trainer's objective and of the loss value,
the models the study shares, the cosine computation against a brute-force loop, and the table
and findings functions on synthetic scores.
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from bootsep_lib.config import ModelConfig, TrainConfig, get_profile
from bootsep_lib.engine import RunConfig
from bootsep_lib.engine.batches import collate
from bootsep_lib.losses import (
    chimera_loss,
    deep_clustering_loss,
    get_loss,
    mdc_loss,
    normalize_loss,
)
from bootsep_lib.losses import deep_clustering as dc_module
from bootsep_lib.losses import mdc as mdc_module
from bootsep_lib.models import build_model
from bootsep_lib.report import markdown_table, published, write_table
from bootsep_lib.report import mdc as mdc_report
from bootsep_lib.studies import mdc, mdc_checks, mdc_cosines
from bootsep_lib.studies.training import ModelJob
from bootsep_lib.targets import one_hot_targets, simplex_targets

N_FREQS = 9


class _Items(torch.utils.data.Dataset):
    """Random features, labels that depend on them, magnitude weights, source magnitudes."""

    def __init__(self, n: int, seed: int, n_sources: int = 2) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            frames = int(rng.integers(12, 20))
            feats = rng.normal(size=(frames, N_FREQS)).astype(np.float32)
            mag = np.abs(feats)
            labels = np.clip((feats * n_sources / 2 + n_sources / 2).astype(np.int64), 0,
                             n_sources - 1)
            onehot = np.moveaxis(np.eye(n_sources, dtype=np.float32)[labels], -1, 0)
            self.items.append({
                "features": feats, "labels": labels, "weights": mag / mag.sum(),
                "mix_mag": mag, "source_mags": onehot * mag,
            })

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.items[index]


def _run(loss: str, alpha: float = 0.5, n_sources: int = 2) -> RunConfig:
    return RunConfig(
        model=ModelConfig(layers=1, units=6, embedding_dim=4),
        train=TrainConfig(batch_size=3, crop_frames=10, epochs=1, seed=5),
        loss=loss, chimera_alpha=alpha, n_sources=n_sources, n_freqs=N_FREQS, data_tag="random",
    )


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- objectives


@pytest.mark.parametrize("n_sources", [2, 3])
def test_training_step_dc_and_mdc_differ_only_in_targets(monkeypatch, n_sources):
    """The trainer's objective for "dc" and "mdc": same embeddings and weights, other targets."""
    calls: list[tuple[torch.Tensor, ...]] = []
    original = dc_module.deep_clustering_loss

    def recorder(v, y, w=None):
        calls.append((v.detach().clone(), y.clone(), None if w is None else w.clone()))
        return original(v, y, w)

    monkeypatch.setattr(dc_module, "deep_clustering_loss", recorder)
    monkeypatch.setattr(mdc_module, "deep_clustering_loss", recorder)
    data = _Items(3, seed=1, n_sources=n_sources)
    batch = collate([{k: torch.as_tensor(v) for k, v in data[i].items()}
                     for i in range(3)])
    torch.manual_seed(0)
    model = build_model("dc", N_FREQS, _run("dc").model)
    outputs = model(batch["features"], batch["lengths"])
    values = {loss: float(get_loss(loss)(outputs, batch, _run(loss, n_sources=n_sources)).detach())
              for loss in ("dc", "mdc")}
    assert len(calls) == 2
    (v_dc, y_dc, w_dc), (v_mdc, y_mdc, w_mdc) = calls
    assert torch.equal(v_dc, v_mdc) and torch.equal(w_dc, w_mdc)
    labels = batch["labels"].reshape(3, -1)
    assert torch.equal(y_dc, one_hot_targets(labels, n_sources))
    assert torch.equal(y_mdc, simplex_targets(labels, n_sources))
    assert values["dc"] != values["mdc"]


def test_mdc_loss_tends_to_dc_loss_as_n_grows():
    """Eq. 6-8: off-diagonal targets -1/(N-1) -> 0, so |L_MDC - L_DC| <= 4/(N-1) (normalized)."""
    gen = torch.Generator().manual_seed(0)
    bins = 400
    v = F.normalize(torch.randn(2, bins, 8, generator=gen, dtype=torch.float64), dim=-1)
    w = torch.rand(2, bins, generator=gen, dtype=torch.float64)
    gaps = []
    for n in (2, 3, 5, 10, 50, 200):
        labels = torch.randint(0, n, (2, bins), generator=gen)
        dc = normalize_loss(deep_clustering_loss(v, one_hot_targets(labels, n, torch.float64), w),
                            w, "utterance")
        m = normalize_loss(mdc_loss(v, labels, w, n_sources=n), w, "utterance")
        gap = float((m - dc).abs().max())
        assert gap <= 4.0 / (n - 1)
        gaps.append(gap)
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert gaps[-1] < 0.02


def test_chimera_targets_do_not_matter_at_alpha_zero():
    """Loss and gradients of Chimera and M-Chimera coincide at alpha = 0, not above."""
    gen = torch.Generator().manual_seed(3)
    b, t, f, c = 2, 5, 4, 2
    raw = torch.randn(b, t * f, 6, generator=gen, dtype=torch.float64)
    masks = torch.softmax(torch.randn(b, c, t, f, generator=gen, dtype=torch.float64), dim=1)
    mix = torch.rand(b, t, f, generator=gen, dtype=torch.float64)
    src = torch.rand(b, c, t, f, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, c, (b, t * f), generator=gen)
    for alpha, equal in ((0.0, True), (0.5, False)):
        results = []
        for make in (one_hot_targets, simplex_targets):
            emb = raw.clone().requires_grad_(True)
            loss = chimera_loss(F.normalize(emb, dim=-1), masks, make(labels, c, torch.float64),
                                mix, src, alpha).sum()
            loss.backward()
            results.append((loss.detach(), emb.grad))
        assert torch.equal(results[0][0], results[1][0]) is equal
        assert torch.equal(results[0][1], results[1][1]) is equal


def _job(loss: str, alpha: float) -> ModelJob:
    return ModelJob(_run(loss, alpha), _Items(6, seed=0), _Items(3, seed=1))


def test_same_training_measures_shared_models():
    """alpha = 0: Chimera == M-Chimera; alpha = 1: Chimera == DC on the shared layers."""
    zero = mdc_checks.same_training(_job("chimera", 0.0), _job("mchimera", 0.0), epochs=2)
    assert zero["max_weight_diff"] == 0.0
    assert zero["train_loss_a"] == zero["train_loss_b"]
    assert zero["shared_parameters"] > 0
    one = mdc_checks.same_training(_job("chimera", 1.0), _job("dc", 1.0), epochs=2)
    assert one["max_weight_diff"] == 0.0
    assert one["valid_loss_a"] == one["valid_loss_b"]
    different = mdc_checks.same_training(_job("dc", 1.0), _job("mdc", 1.0))
    assert different["max_weight_diff"] > 0.0


# --------------------------------------------------------------------------- geometry


def _brute_force(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    flat, lab = emb.reshape(-1, emb.shape[-1]), labels.reshape(-1)
    out = []
    for i in range(len(lab)):
        for j in range(i + 1, len(lab)):
            if lab[i] != lab[j]:
                a, b = flat[i], flat[j]
                out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return np.sort(out)


@pytest.mark.parametrize("n_sources", [2, 3])
def test_cross_source_cosines_equal_brute_force(n_sources):
    rng = np.random.default_rng(n_sources)
    emb = rng.normal(size=(6, 5, 4)) * rng.uniform(0.5, 2.0, size=(6, 5, 1))
    labels = rng.integers(0, n_sources, size=(6, 5))
    got = mdc_cosines.cross_source_cosines(emb, labels)
    np.testing.assert_allclose(np.sort(got), _brute_force(emb, labels), atol=1e-12)
    select = rng.random((6, 5)) < 0.6
    got = mdc_cosines.cross_source_cosines(emb, labels, select=select)
    np.testing.assert_allclose(np.sort(got), _brute_force(emb[select], labels[select]),
                               atol=1e-12)


def test_cross_source_cosines_sample_is_drawn_from_the_pairs():
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(8, 6, 3))
    labels = rng.integers(0, 3, size=(8, 6))
    full = _brute_force(emb, labels)
    sample = mdc_cosines.cross_source_cosines(emb, labels, max_pairs=100, seed=2)
    assert sample.shape == (100,)
    assert np.abs(sample[:, None] - full[None]).min(axis=1).max() < 1e-12
    again = mdc_cosines.cross_source_cosines(emb, labels, max_pairs=100, seed=2)
    np.testing.assert_array_equal(sample, again)
    assert mdc_cosines.cross_source_cosines(emb, np.zeros((8, 6), dtype=int)).size == 0


def test_cosine_summary_targets():
    frame = pd.DataFrame({
        "loss": ["dc"] * 3 + ["mdc"] * 3, "n_speakers": [3] * 6,
        "cosine": [0.0, 0.1, -0.1, -0.5, -0.4, -0.6],
    })
    summary = mdc_cosines.cosine_summary(frame).set_index("loss")
    assert summary.loc["dc", "target_angle"] == pytest.approx(90.0)
    assert summary.loc["mdc", "target_angle"] == pytest.approx(120.0)
    assert summary.loc["mdc", "median_angle"] == pytest.approx(120.0)
    assert summary.loc["dc", "share_obtuse"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- tables


def _model(name: str, study: str, loss: str, n: int = 2, rate: int = 8000, alpha=None,
           head: str = "dc", run_id: str | None = None) -> mdc.StudyModel:
    job = SimpleNamespace(run=SimpleNamespace(run_id=run_id or name))
    return mdc.StudyModel(name, study, loss, n, rate, alpha, head, job)


def _scores(mean: float, n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": [f"m{i:02d}" for i in range(n)]})
    for k, col in enumerate(mdc.TABLE_METRICS):
        noise = rng.normal(size=n)
        frame[col] = mean + k + noise - noise.mean()  # sample mean exactly mean + k
    return frame


def test_mdc_table_on_synthetic_scores(tmp_path):
    models, scores = [], {}
    for n, rate in mdc.TABLE_CONFIGS:
        base = _scores(5.0, seed=n * rate)
        better = base.copy()
        better[list(mdc.TABLE_METRICS)] += 1.0 if n == 2 else 0.0
        for loss, frame in (("dc", base), ("mdc", better.sample(frac=1.0, random_state=1))):
            name = f"table/{loss}/{n}/{rate}"
            models.append(_model(name, "table", loss, n, rate))
            scores[name] = frame
    table = mdc.mdc_table(models, scores, n_boot=500)
    assert len(table) == len(mdc.TABLE_CONFIGS) * len(mdc.TABLE_METRICS)
    two = table[table["n_speakers"] == 2]
    # rows are matched by mixture id (M-DC's table was shuffled): the paired CI collapses
    np.testing.assert_allclose(two[["diff", "diff_low", "diff_high"]], 1.0, atol=1e-9)
    np.testing.assert_allclose(table[table["n_speakers"] == 3]["diff"], 0.0, atol=1e-9)
    row = table[(table["n_speakers"] == 3) & (table["sample_rate"] == 16000)
                & (table["metric"] == "sir")].iloc[0]
    assert (row["paper_dc"], row["paper_mdc"]) == (8.629, 8.645)
    assert np.all(table["dc_low"] <= table["dc"]) and np.all(table["dc"] <= table["dc_high"])

    text = mdc_report.findings(table)
    assert any(line.startswith("2 speakers, 8 kHz") and "(better;" in line for line in text)
    assert any("smaller with 3 speakers" in line for line in text)
    assert any("significantly better in 10, significantly worse in 0" in line for line in text)

    readable = mdc_report.mdc_table_markdown(table)
    assert list(readable.columns) == ["configuration", "metric", "DC", "M-DC", "M-DC - DC",
                                      "paper DC", "paper M-DC"]
    assert readable.iloc[0]["M-DC - DC"] == "+1.00 [+1.00, +1.00]"
    paths = write_table(table, tmp_path, "mdc_table", readable=readable, notes=text, index=False)
    assert [p.name for p in paths] == ["mdc_table.csv", "mdc_table.md"]
    md = paths[1].read_text()
    assert md.startswith("| configuration | metric |") and f"- {text[0]}" in md
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), table, check_dtype=False)


def test_chimera_table_and_findings():
    models, scores = [], {}
    means = {("chimera", 0.0): 3.0, ("chimera", 0.5): 4.0, ("chimera", 1.0): 2.0,
             ("mchimera", 0.0): 3.0, ("mchimera", 0.5): 6.0, ("mchimera", 1.0): 2.5}
    for (loss, alpha), mean in means.items():
        name = f"chimera/{loss}/{alpha}"
        run_id = "shared0" if alpha == 0.0 else name
        models.append(_model(name, "chimera", loss, alpha=alpha,
                             head="dc" if alpha == 1.0 else "mi", run_id=run_id))
        scores[name] = _scores(mean, seed=7)
    chim = mdc.chimera_table(models, scores, n_boot=500)
    assert list(chim["system"]) == ["chimera"] * 3 + ["mchimera"] * 3
    assert chim.groupby("alpha")["run_id"].nunique()[0.0] == 1
    text = mdc_report.findings(chimera=chim)
    assert "Chimera: best alpha = 0.5 with 4.00 dB" in text[0]
    assert "M-Chimera: best alpha = 0.5 with 6.00 dB" in text[1]
    assert "Best M-Chimera - best Chimera = +2.00 dB (disjoint CIs)" in text[2]


def test_bootstrap_comparison_and_findings():
    dc = _scores(1.0, seed=3)
    worse = dc.copy()
    worse["si_sdr"] -= 0.5
    models = [_model("bootstrap/dc", "bootstrap", "dc"), _model("bootstrap/mdc", "bootstrap",
                                                                "mdc")]
    boot = mdc.bootstrap_comparison(models, {"bootstrap/dc": dc, "bootstrap/mdc": worse},
                                    n_boot=500)
    assert list(boot.index) == ["dc", "mdc", "mdc - dc"]
    assert boot.loc["mdc - dc", "mean"] == pytest.approx(-0.5)
    (line,) = mdc_report.findings(boot=boot)
    assert "-0.50 [-0.50, -0.50] dB over 30 mixtures (worse)" in line
    with pytest.raises(ValueError):
        mdc.bootstrap_comparison(models[:1], {"bootstrap/dc": dc})


def test_findings_from_checks_and_geometry():
    checks = pd.DataFrame(
        {"train_loss_a": [1.0, 2.0], "train_loss_b": [1.0, 2.5], "valid_loss_a": [1.0, 2.0],
         "valid_loss_b": [1.0, 2.5], "max_weight_diff": [0.0, 0.3],
         "shared_parameters": [10.0, 10.0]},
        index=["same", "other"],
    )
    geometry = mdc_cosines.cosine_summary(pd.DataFrame(
        {"loss": ["mdc"] * 2, "n_speakers": [2, 2], "cosine": [-1.0, -1.0]}))
    text = mdc_report.findings(geometry=geometry, checks=checks)
    assert "same: trained side by side, training and validation losses identical" in text[0]
    assert "differ by at most 0." in text[0] and "losses differ" in text[1]
    assert "M-DC, 2 speakers: median angle between embeddings of different speakers 180 deg" \
        in text[2]
    assert mdc_report.findings() == []


def test_to_markdown():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert markdown_table(frame, index=False) == "| a | b |\n|---|--:|\n| 1 | x |\n| 2 | y |\n"


def test_differences_from_paper_state_the_stft():
    lines = mdc_report.differences_from_paper(get_profile("smoke"))
    stft = next(line for line in lines if line.startswith("STFT"))
    assert "256 / 64 samples at 8 kHz, 512 / 128 samples at 16 kHz" in stft
    assert "256 / 64 samples at both rates" in stft
    assert any("1 x 32 BLSTM, D = 10" in line for line in lines)


def test_paper_table_is_complete():
    assert set(published.MDC_TABLE1) == set(mdc.TABLE_CONFIGS)
    for row in published.MDC_TABLE1.values():
        assert set(row) == {"dc", "mdc"}
        for values in row.values():
            assert set(values) == set(mdc.TABLE_METRICS)


# --------------------------------------------------------------------------- the study


def test_study_models_share_and_configure(smoke_data):
    profile = get_profile("smoke")
    models = mdc.study_models(profile, bootstrap=False)
    by_name = {m.name: m for m in models}
    assert len(by_name) == 8 + 2 * len(mdc.CHIMERA_WEIGHTS)
    runs = {name: m.job.run for name, m in by_name.items()}
    assert runs["chimera/chimera/0"] == runs["chimera/mchimera/0"]
    assert runs["chimera/chimera/0"].loss == "chimera"
    assert runs["chimera/chimera/1"] == runs["table/dc/2spk/8k"]
    assert runs["chimera/mchimera/1"] == runs["table/mdc/2spk/8k"]
    assert by_name["chimera/chimera/1"].head == "dc"
    assert by_name["chimera/mchimera/0.5"].head == "mi"
    assert runs["chimera/mchimera/0.5"].loss == "mchimera"
    assert runs["chimera/mchimera/0.5"].chimera_alpha == 0.5
    assert len({r.run_id for r in runs.values()}) == 8 + 2 * 3 + 1
    for m in models:
        assert m.job.run.model == profile.mdc_model and m.job.run.train == profile.mdc_train
    assert runs["table/dc/3spk/16k"].n_freqs == 257 and runs["table/dc/3spk/16k"].n_sources == 3
    for n, rate in mdc.TABLE_CONFIGS:
        a, b = runs[f"table/dc/{n}spk/{rate // 1000}k"], runs[f"table/mdc/{n}spk/{rate // 1000}k"]
        # the same run but the loss; the M-DC model at 2 speakers / 8 kHz also keeps weight
        # snapshots (a learning-curve arm of the profile)
        assert dataclasses.replace(a, loss="mdc", snapshot_every_steps=b.snapshot_every_steps) == b
        curve = (n, rate) == (2, 8000)
        assert (b.snapshot_every_steps is not None, a.snapshot_every_steps) == (curve, None)
    with pytest.raises(ValueError, match="lacks the anechoic subsets"):
        mdc.study_models(get_profile("smoke", data={"subsets": [[2, "anechoic", 8000]]}))
    n_train, n_valid, _ = profile.data.secondary_sizes
    assert profile.data.n_train > n_train  # the main subset is bigger and gets cut
    for m in models:
        assert (len(m.job.train_set), len(m.job.valid_set)) == (n_train, n_valid), m.name

