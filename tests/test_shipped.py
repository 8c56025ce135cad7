"""Shipped models: export from a run's cache with model cards, found by name, ``separate
--model`` on mono and stereo recordings made outside the corpus, ``--pretrained`` installs, and
the shipped models of ``models/`` against their cards' test scores."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyroomacoustics as pra
import pytest
import soundfile as sf
import torch

from bootsep_lib import cli, paths
from bootsep_lib.config import get_profile
from bootsep_lib.engine import train_model
from bootsep_lib.models import load_model
from bootsep_lib.shipped import find_model, read_card, render_card, shipped_names
from bootsep_lib.shipped.cards import CARD_FIELDS, ModelNotFound
from bootsep_lib.shipped.export import SHIPPED, export_models, precision_check, shipped_job
from bootsep_lib.shipped.pretrained import install_shipped
from bootsep_lib.studies import evaluate_model, train_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMOKE = get_profile("smoke")


def test_precision_check_against_a_direct_difference():
    import pandas as pd

    full = pd.DataFrame({"id": ["a", "b", "c"], "si_sdr": [1.0, 2.0, 3.0]})
    half = pd.DataFrame({"id": ["c", "a", "b"], "si_sdr": [3.03, 0.99, 2.0]})
    got = precision_check(full, half, limit_db=0.05)
    assert got["mean_si_sdr_change"] == pytest.approx((0.03 - 0.01) / 3)
    assert got["max_abs_change"] == pytest.approx(0.03) and got["half_ok"]
    assert not precision_check(full, half.assign(si_sdr=half["si_sdr"] + 0.1))["half_ok"]
    with pytest.raises(ValueError):
        precision_check(full, half.iloc[:2])


def test_unknown_model_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ModelNotFound, match="shipped: none"):
        find_model("laptop-alpha1", tmp_path)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, smoke_data):
    """The smoke profile's shipped models, exported from its cache into a temporary folder."""
    jobs = [shipped_job(spec, SMOKE)[0] for spec in SHIPPED]
    train_many(jobs, jobs=2, progress=False)
    out = tmp_path_factory.mktemp("models")
    figures = tmp_path_factory.mktemp("figures")
    (figures / "manifest.json").write_text(json.dumps(
        {"notebooks": {"04_alpha_sweep": {"git_commit": "abc1234", "profile": "smoke"},
                   "06_mdc": {"git_commit": "fff0000", "profile": "laptop"}}}))
    written = export_models(SMOKE, out, figures=figures, jobs=2)
    return out, written, jobs


@pytest.mark.slow
def test_export_writes_checkpoints_cards_and_rendered_cards(shipped):
    out, written, jobs = shipped
    names = [f"smoke-{spec.suffix}" for spec in SHIPPED]
    assert shipped_names(out) == sorted(names) and [p.stem for p in written] == names
    for name, job in zip(names, jobs, strict=True):
        checkpoint, card = find_model(name, out)
        assert set(CARD_FIELDS) <= set(card) and card["config_id"] == job.run.run_id
        assert (out / f"{name}.md").read_text() == render_card(card)
        assert card["commit"] == "abc1234" and card["profile"] == "smoke"
        prec = card["precision"]
        assert prec["dtype"] == ("float16" if abs(prec["mean_si_sdr_change"]) <= 0.05
                                 else "float32")
        stored = torch.load(checkpoint, weights_only=True)["model"]
        assert {str(v.dtype) for v in stored.values() if v.is_floating_point()} == {
            f"torch.{prec['dtype']}"}
        s = card["test_scores"]["si_sdr"]
        assert s["low"] <= s["mean"] <= s["high"] and card["n_test"] > 0
        assert 0.0 <= card["confidence_threshold"] <= 1.0
        assert card["steps"] > 0 and card["stop_reason"] in ("epochs", "early_stop", "max_steps")


@pytest.mark.slow
def test_retrain_commands_of_the_cli_give_the_cards_config_ids(shipped):
    out, _, jobs = shipped
    for spec, job in zip(SHIPPED, jobs, strict=True):
        card = read_card(out / f"smoke-{spec.suffix}.json")
        if not card["retrain"].startswith("bootsep train"):
            continue
        args = cli.build_parser().parse_args(card["retrain"].split()[1:])
        train_set, _ = cli._training_sets(SMOKE, args)
        from bootsep_lib.studies import run_config

        assert run_config(SMOKE, train_set, loss=args.loss).run_id == job.run.run_id


