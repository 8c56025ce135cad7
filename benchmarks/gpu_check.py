"""The GPU check: one bounded run, one ``PASS`` / ``FAIL`` / ``SKIP`` line per step.

Run it through ``benchmarks/gpu_check.sh`` (which also checks the set-up); by hand::

    PYTHONPATH=. python benchmarks/gpu_check.py [--cpu] [--budget SECONDS] [--work DIR]

Steps (each in its own process, with its own timeout):

``corpus``    ``bootsep make-data --profile smoke`` (2 speakers, 8 kHz) into a temp folder;
``spatial``   the spatial stage on its tr split, one job (seconds per mixture);
``train``     the paper shape (batch 40 x 400 frames, 4x300 BLSTM, AMP on CUDA) for a few
              steps: frames/s, peak memory, finite loss;
``resume``    a run stopped after K steps and resumed equals one never stopped;
``ddp_nccl``  ``torchrun --nproc_per_node=2`` with NCCL (needs 2 GPUs, else SKIP);
``ddp_gloo``  the same on CPU with Gloo;
``torchrun``  ``torchrun --standalone --nproc_per_node=1 -m bootsep_lib.cli train``;
``separate``  ``bootsep separate`` on a test mixture with the model of ``torchrun``.

Without CUDA (or with ``--cpu``) the CUDA steps are skipped where they need a GPU and run on
CPU at tiny sizes otherwise.  The last line is ``N passed, M failed``; the exit status is 1
when a step failed.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = ("corpus", "spatial", "train", "resume", "ddp_nccl", "ddp_gloo", "torchrun", "separate")
#: Share of the budget each step may use (its timeout); they sum to less than 1.
SHARES = {"corpus": 0.12, "spatial": 0.08, "train": 0.2, "resume": 0.15, "ddp_nccl": 0.1,
          "ddp_gloo": 0.12, "torchrun": 0.1, "separate": 0.08}
SUBSET = ("--speakers", "2", "--rate", "8000")


class Skip(Exception):
    """A step that cannot run here (its message says why)."""


# --------------------------------------------------------------------------- helpers


def _env(work: Path, cache: str) -> dict[str, str]:
    env = dict(os.environ, BOOTSEP_DATA=str(work / "data"), BOOTSEP_CACHE=str(work / cache),
               PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _run(cmd: list[str], work: Path, timeout: float, cache: str = "cache") -> str:
    """Run ``cmd`` (cache ``work/cache``); its stdout, or ``RuntimeError`` with the last
    stderr line."""
    proc = subprocess.run(cmd, cwd=REPO, env=_env(work, cache), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"exit {proc.returncode}: {tail[:200]}")
    return proc.stdout


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bootsep_lib.cli", *args]


def _torchrun(nproc: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "bootsep_lib.cli", *args]


def _split_dir(work: Path, split: str) -> Path:
    return work / "data" / "2speakers_anechoic" / "wav8k" / "min" / split


def _cuda(opts: argparse.Namespace) -> bool:
    import torch

    return not opts.cpu and torch.cuda.is_available()


# --------------------------------------------------------------------------- steps (in-process)


class _Repeat:
    """``base`` repeated to ``n`` items, so that a tiny corpus fills full batches."""

    def __init__(self, base, n: int) -> None:
        self.base, self.n = base, n
        self.tag, self.signal = base.tag, getattr(base, "signal", None)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        return self.base[index % len(self.base)]


def _shape(cuda: bool) -> tuple[dict, dict, int]:
    """``(model, train)`` overrides and the step count: the paper's on CUDA, tiny on CPU."""
    if cuda:
        return ({"layers": 4, "units": 300, "embedding_dim": 15},
                {"batch_size": 40, "crop_frames": 400, "epochs": 1}, 20)
    return ({"layers": 1, "units": 32, "embedding_dim": 10},
            {"batch_size": 4, "crop_frames": 100, "epochs": 1}, 4)


def _run_and_sets(cuda: bool, steps: int | None = None):
    import dataclasses

    from bootsep_lib.config import get_profile
    from bootsep_lib.data import TrainingSet
    from bootsep_lib.studies import run_config

    model, train, default_steps = _shape(cuda)
    profile = get_profile("smoke", model=model, train=train)
    tr = TrainingSet(profile, "tr")
    n_steps = steps or default_steps
    train_set = _Repeat(tr, train["batch_size"] * n_steps)
    valid_set = TrainingSet(profile, "cv")
    run = dataclasses.replace(run_config(profile, tr), max_steps=n_steps)
    return run, train_set, valid_set


