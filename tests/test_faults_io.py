"""Bad input and faults on the command line (issue 14, items 1-6, 13, 14): each is one line on
stderr with exit status 2 (or argparse's usage error), naming the file and the problem."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from test_train import RandomItems, _run

import bootsep_lib.separate as separate_mod
from bootsep_lib import cli, paths, studies
from bootsep_lib.config import ModelConfig, TrainConfig, get_profile
from bootsep_lib.data import DatasetError, MixtureDataset, TrainingSet, default_subset
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.engine.checkpoint import save_best
from bootsep_lib.models import build_model
from bootsep_lib.studies import evaluation

REPO = Path(__file__).resolve().parents[1]
RATE = 8000
SIGNAL = {"sample_rate": RATE, "window_ms": 32.0, "hop_ms": 8.0}


def _fail(capsys, argv: list[str]) -> str:
    """Run ``main(argv)``: exit status 2, one ``bootsep <cmd>: error:`` line; return stderr."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bootsep {argv[0]}: error: ")
    assert "Traceback" not in err and err.count("\n") == 1
    return err


def _usage(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: bootsep" in err
    return err


def _checkpoint(path: Path, signal: dict | None = SIGNAL, nan: bool = False) -> Path:
    """A small untrained 2-source, 129-frequency (8 kHz) network saved as a checkpoint."""
    run = RunConfig(ModelConfig(layers=1, units=8, embedding_dim=4), TrainConfig(epochs=1),
                    n_sources=2, n_freqs=129)
    torch.manual_seed(0)
    model = build_model(run.model_kind, run.n_freqs, run.model, run.n_sources)
    if nan:
        with torch.no_grad():
            next(model.parameters()).view(-1)[0] = float("nan")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_best(path, run, model, epoch=1, valid_loss=1.0, signal=signal)
    return path


def _wav(path: Path, rate: int = RATE, seconds: float = 0.5) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).normal(size=t.size)
    sf.write(path, np.stack([x, np.roll(x, 2)], axis=1), rate, subtype="FLOAT")
    return path


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return _checkpoint(tmp_path / "run" / "best.pt")


def _separate_argv(wav: Path, checkpoint: Path, out: Path, *extra: str) -> list[str]:
    return ["separate", str(wav), "--checkpoint", str(checkpoint), "--out", str(out), *extra]


# --------------------------------------------------------------------------- 1 truncated WAV


def test_1_truncated_wav_names_the_file_and_both_counts(tmp_path, ckpt, capsys):
    whole = _wav(tmp_path / "whole.wav")
    cut = tmp_path / "cut.wav"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) - 1601 * 8])  # 1,601 stereo float frames cut off
    assert sf.info(str(cut)).frames == 4000 - 1601  # libsndfile reads what is left, silently
    err = _fail(capsys, _separate_argv(cut, ckpt, tmp_path / "out"))
    assert str(cut) in err and "truncated" in err
    assert "declares 4000 frames" in err and "only 2399 are present" in err
    assert cli.main(_separate_argv(whole, ckpt, tmp_path / "out")) == 0  # the whole file works


# --------------------------------------------------------------------------- 2 output folder


@pytest.fixture
def no_inference(monkeypatch):
    """Fail the test if the network runs: the output folder must be probed before."""
    def refuse(*args, **kwargs):
        raise AssertionError("inference ran before the output folder was checked")

    monkeypatch.setattr(separate_mod, "separate", refuse)


def test_2_out_is_a_file_or_below_a_file(tmp_path, ckpt, capsys, no_inference):
    wav = _wav(tmp_path / "in.wav")
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    err = _fail(capsys, _separate_argv(wav, ckpt, a_file))
    assert f"{a_file} is a file, not a folder" in err
    below = a_file / "sub" / "out"
    err = _fail(capsys, _separate_argv(wav, ckpt, below))
    assert f"{below} cannot be created: {a_file} is a file" in err


def test_2_out_cannot_be_created_or_written(tmp_path, ckpt, capsys, no_inference, monkeypatch):
    wav = _wav(tmp_path / "in.wav")
    err = _fail(capsys, _separate_argv(wav, ckpt, Path("/proc/bootsep-no-such/out")))
    assert "/proc/bootsep-no-such/out cannot be created" in err

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("bootsep_lib.util.folders.tempfile.TemporaryFile", denied)
    err = _fail(capsys, _separate_argv(wav, ckpt, tmp_path / "ro"))
    assert f"{tmp_path / 'ro'} is not writable (Permission denied)" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_2_out_read_only_folder(tmp_path, ckpt, capsys, no_inference):
    wav = _wav(tmp_path / "in.wav")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    err = _fail(capsys, _separate_argv(wav, ckpt, ro))
    assert f"{ro} is not writable" in err