def _voices(rate: int, seconds: float, rng) -> np.ndarray:
    """Two harmonic 'voices' with syllable-like envelopes, (2, samples)."""
    t = np.arange(int(seconds * rate)) / rate
    out = []
    for f0, syll in ((130.0, 3.1), (210.0, 4.3)):
        pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
        phase = 2 * np.pi * np.cumsum(pitch) / rate
        tone = sum(np.sin(k * phase) / k for k in range(1, 12))
        env = np.clip(np.sin(2 * np.pi * syll * t + rng.uniform(0, 6)), 0, None) ** 2
        out.append(tone * env + 1e-3 * rng.normal(size=t.size))
    return np.array(out)


def _room_recording(rate: int, seconds: float = 2.0) -> np.ndarray:
    """A 2-mic anechoic recording of two sources made with pyroomacoustics (not the corpus)."""
    rng = np.random.default_rng(7)
    room = pra.AnechoicRoom(fs=rate)
    mics = np.array([[2.0, 2.1], [2.0, 2.0], [1.5, 1.5]])  # 10 cm apart
    room.add_microphone_array(mics)
    for source, pos in zip(_voices(rate, seconds, rng), ([0.5, 3.5, 1.5], [3.8, 1.2, 1.5]),
                           strict=True):
        room.add_source(pos, signal=source)
    room.simulate()
    rec = room.mic_array.signals[:, : int(seconds * rate)]
    return 0.5 * rec / np.abs(rec).max()


def _run(capsys, argv) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_separate_by_name_on_mono_and_stereo_recordings(shipped, tmp_path, capsys,
                                                        monkeypatch):
    out, _, _ = shipped
    monkeypatch.setenv("BOOTSEP_MODELS", str(out))
    card = read_card(out / "smoke-alpha1.json")
    rate = card["sample_rate"]
    stereo = _room_recording(rate)
    sf.write(tmp_path / "room.wav", stereo.T, rate)
    sf.write(tmp_path / "mono.wav", stereo[0], rate)
    base = ["separate", "--model", "smoke-alpha1", "--out", str(tmp_path / "sep")]

    code, text, _ = _run(capsys, [*base, str(tmp_path / "mono.wav")])
    assert code == 0 and "mono input: the single-channel network alone" in text
    assert [p.rsplit("/", 1)[-1] for p in text.split()[-2:]] == ["mono_s1.wav", "mono_s2.wav"]

    code, text, _ = _run(capsys, [*base, str(tmp_path / "room.wav")])
    assert code == 0 and "spatial stage on channels 1,2: mean confidence" in text
    conf = float(text.split("mean confidence ")[1].split()[0])
    chosen = "spatial" if conf > card["confidence_threshold"] else "network"
    assert f"it takes the {chosen} estimates" in text and "model card smoke-alpha1" in text
    names = sorted(p.name for p in (tmp_path / "sep").glob("room_*.wav"))
    assert names == sorted(f"room_{s}_s{k}.wav" for s in ("spatial", "network", "ensemble")
                           for k in (1, 2))
    ens, _ = sf.read(tmp_path / "sep" / "room_ensemble_s1.wav")
    picked, _ = sf.read(tmp_path / "sep" / f"room_{chosen}_s1.wav")
    assert ens.shape == (stereo.shape[1],) and np.array_equal(ens, picked)


@pytest.mark.slow
def test_separate_errors_and_resampling(shipped, tmp_path, capsys, monkeypatch):
    out, _, _ = shipped
    monkeypatch.setenv("BOOTSEP_MODELS", str(out))
    rate = read_card(out / "smoke-alpha1.json")["sample_rate"]
    rec = _room_recording(2 * rate)
    sf.write(tmp_path / "wide.wav", rec.T, 2 * rate)
    base = ["separate", "--model", "smoke-alpha1", "--out", str(tmp_path / "sep")]
    code, _, err = _run(capsys, [*base, str(tmp_path / "wide.wav")])
    assert code == 2 and f"{2 * rate} Hz" in err and f"{rate} Hz" in err and "--resample" in err
    code, text, _ = _run(capsys, [*base, str(tmp_path / "wide.wav"), "--resample"])
    assert code == 0 and "mean confidence" in text
    code, _, err = _run(capsys, [*base, str(tmp_path / "wide.wav"), "--resample", "--pair", "1,3"])
    assert code == 2 and "channels 1..2, not 3" in err and len(err.strip().splitlines()) == 1
    sf.write(tmp_path / "silent.wav", np.zeros((rate, 2)), rate)
    code, _, err = _run(capsys, [*base, str(tmp_path / "silent.wav")])
    assert code == 2 and "silent" in err
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    code, _, err = _run(capsys, [*base, str(tmp_path / "bad.wav")])
    assert code == 2 and "cannot be read as audio" in err
    code, _, err = _run(capsys, ["separate", "--model", "nope", str(tmp_path / "wide.wav"),
                                 "--out", str(tmp_path / "sep")])
    assert code == 2 and "smoke-alpha1" in err


