"""Long runs fail early and loudly, and data parallelism keeps the recipe of one process.

Non-finite steps (with and without a grad scaler), their limit, resume with another number of
CUDA generators, ``max_steps`` (keyword and ``--max-steps``), the global batch split over ranks,
and ``torchrun --nproc_per_node=2`` against one process on the same global batches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import REPO, RandomItems, _run, _weights

from bootsep_lib import cli
from bootsep_lib.engine import checkpoint, session, steps, train_model
from bootsep_lib.engine.batches import EpochBatches, rank_slice, validation_batches
from bootsep_lib.engine.config import ENGINE_VERSION
from bootsep_lib.util.cache import stage_key

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data() -> tuple[RandomItems, RandomItems]:
    return RandomItems(12, seed=0), RandomItems(5, seed=1)


def _nan_at(monkeypatch: pytest.MonkeyPatch, at: set[int] | None) -> None:
    """Make the training loss NaN at the given 0-based steps (``None``: always)."""
    real = steps.batch_loss
    calls = {"train": 0}

    def loss(net, batch, run, loss_fn):
        value = real(net, batch, run, loss_fn)
        if not net.training:
            return value
        step, calls["train"] = calls["train"], calls["train"] + 1
        return value * float("nan") if at is None or step in at else value

    monkeypatch.setattr(steps, "batch_loss", loss)


def _with_scaler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train with an enabled grad scaler (as under AMP on CUDA), on CPU."""
    real = session._build

    def build(run, dev):
        model, training = real(run, dev)
        training["scaler"] = torch.amp.GradScaler("cpu", init_scale=2.0**4, enabled=True)
        return model, training

    monkeypatch.setattr(session, "_build", build)


@pytest.mark.parametrize("scaler", [False, True])
def test_nonfinite_steps_are_skipped_and_counted(tmp_path, data, monkeypatch, scaler) -> None:
    if scaler:
        _with_scaler(monkeypatch)
    _nan_at(monkeypatch, {1, 4})
    result = train_model(_run(), *data, cache_dir=tmp_path, progress=False)
    assert result.finished and result.nonfinite_steps == 2 and result.steps_run == 9
    assert np.isfinite(result.history["train_loss"]).all()
    for value in _weights(result.last_checkpoint).values():
        assert torch.isfinite(value).all()
    assert json.loads((result.run_dir / "done").read_text())["nonfinite_steps"] == 2


@pytest.mark.parametrize("scaler", [False, True])
def test_too_many_nonfinite_steps_raise(tmp_path, data, monkeypatch, scaler) -> None:
    if scaler:
        _with_scaler(monkeypatch)
    _nan_at(monkeypatch, None)
    match = rf"run {_run().run_id}: non-finite training loss at step 3; 3 steps skipped"
    with pytest.raises(FloatingPointError, match=match):
        train_model(_run(), *data, cache_dir=tmp_path, progress=False, max_nonfinite_steps=2)


def test_resume_with_fewer_visible_gpus_restores_what_fits(monkeypatch) -> None:
    state = checkpoint.rng_state()  # saved on 2 GPUs, resumed where 1 is visible
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device: restored.append(device))
    state["cuda"] = [torch.zeros(8, dtype=torch.uint8), torch.ones(8, dtype=torch.uint8)]
    with pytest.warns(UserWarning, match="2 CUDA devices, 1 are visible"):
        checkpoint.set_rng_state(state)
    assert restored == [0]


def test_max_steps_is_a_run_of_its_own(tmp_path, data) -> None:
    unset = _run().to_dict()
    del unset["max_steps"], unset["snapshot_every_steps"], unset["train"]["max_steps"]
    unset["train"].pop("num_workers"), unset["train"].pop("item_bank")
    # unset caps and snapshots leave the id of a run config without those fields (and how
    # items are loaded never enters it)
    assert _run().run_id == stage_key("run", ENGINE_VERSION, unset)
    result = train_model(_run(), *data, cache_dir=tmp_path, progress=False, max_steps=4)
    assert result.run_dir.name != _run().run_id
    assert result.finished and result.steps_run == 4 and result.stop_reason == "max_steps"
    assert list(result.history["step"]) == [3, 4]  # the cut epoch is validated and logged
    assert json.loads((result.run_dir / "done").read_text())["stop_reason"] == "max_steps"
    assert result.best_checkpoint.exists()
    again = train_model(_run(), *data, cache_dir=tmp_path, progress=False, max_steps=4)
    assert again.cached and again.stop_reason == "max_steps"