def step_spatial(opts: argparse.Namespace, work: Path) -> str:
    from bootsep_lib.config import get_profile
    from bootsep_lib.studies.spatial_stage import spatial_stage

    profile = get_profile("smoke")
    start = time.perf_counter()
    stage = spatial_stage(profile, "tr", jobs=1)
    seconds = time.perf_counter() - start
    n = len(stage.table)
    return f"mixtures={n} seconds={seconds:.2f} s_per_mixture={seconds / n:.3f} jobs=1"


def step_train(opts: argparse.Namespace, work: Path) -> str:
    import torch

    from bootsep_lib.engine import train_model

    cuda = _cuda(opts)
    run, train_set, valid_set = _run_and_sets(cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = train_model(run, train_set, valid_set, cache_dir=work / "cache_train",
                         device="cuda" if cuda else "cpu", progress=False)
    losses = result.history["train_loss"].to_numpy()
    if not (len(losses) and math.isfinite(float(losses[-1]))) or result.nonfinite_steps:
        raise RuntimeError(f"loss not finite: {losses.tolist()}, "
                           f"{result.nonfinite_steps} non-finite steps")
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    tc = run.train
    return (f"device={'cuda' if cuda else 'cpu'} amp={cuda} batch={tc.batch_size} "
            f"crop={tc.crop_frames} blstm={run.model.layers}x{run.model.units} "
            f"steps={result.steps_run} frames_per_s={result.frames_per_second:.0f} "
            f"peak_mem_gib={peak:.2f} loss={float(losses[-1]):.4f}")


def _weights(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def step_resume(opts: argparse.Namespace, work: Path) -> str:
    from bootsep_lib.engine import train_model

    cuda = _cuda(opts)
    run, train_set, valid_set = _run_and_sets(cuda, steps=6)
    dev = "cuda" if cuda else "cpu"
    common = {"device": dev, "progress": False}
    whole = train_model(run, train_set, valid_set, cache_dir=work / "cache_whole", **common)
    part = train_model(run, train_set, valid_set, cache_dir=work / "cache_part",
                       stop_after_steps=3, **common)
    if part.finished:
        raise RuntimeError("the run stopped after 3 steps is marked finished")
    rest = train_model(run, train_set, valid_set, cache_dir=work / "cache_part", **common)
    a, b = _weights(whole.last_checkpoint), _weights(rest.last_checkpoint)
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    tolerance = 1e-3 if cuda else 0.0  # cuDNN is not bitwise reproducible
    if diff > tolerance:
        raise RuntimeError(f"resumed weights differ by {diff:g} (> {tolerance:g})")
    return f"device={dev} steps=3+{rest.steps_run} max_abs_weight_diff={diff:.3g}"


# --------------------------------------------------------------------------- steps (commands)


def step_corpus(opts: argparse.Namespace, work: Path, timeout: float) -> str:
    import soundfile as sf

    start = time.perf_counter()
    _run(_cli("make-data", "--profile", "smoke", *SUBSET, "--jobs", str(opts.jobs)), work,
         timeout)
    seconds = time.perf_counter() - start
    mixes = sorted(_split_dir(work, "tr").glob("mix/*.wav"))
    n = sum(len(list(_split_dir(work, s).glob("mix/*.wav"))) for s in ("tr", "cv", "tt"))
    mean_len = sum(sf.info(str(p)).duration for p in mixes) / max(1, len(mixes))
    size = sum(p.stat().st_size for p in (work / "data").rglob("*.wav"))
    return (f"mixtures={n} seconds={seconds:.1f} s_per_mixture={seconds / max(1, n):.3f} "
            f"jobs={opts.jobs} mean_tr_mix_s={mean_len:.2f} wav_bytes={size}")


def _train_args(cuda: bool) -> list[str]:
    return ["train", "--profile", "smoke", "--targets", "ground_truth", "--max-steps", "2",
            "--device", "cuda" if cuda else "cpu"]


def step_ddp_nccl(opts: argparse.Namespace, work: Path, timeout: float) -> str:
    import torch

    if not _cuda(opts) or torch.cuda.device_count() < 2:
        raise Skip("needs 2 CUDA devices")
    return _run_line(_run(_torchrun(2, *_train_args(True)), work, timeout, cache="cache_nccl"))


def step_ddp_gloo(opts: argparse.Namespace, work: Path, timeout: float) -> str:
    cmd = _torchrun(2, *_train_args(False), "--threads", "1")
    return _run_line(_run(cmd, work, timeout, cache="cache_gloo"))


def step_torchrun(opts: argparse.Namespace, work: Path, timeout: float) -> str:
    out = _run(_torchrun(1, *_train_args(_cuda(opts))), work, timeout)
    run_dir = next(line.split(": ", 1)[1] for line in out.splitlines()
                   if line.startswith("run dir: "))
    (work / "torchrun_run_dir").write_text(run_dir)
    return _run_line(out)


def _run_line(out: str) -> str:
    """The CLI's summary as ``key=value`` pairs."""
    keep = {"cached", "epochs", "frames/s", "stopped"}
    pairs = [line.split(": ", 1) for line in out.splitlines() if ": " in line]
    return " ".join(f"{k.replace('/', '_per_')}={v.replace(' ', '_')}" for k, v in pairs
                    if k in keep)


def step_separate(opts: argparse.Namespace, work: Path, timeout: float) -> str:
    marker = work / "torchrun_run_dir"
    if not marker.exists():
        raise Skip("no model: the torchrun step did not finish")
    mix = sorted(_split_dir(work, "tt").glob("mix/*.wav"))[0]
    dev = "cuda" if _cuda(opts) else "cpu"
    out = _run(_cli("separate", str(mix), "--checkpoint", marker.read_text().strip(),
                    "--out", str(work / "separated"), "--device", dev), work, timeout)
    # mono: the network's 2 estimates; multichannel (no model card): spatial + network, 4
    written = [Path(line) for line in out.splitlines() if line.endswith(".wav")]
    if len(written) not in (2, 4) or not all(p.stat().st_size > 0 for p in written):
        raise RuntimeError(f"expected 2 or 4 non-empty WAVs, got {written}")
    return f"device={dev} input={mix.name} outputs={len(written)}"


IN_PROCESS = {"spatial": step_spatial, "train": step_train, "resume": step_resume}
COMMANDS = {"corpus": step_corpus, "ddp_nccl": step_ddp_nccl, "ddp_gloo": step_ddp_gloo,
            "torchrun": step_torchrun, "separate": step_separate}


# --------------------------------------------------------------------------- driver


def _one_in_child(name: str, opts: argparse.Namespace, work: Path, timeout: float) -> str:
    """Run an in-process step in a child process (its own timeout); its result line."""
    cmd = [sys.executable, __file__, "--child", name, "--work", str(work), "--jobs",
           str(opts.jobs)] + (["--cpu"] if opts.cpu else [])
    return _run(cmd, work, timeout).strip().splitlines()[-1]


def run_step(name: str, opts: argparse.Namespace, work: Path) -> str:
    """One step's ``PASS`` / ``FAIL`` / ``SKIP`` line."""
    timeout = max(10.0, SHARES[name] * opts.budget)
    try:
        if name in IN_PROCESS:
            return _one_in_child(name, opts, work, timeout)
        return f"PASS {name} {COMMANDS[name](opts, work, timeout)}"
    except Skip as why:
        return f"SKIP {name} {why}"
    except subprocess.TimeoutExpired:
        return f"FAIL {name} timed out after {timeout:.0f} s"
    except Exception as exc:  # a step's failure is a line, not a crash of the check
        return f"FAIL {name} {type(exc).__name__}: {str(exc)[:300]}"


def _child(opts: argparse.Namespace) -> int:
    """``--child NAME``: run one in-process step and print its line."""
    try:
        print(f"PASS {opts.child} {IN_PROCESS[opts.child](opts, opts.work)}")
    except Exception as exc:  # reported by the parent as a FAIL line
        print(f"FAIL {opts.child} {type(exc).__name__}: {str(exc)[:300]}")
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="CPU only, tiny sizes")
    p.add_argument("--budget", type=float, default=480.0, help="total seconds (default 480)")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temp one)")
    p.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of steps")
    p.add_argument("--prior", default="0,0", help="passed,failed of steps run before (setup)")
    p.add_argument("--child", choices=sorted(IN_PROCESS), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    if opts.child:
        return _child(opts)
    passed, failed = (int(x) for x in opts.prior.split(","))
    with tempfile.TemporaryDirectory(prefix="bootsep_gpu_check_") as tmp:
        work = opts.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in opts.steps.split(","):
            line = run_step(name, opts, work)
            print(line, flush=True)
            passed += line.startswith("PASS")
            failed += line.startswith("FAIL")
    print(f"INFO date={time.strftime('%Y-%m-%d')} cpu_only={opts.cpu}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