@pytest.mark.slow
def test_pretrained_installs_only_where_the_config_id_matches(shipped, tmp_path):
    out, _, jobs = shipped
    cache = tmp_path / "cache"
    done = install_shipped(out, cache, log=lambda s: None)
    assert {d.action for d in done} == {"installed"}
    job = jobs[0]  # alpha = 1
    result = train_model(job.run, job.train_set, job.valid_set, cache_dir=cache, progress=False)
    assert result.cached  # nothing trained: the shipped model stands in
    shipped_model, _ = load_model(out / "smoke-alpha1.pt", device="cpu")
    installed, _ = load_model(result.best_checkpoint, device="cpu")
    for a, b in zip(shipped_model.state_dict().values(), installed.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    other = dataclasses.replace(job.run, train=dataclasses.replace(job.run.train, epochs=3))
    assert not (cache / "models" / other.run_id).exists()  # another config id: it would train
    assert {d.action for d in install_shipped(out, cache, log=lambda s: None)} == {
        "already cached"}
    card = json.loads((out / "smoke-alpha1.json").read_text())
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "smoke-alpha1.pt").write_bytes((out / "smoke-alpha1.pt").read_bytes())
    (stale / "smoke-alpha1.json").write_text(json.dumps({**card, "config_id": "0" * 12}))
    (action,) = [d.action for d in install_shipped(stale, tmp_path / "c2", log=lambda s: None)]
    assert action.startswith("skipped")


def _corpus_present(profile) -> bool:
    from bootsep_lib.data import DatasetError, open_split

    try:
        open_split(profile, "tt", return_sources=False)
    except DatasetError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("name", [f"laptop-{spec.suffix}" for spec in SHIPPED])
def test_shipped_model_reproduces_its_cards_test_scores(name, tmp_path):
    assert name in shipped_names(), f"{name} is not in {paths.models_dir()} (committed models)"
    _, card = find_model(name)
    profile = get_profile(card["profile"])
    if not _corpus_present(profile):
        pytest.skip(f"the {card['profile']} corpus is not built here "
                    f"(`bootsep make-data --profile {card['profile']}`): cannot check {name}")
    (spec,) = [s for s in SHIPPED if name == f"{profile.name}-{s.suffix}"]
    install_shipped(paths.models_dir(), tmp_path, log=lambda s: None)
    _, eval_kwargs = shipped_job(spec, profile)
    table = evaluate_model(profile, tmp_path / "models" / card["config_id"], split="tt",
                           progress=False, **eval_kwargs)
    assert len(table) == card["n_test"]
    tolerance = card["precision"]["limit_db"] + 1e-6
    assert abs(table["si_sdr"].mean() - card["test_scores"]["si_sdr"]["mean"]) <= tolerance


@pytest.mark.slow
def test_run_all_pretrained_installs_before_the_notebooks(shipped, tmp_path, monkeypatch):
    out, _, jobs = shipped
    monkeypatch.setenv("BOOTSEP_MODELS", str(out))
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path / "cache"))
    seen = []

    def fake_run_all(profile, n_jobs, only):  # what the notebooks would find in the cache
        seen.extend((tmp_path / "cache" / "models" / j.run.run_id / "done").exists()
                    for j in jobs)
        return 0

    import bootsep_lib.runall as runall

    monkeypatch.setattr(runall, "main_run_all", fake_run_all)
    assert cli.main(["run-all", "--profile", "smoke", "--only", "05", "--pretrained"]) == 0
    assert seen == [True, True, True]
    assert cli.main(["run-all", "--profile", "smoke", "--only", "05"]) == 0  # no flag: no install
