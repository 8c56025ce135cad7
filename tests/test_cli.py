"""The ``bootsep`` command line: parsing, one-line errors, and train / separate / evaluate on the
smoke corpus (the slow tests train a smoke-size model in a temporary cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bootsep_lib import cli
from bootsep_lib.config import ModelConfig, TrainConfig, get_profile
from bootsep_lib.data import default_subset, open_split
from bootsep_lib.engine import LOSSES, RunConfig

REPO = Path(__file__).resolve().parents[1]


def _fail(capsys, argv: list[str]) -> str:
    """Run ``main(argv)``, expect exit status 2, return stderr."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bootsep {argv[0]}: error: ")
    return err


# --------------------------------------------------------------------------- parsing


def test_parser_description_is_the_cli_docstrings_first_line():
    assert cli.build_parser().description == cli.__doc__.splitlines()[0]


def test_train_defaults_are_notebook_03s_model():
    args = cli.build_parser().parse_args(["train"])
    assert (args.profile, args.targets, args.alpha, args.loss) == ("laptop", "spatial", 1.0, "dc")
    assert args.chimera_alpha is None and args.limit is None and args.device is None


def test_train_options_parse():
    args = cli.build_parser().parse_args(
        ["train", "--profile", "paper", "--targets", "ground_truth", "--alpha", "0.5", "--loss",
         "chimera", "--chimera-alpha", "0.9", "--limit", "100", "--jobs", "3", "--device", "cpu",
         "--threads", "1"])
    assert (args.profile, args.targets, args.alpha, args.loss) == (
        "paper", "ground_truth", 0.5, "chimera")
    assert (args.chimera_alpha, args.limit, args.jobs, args.device, args.threads) == (
        0.9, 100, 3, "cpu", 1)


def test_loss_choices_follow_the_trainer():
    assert cli.LOSS_CHOICES == LOSSES


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--loss", "pit"],
        ["train", "--alpha", "-1"],
        ["train", "--chimera-alpha", "1.5"],
        ["train", "--limit", "0"],
        ["train", "--targets", "oracle"],
        ["train", "--device", "tpu"],
        ["separate", "in.wav", "--out", "o"],  # --checkpoint missing
        ["separate", "in.wav", "--checkpoint", "c", "--out", "o", "--head", "pit"],
        ["evaluate", "--profile", "smoke"],  # --checkpoint missing
        ["evaluate", "--checkpoint", "r", "--split", "test"],
    ],
)
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "usage: bootsep" in capsys.readouterr().err


def test_other_subcommands_still_parse():
    args = cli.build_parser().parse_args(["separate", "in.wav", "--checkpoint", "run",
                                          "--out", "sep"])
    assert (args.input, args.checkpoint, args.out, args.head) == (
        Path("in.wav"), Path("run"), Path("sep"), "dc")
    args = cli.build_parser().parse_args(["evaluate", "--profile", "smoke", "--checkpoint", "r",
                                          "--bss", "--stoi"])
    assert (args.split, args.head, args.bss, args.stoi) == ("tt", "dc", True, True)
    assert cli.build_parser().parse_args(["make-data", "--profile", "smoke"]).command == (
        "make-data")
    assert cli.build_parser().parse_args(["run-all", "--only", "03"]).only == "03"


# --------------------------------------------------------------------------- errors


def test_train_without_data_names_the_make_data_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOOTSEP_DATA", str(tmp_path / "nothing"))
    err = _fail(capsys, ["train", "--profile", "smoke"])
    assert "`bootsep make-data --profile smoke`" in err


def test_chimera_alpha_needs_a_chimera_loss(capsys):
    err = _fail(capsys, ["train", "--profile", "smoke", "--chimera-alpha", "0.5"])
    assert "--chimera-alpha" in err and "chimera" in err


def test_separate_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    err = _fail(capsys, ["separate", str(bad), "--checkpoint", str(tmp_path), "--out",
                         str(tmp_path / "out")])
    assert "cannot be read as audio" in err
    err = _fail(capsys, ["separate", str(tmp_path / "missing.wav"), "--checkpoint",
                         str(tmp_path), "--out", str(tmp_path / "out")])
    assert "no such file" in err


def test_separate_missing_checkpoint(tmp_path, capsys):
    wav = tmp_path / "in.wav"
    sf.write(wav, np.random.default_rng(0).normal(scale=0.1, size=8000), 8000)
    err = _fail(capsys, ["separate", str(wav), "--checkpoint", str(tmp_path / "run"), "--out",
                         str(tmp_path / "out")])
    assert "no such checkpoint" in err
    assert not (tmp_path / "out").exists()


def test_evaluate_needs_a_finished_run(tmp_path, capsys):
    err = _fail(capsys, ["evaluate", "--profile", "smoke", "--checkpoint", str(tmp_path)])
    assert "best.pt" in err