# --------------------------------------------------------------------------- 3 full disk


def _full_on_second(monkeypatch, error: Exception) -> None:
    calls = []
    real = separate_mod.write_audio

    def write(path, audio, rate):
        calls.append(path)
        if len(calls) == 2:
            raise error
        real(path, audio, rate)

    monkeypatch.setattr(separate_mod, "write_audio", write)


def test_3_full_disk_leaves_no_output(tmp_path, ckpt, capsys, monkeypatch):
    wav = _wav(tmp_path / "in.wav")
    out = tmp_path / "out"
    _full_on_second(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    err = _fail(capsys, _separate_argv(wav, ckpt, out))
    assert f"no space left on {out / 'in_spatial_s2.wav'}" in err  # stereo: spatial first
    assert list(out.iterdir()) == []  # no s1 without s2, no temporary file


def test_3_libsndfile_system_error_on_a_full_disk(tmp_path, ckpt, capsys, monkeypatch):
    wav = _wav(tmp_path / "in.wav")
    out = tmp_path / "out"
    _full_on_second(monkeypatch, sf.LibsndfileError(2, "Error writing: "))  # "System error."
    monkeypatch.setattr(separate_mod.shutil, "disk_usage", lambda p: SimpleNamespace(free=0))
    err = _fail(capsys, _separate_argv(wav, ckpt, out))
    assert f"no space left on {out / 'in_spatial_s2.wav'}" in err  # stereo: spatial first
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- 4 NaN weights


def test_4_nan_weights_are_refused_at_load(tmp_path, capsys, no_inference):
    bad = _checkpoint(tmp_path / "run" / "best.pt", nan=True)
    err = _fail(capsys, _separate_argv(_wav(tmp_path / "in.wav"), bad, tmp_path / "out"))
    assert str(bad) in err and "NaN or infinite weights" in err
    assert not (tmp_path / "out").exists()


class _NaNNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.full((*features.shape, 4), float("nan"))


def test_4_non_finite_embeddings_stop_before_kmeans():
    mix = np.random.default_rng(0).normal(size=4000).astype(np.float32)
    with pytest.raises(ValueError, match="NaN or infinite embeddings in 8,?[0-9]+ of"):
        separate_mod.separate(_NaNNet(), mix, RATE, n_sources=2)


# --------------------------------------------------------------------------- 5 --device cuda


def test_5_device_cuda_without_cuda(tmp_path, ckpt, capsys, monkeypatch, no_inference):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _fail(capsys, _separate_argv(_wav(tmp_path / "in.wav"), ckpt, tmp_path / "out",
                                       "--device", "cuda"))
    assert "--device cuda: no CUDA device is visible to torch" in err
    # the same check as train's
    err = _fail(capsys, ["train", "--profile", "smoke", "--device", "cuda"])
    assert "--device cuda: no CUDA device" in err


# --------------------------------------------------------------------------- 6 make-data


def test_6_make_data_root_is_a_file_or_below_one(tmp_path, capsys):
    a_file = tmp_path / "corpus"
    a_file.write_text("x")
    err = _fail(capsys, ["make-data", "--profile", "smoke", "--root", str(a_file)])
    assert f"--root {a_file} is a file, not a folder" in err
    err = _fail(capsys, ["make-data", "--profile", "smoke", "--root", str(a_file / "d")])
    assert f"--root {a_file / 'd'} cannot be created: {a_file} is a file" in err


def test_6_engine_error_is_one_line_rc_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bootsep_lib.cli", "make-data", "--profile", "smoke",
         "--engine", "no-such-engine", "--root", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("bootsep make-data: error: unknown speech engine "
                                  "'no-such-engine'")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_6_full_disk_in_any_command_is_one_line(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "d" / "x.wav"))

    monkeypatch.setattr("bootsep_lib.data.build_all", full)
    err = _fail(capsys, ["make-data", "--profile", "smoke", "--root", str(tmp_path / "d")])
    assert f"no space left on {tmp_path / 'd' / 'x.wav'}" in err


# --------------------------------------------------------------------------- 13 jobs, --only


@pytest.mark.parametrize("argv", [["make-data", "--jobs", "0"], ["make-data", "--jobs", "-2"],
                                  ["run-all", "--jobs", "0"], ["run-all", "--jobs", "-1"]])
def test_13_jobs_must_be_positive(argv, capsys):
    assert "must be a positive integer" in _usage(capsys, argv)