def test_global_batches_are_split_over_ranks() -> None:
    one = list(EpochBatches(13, 4, seed=3, rank=0, world=1))
    ranks = [EpochBatches(13, 4, seed=3, rank=r, world=2) for r in (0, 1)]
    for b, batch in enumerate(one):
        parts = [list(s)[b] for s in ranks]
        shares = [s.share(b) for s in ranks]
        assert sum(own for own, _ in shares) == len(batch)
        own_keys = [k for part, (own, _) in zip(parts, shares, strict=True) for k in part[:own]]
        assert own_keys == batch
    assert rank_slice(1, 1, 2) == (1, 1)  # empty slice: a stand-in item weighted 0
    assert list(ranks[1])[-1] == one[-1][:1] and ranks[1].share(3) == (0, 1)
    assert [keys for keys, _, _ in validation_batches(5, 4, 0, 1)] == [
        [(i, -1) for i in range(4)], [(4, -1)]]
    with pytest.raises(ValueError, match="global batch and must split evenly over 3"):
        EpochBatches(12, 4, seed=0, rank=0, world=3)


def test_cli_refuses_a_batch_that_does_not_split(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "_check_corpus", lambda *a: None)
    monkeypatch.setenv("WORLD_SIZE", "7")
    assert cli.main(["train", "--profile", "smoke"]) == 2
    assert "must split evenly over 7 processes" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_max_steps_on_the_smoke_profile(smoke_data, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path))
    assert cli.main(["train", "--profile", "smoke", "--jobs", "1", "--max-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "stopped: max_steps, 0 non-finite steps skipped" in out
    (run_dir,) = (tmp_path / "models").iterdir()
    done = json.loads((run_dir / "done").read_text())
    assert done["steps"] == 2 and done["stop_reason"] == "max_steps"
    assert json.loads((run_dir / "config.json").read_text())["max_steps"] == 2


# --------------------------------------------------------------------------- torchrun

EQUIVALENCE_ATOL = 1e-6
"""Weights and per-step losses of 2 Gloo processes against 1 process (summation order)."""

_JOB = """
import json, os, sys
import torch
sys.path[:0] = [{repo!r}, {tests!r}]
from test_train import RandomItems, _run
from bootsep_lib.engine import steps, trainer
import dataclasses

torch.set_num_threads(1)
losses = []
step = steps.train_step
steps.train_step = lambda *a: losses.append(step(*a)) or losses[-1]
run = _run({loss!r}, batch_size=4, epochs=2)
run = dataclasses.replace(run, model=dataclasses.replace(run.model, dropout=0.0))
train = RandomItems(13, 0, chimera={chimera})
valid = RandomItems(7, 1, chimera={chimera})
result = trainer.train_model(run, train, valid, cache_dir={cache!r}, progress=False)
rank = os.environ.get("RANK", "0")
json.dump({{"losses": losses, "valid": result.history["valid_loss"].tolist()}},
          open({cache!r} + f"/losses{{rank}}.json", "w"))
"""


def _job(tmp_path: Path, name: str, loss: str) -> tuple[Path, Path]:
    cache = tmp_path / name
    cache.mkdir()
    script = tmp_path / f"{name}.py"
    script.write_text(textwrap.dedent(_JOB.format(
        repo=str(REPO), tests=str(REPO / "tests"), loss=loss, chimera="chimera" in loss,
        cache=str(cache))))
    return cache, script


def _launch(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["dc", "chimera"])
def test_torchrun_two_processes_match_one(tmp_path: Path, loss: str) -> None:
    """Same global batches (13 items, batch 4: a last batch of 1, one rank's slice empty)."""
    one, one_script = _job(tmp_path, "one", loss)
    two, two_script = _job(tmp_path, "two", loss)
    _launch([sys.executable, str(one_script)], tmp_path)
    _launch([sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc_per_node=2", str(two_script)], tmp_path)
    run = _run(loss, batch_size=4, epochs=2)
    run_id = dataclasses.replace(run, model=dataclasses.replace(run.model, dropout=0.0)).run_id
    w1 = _weights(one / "models" / run_id / "last.pt")
    w2 = _weights(two / "models" / run_id / "last.pt")  # the run id ignores the world size
    worst = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    print(f"{loss}: largest weight difference {worst:.2e}")
    assert worst <= EQUIVALENCE_ATOL
    single = json.loads((one / "losses0.json").read_text())
    ranks = [json.loads((two / f"losses{r}.json").read_text()) for r in (0, 1)]
    assert len(single["losses"]) == len(ranks[0]["losses"]) == 8  # 4 global batches x 2
    per_step = np.mean([r["losses"] for r in ranks], axis=0)
    np.testing.assert_allclose(per_step, single["losses"], rtol=0, atol=EQUIVALENCE_ATOL)
    np.testing.assert_allclose(ranks[0]["valid"], single["valid"], rtol=0, atol=EQUIVALENCE_ATOL)