def test_a_model_for_another_rate_or_speaker_count_is_refused():
    profile = get_profile("smoke")
    subset = default_subset(profile)  # 2 speakers, 8 kHz: 129 frequencies
    for n_sources, n_freqs in ((2, 257), (3, 129)):
        run = RunConfig(ModelConfig(), TrainConfig(), n_sources=n_sources, n_freqs=n_freqs)
        with pytest.raises(cli.UsageError, match="pick the matching profile"):
            cli._check_run_fits(run, profile, subset, "dc")
    run = RunConfig(ModelConfig(), TrainConfig())
    cli._check_run_fits(run, profile, subset, "dc")
    with pytest.raises(cli.UsageError, match="Chimera"):
        cli._check_run_fits(run, profile, subset, "mi")


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def trained(smoke_data, tmp_path_factory) -> Iterator[Path]:
    """Train the smoke profile's notebook-03 model through ``main`` in a private cache."""
    cache = tmp_path_factory.mktemp("cli_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOOTSEP_CACHE", str(cache))
        assert cli.main(["train", "--profile", "smoke", "--jobs", "1"]) == 0
        yield cache


def _run_dir(cache: Path) -> Path:
    (run_dir,) = (cache / "models").iterdir()
    return run_dir


@pytest.mark.slow
def test_train_end_to_end_then_cached(trained, capsys):
    run_dir = _run_dir(trained)
    assert (run_dir / "done").exists() and (run_dir / "best.pt").exists()
    assert cli.main(["train", "--profile", "smoke", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"run dir: {run_dir}" in out
    assert "cached: yes" in out
    assert "frames/s: " in out


@pytest.mark.slow
def test_separate_a_written_wav(trained, tmp_path, capsys):
    rate = get_profile("smoke").data.subsets[0][2]
    rng = np.random.default_rng(1)
    t = np.arange(int(1.5 * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)
    stereo = np.stack([signal, np.roll(signal, 3)], axis=1)
    wav = tmp_path / "two mics.wav"
    sf.write(wav, stereo, rate)
    assert cli.main(["separate", str(wav), "--checkpoint", str(_run_dir(trained)), "--out",
                     str(tmp_path / "sep")]) == 0
    out = capsys.readouterr().out
    assert "spatial stage on channels 1,2: mean confidence" in out
    assert "no confidence threshold" in out  # a run folder has no model card
    written = [line for line in out.split("\n") if line.endswith(".wav")]
    assert [Path(p).name for p in written] == [f"two mics_{kind}_s{k}.wav" for kind in
                                               ("spatial", "network") for k in (1, 2)]
    for path in written:
        est, est_rate = sf.read(path)
        assert est_rate == rate and est.shape == signal.shape and np.all(np.isfinite(est))

    wrong_rate = tmp_path / "wide.wav"
    sf.write(wrong_rate, signal, 2 * rate)
    err = _fail(capsys, ["separate", str(wrong_rate), "--checkpoint", str(_run_dir(trained)),
                         "--out", str(tmp_path / "sep")])
    assert "frequencies" in err
    err = _fail(capsys, ["separate", str(wav), "--checkpoint", str(_run_dir(trained)), "--out",
                         str(tmp_path / "sep"), "--head", "mi"])
    assert "Chimera" in err


@pytest.mark.slow
def test_evaluate_prints_means_with_cis(trained, capsys):
    run_dir = _run_dir(trained)
    assert cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(run_dir / "best.pt"),
                     "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    n_test = len(open_split(get_profile("smoke"), "tt", return_sources=False))
    assert f"({n_test} mixtures)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert {"si_sdr", "si_sdri", "si_sir", "si_sar"} <= set(lines)
    assert "[" in lines["si_sdr"] and "dB" in lines["si_sdr"]
    err = _fail(capsys, ["evaluate", "--profile", "smoke", "--checkpoint", str(run_dir),
                         "--head", "mi"])
    assert "Chimera" in err


@pytest.mark.slow
def test_torchrun_two_ranks_share_one_spatial_stage(smoke_data, tmp_path):
    """Under ``torchrun`` each rank computes half the spatial stage, rank 0 joins the halves;
    one rank prints."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BOOTSEP_CACHE": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "bootsep_lib.cli", "train", "--profile", "smoke", "--jobs", "1", "--device",
         "cpu", "--threads", "1"],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("run dir: ") == 1
    assert "cpu x 2" in proc.stdout
    stages = sorted(p.name for p in (tmp_path / "spatial").glob("*/*.csv"))
    assert stages == ["cv.csv", "tr.csv"]
    assert not list((tmp_path / "spatial").glob("*/shards/*.pkl"))  # joined, then removed