@pytest.fixture
def no_build(monkeypatch, tmp_path):
    """Fail if the corpus is built; keep the manifest in ``tmp_path``."""
    def refuse(*args, **kwargs):
        raise AssertionError("the corpus was built before --only was checked")

    monkeypatch.setattr("bootsep_lib.data.build_all", refuse)
    monkeypatch.setattr(paths, "figures_dir", lambda: tmp_path / "figures")
    return tmp_path / "figures" / "manifest.json"


@pytest.mark.parametrize("only, message", [
    ("99", "--only: no notebook numbered 99 in "),
    ("", "--only '': give notebook numbers"),
    (" , ", "--only ' , ': give notebook numbers"),
])
def test_13_only_is_checked_before_any_work(only, message, capsys, no_build):
    err = _fail(capsys, ["run-all", "--profile", "smoke", "--only", only])
    assert message in err
    assert not no_build.exists()
    from bootsep_lib.runall import main_run_all  # the library entry point checks first too

    with pytest.raises(SystemExit, match="--only"):
        main_run_all(get_profile("smoke"), 1, only)


# --------------------------------------------------------------------------- 14 smaller


def test_14_evaluate_uses_the_given_checkpoint(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    last = _checkpoint(run_dir / "last.pt")  # no best.pt beside it
    seen = {}

    def fake_evaluate(profile, run, **kwargs):
        seen.update(run_dir=run, **kwargs)
        return pd.DataFrame({c: [1.0, 2.0, 3.0] for c in evaluation.METRIC_COLUMNS})

    monkeypatch.setattr(studies, "evaluate_model", fake_evaluate)
    monkeypatch.setattr(cli, "_check_corpus", lambda profile, splits: None)
    assert cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(last)]) == 0
    assert seen["checkpoint"] == last and seen["run_dir"] == run_dir
    err = _fail(capsys, ["evaluate", "--profile", "smoke", "--checkpoint",
                         str(run_dir / "nope.pt")])
    assert f"{run_dir / 'nope.pt'}: no such checkpoint" in err


def test_14_evaluation_cache_key_names_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluation, "cached_table", lambda path, compute: path)
    run_dir = tmp_path / "run"
    best, last = _checkpoint(run_dir / "best.pt"), _checkpoint(run_dir / "last.pt")
    profile = get_profile("smoke")
    default = evaluation.evaluate_model(profile, run_dir)
    assert evaluation.evaluate_model(profile, run_dir, checkpoint=best) == default
    assert evaluation.evaluate_model(profile, run_dir, checkpoint=last) != default


def test_14_corpus_root_that_is_a_file(tmp_path):
    a_file = tmp_path / "corpus.zip"
    a_file.write_text("x")
    with pytest.raises(DatasetError, match=f"corpus root {a_file} is a file, not a folder"):
        MixtureDataset(a_file, "tr")


def test_14_recorded_rate_is_compared_exactly(tmp_path, ckpt, capsys):
    odd = _wav(tmp_path / "odd.wav", rate=8015)  # the same 129 frequencies as 8000 Hz
    err = _fail(capsys, _separate_argv(odd, ckpt, tmp_path / "out"))
    assert str(odd) in err and "trained on 8000 Hz audio" in err and "got 8015 Hz" in err
    old = _checkpoint(tmp_path / "old" / "best.pt", signal=None)  # no signal: bin count only
    assert cli.main(_separate_argv(odd, old, tmp_path / "out")) == 0
    err = _fail(capsys, _separate_argv(_wav(tmp_path / "wide.wav", rate=16000), old,
                                       tmp_path / "out"))
    assert "frequencies" in err


def test_14_training_set_signal_is_recorded_not_part_of_the_run(tmp_path):
    profile = get_profile("smoke")
    ts = TrainingSet.__new__(TrainingSet)  # no corpus needed for the identity
    ts.profile, ts.subset = profile, default_subset(profile)
    assert ts.signal == {"sample_rate": ts.subset.sample_rate,
                         "window_ms": profile.spatial.window_ms,
                         "hop_ms": profile.spatial.hop_ms}

    class WithSignal(RandomItems):
        signal = SIGNAL

    plain = train_model(_run(epochs=1), RandomItems(8, 0), RandomItems(3, 1),
                        cache_dir=tmp_path / "a", progress=False)
    signed = train_model(_run(epochs=1), WithSignal(8, 0), RandomItems(3, 1),
                         cache_dir=tmp_path / "b", progress=False)
    assert plain.run_dir.name == signed.run_dir.name  # not in the run id
    a, b = (torch.load(r.best_checkpoint, weights_only=True) for r in (plain, signed))
    assert a["signal"] is None and b["signal"] == SIGNAL
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert json.loads((signed.run_dir / "config.json").read_text())["run_id"] == (
        signed.run_dir.name)
