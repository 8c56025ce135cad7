"""Trainer mechanics: determinism, exact resume after a kill, caching, schedule, DDP, loading.

The data here are random features with labels that are a function of them (learnable but
meaningless); separation quality is tested in ``test_separate.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.engine import RunConfig, rank_device, train_model
from bootsep_lib.models import ChimeraNet, DeepClusteringNet, load_model

N_FREQS = 17
REPO = Path(__file__).resolve().parents[1]


class RandomItems(Dataset):
    """Variable-length items: features ~ N(0, 1), label = (feature > 0), magnitude weights."""

    def __init__(self, n: int, seed: int, chimera: bool = False, n_freqs: int = N_FREQS) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            frames = int(rng.integers(15, 40))
            feats = rng.normal(size=(frames, n_freqs)).astype(np.float32)
            mag = np.abs(feats)
            item = {
                "features": feats,
                "labels": (feats > 0).astype(np.int64),
                "weights": (mag / mag.sum()).astype(np.float32),
            }
            if chimera:
                item["mix_mag"] = mag
                item["source_mags"] = np.stack([mag * (feats > 0), mag * (feats <= 0)])
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.items[index]


class Killed(Exception):
    """Stands for SIGKILL: raised from inside the data pipeline, nothing is saved after it."""


class KillAfter(Dataset):
    """Wraps a dataset and raises :class:`Killed` on the ``calls``-th item access."""

    def __init__(self, base: Dataset, calls: int) -> None:
        self.base, self.calls = base, calls

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        self.calls -= 1
        if self.calls < 0:
            raise Killed
        return self.base[index]


def _run(loss: str = "dc", **train: object) -> RunConfig:
    settings = {"batch_size": 4, "crop_frames": 24, "epochs": 3, "seed": 3, **train}
    return RunConfig(
        model=ModelConfig(layers=2, units=8, embedding_dim=6, dropout=0.3),
        train=TrainConfig(**settings),
        loss=loss,
        n_freqs=N_FREQS,
        data_tag="random-test-items",
    )


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data() -> tuple[RandomItems, RandomItems]:
    return RandomItems(12, seed=0), RandomItems(5, seed=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data) -> object:
    """An uninterrupted 3-epoch run (3 steps per epoch)."""
    train, valid = data
    return train_model(
        _run(), train, valid, cache_dir=tmp_path_factory.mktemp("ref"), progress=False
    )


def test_reference_run_trains(reference) -> None:
    assert reference.finished and not reference.cached
    assert reference.steps_run == 9
    history = reference.history
    assert list(history["epoch"]) == [1, 2, 3]
    assert list(history["step"]) == [3, 6, 9]
    assert history["valid_loss"].iloc[-1] < history["valid_loss"].iloc[0]
    logged = pd.read_csv(reference.run_dir / "log.csv")
    pd.testing.assert_frame_equal(logged, history, check_dtype=False)
    config = json.loads((reference.run_dir / "config.json").read_text())
    assert config["run_id"] == reference.run_dir.name == _run().run_id
    assert (reference.run_dir / "done").exists()
    assert reference.best_checkpoint.exists() and reference.last_checkpoint.exists()
    assert reference.frames_per_second > 0


def test_same_seed_gives_identical_weights(tmp_path: Path, data, reference) -> None:
    again = train_model(_run(), *data, cache_dir=tmp_path, progress=False)
    _assert_same_weights(reference.last_checkpoint, again.last_checkpoint)
    _assert_same_weights(reference.best_checkpoint, again.best_checkpoint)
    other = train_model(_run(seed=4), *data, cache_dir=tmp_path, progress=False)
    assert not torch.equal(
        _weights(other.last_checkpoint)["embedding.dense.weight"],
        _weights(reference.last_checkpoint)["embedding.dense.weight"],
    )


def test_budget_stop_mid_epoch_then_resume_is_exact(tmp_path: Path, data, reference) -> None:
    # step 4 is the first step of epoch 2 of 3
    first = train_model(_run(), *data, cache_dir=tmp_path, progress=False, stop_after_steps=4)
    assert not first.finished and first.steps_run == 4 and len(first.history) == 1
    assert not (first.run_dir / "done").exists()
    second = train_model(_run(), *data, cache_dir=tmp_path, progress=False)
    assert second.finished and second.steps_run == 5
    _assert_same_weights(reference.last_checkpoint, second.last_checkpoint)
    _assert_same_weights(reference.best_checkpoint, second.best_checkpoint)
    cols = ["epoch", "step", "train_loss", "valid_loss", "lr"]
    pd.testing.assert_frame_equal(second.history[cols], reference.history[cols])


@pytest.mark.parametrize("every", [None, 2])
def test_kill_then_resume_is_exact(tmp_path: Path, data, reference, every: int | None) -> None:
    train, valid = data
    # 12 reads for the input statistics, then 12 per epoch: read 12 + 19 is inside step 5
    # (the second batch of epoch 2)
    with pytest.raises(Killed):
        train_model(_run(), KillAfter(train, 12 + 18), valid, cache_dir=tmp_path, progress=False,
                    checkpoint_every_steps=every)
    last = torch.load(tmp_path / "models" / _run().run_id / "last.pt", weights_only=True)
    assert last["state"]["step"] == (4 if every else 3)  # mid-epoch or epoch-end checkpoint
    resumed = train_model(_run(), train, valid, cache_dir=tmp_path, progress=False)
    assert resumed.steps_run == 9 - last["state"]["step"]
    _assert_same_weights(reference.last_checkpoint, resumed.last_checkpoint)


def test_done_run_is_cached(data, reference) -> None:
    rows = len(pd.read_csv(reference.run_dir / "log.csv"))
    again = train_model(_run(), *data, cache_dir=reference.run_dir.parents[1], progress=False)
    assert again.cached and again.steps_run == 0 and again.finished
    assert again.run_dir == reference.run_dir
    assert len(pd.read_csv(reference.run_dir / "log.csv")) == rows == len(again.history)
    pd.testing.assert_frame_equal(again.history, reference.history)


def test_plateau_halves_lr_and_stops_early(tmp_path: Path, data) -> None:
    run = _run(lr=1e-12, epochs=10, lr_patience=2, early_stop_patience=3)
    result = train_model(run, *data, cache_dir=tmp_path, progress=False)
    # epoch 1 sets the best; epochs 2-4 stall; lr halved on the 2nd stall; stop on the 3rd
    assert result.finished and list(result.history["epoch"]) == [1, 2, 3, 4]
    assert list(result.history["lr"]) == pytest.approx([1e-12, 1e-12, 5e-13, 5e-13])
    done = json.loads((result.run_dir / "done").read_text())
    assert done["stopped_early"] and done["epochs"] == 4


def test_max_epochs_stops_without_done(tmp_path: Path, data) -> None:
    part = train_model(_run(), *data, cache_dir=tmp_path, progress=False, max_epochs=1)
    assert not part.finished and len(part.history) == 1 and part.steps_run == 3
    rest = train_model(_run(), *data, cache_dir=tmp_path, progress=False)
    assert rest.finished and rest.steps_run == 6


@pytest.mark.parametrize("loss", ["chimera", "mchimera", "mdc"])
def test_other_losses_train(tmp_path: Path, loss: str) -> None:
    chimera = "chimera" in loss
    train = RandomItems(8, seed=0, chimera=chimera)
    valid = RandomItems(3, seed=1, chimera=chimera)
    result = train_model(_run(loss, epochs=2), train, valid, cache_dir=tmp_path, progress=False)
    assert np.isfinite(result.history[["train_loss", "valid_loss"]].to_numpy()).all()
    model, run = load_model(result.run_dir)
    assert run.loss == loss
    assert isinstance(model, ChimeraNet if chimera else DeepClusteringNet)
    out = model(torch.randn(1, 10, N_FREQS))
    if chimera:
        emb, masks = out
        assert masks.shape == (1, 2, 10, N_FREQS)
        torch.testing.assert_close(masks.sum(1), torch.ones(1, 10, N_FREQS))
    else:
        emb = out
    assert emb.shape == (1, 10, N_FREQS, 6)


def test_chimera_needs_source_magnitudes(tmp_path: Path, data) -> None:
    with pytest.raises(KeyError, match="source_mags"):
        train_model(_run("chimera"), *data, cache_dir=tmp_path, progress=False)


def test_load_model_checks(tmp_path: Path, reference) -> None:
    model, run = load_model(reference.run_dir, expected=_run())
    assert run == _run() and not model.training
    model, _ = load_model(reference.last_checkpoint, device="cpu")
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="another configuration"):
        load_model(reference.best_checkpoint, expected=_run(lr=5e-4))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="unreadable"):
        load_model(corrupt)
    with pytest.raises(ValueError, match="no such checkpoint"):
        load_model(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a bootsep checkpoint"):
        load_model(foreign)


def test_run_config_validation() -> None:
    with pytest.raises(ValueError, match="loss"):
        _run("pit")
    with pytest.raises(ValueError, match="optimizer"):
        _run(optimizer="sgd")
    assert _run().run_id != _run(seed=4).run_id
    assert RunConfig.from_dict(_run().to_dict()) == _run()
    with pytest.raises(ValueError, match="not a RunConfig"):
        RunConfig.from_dict({"model": {"colour": 1}, "train": {}})
    with pytest.raises(ValueError, match="not a RunConfig"):
        RunConfig.from_dict({"train": {}})


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node 2`` with Gloo: both ranks finish with identical weights."""
    script = tmp_path / "ddp_job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            import torch
            sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
            from test_train import RandomItems, _run
            from bootsep_lib.engine import session, trainer

            built = []  # record the network each rank trains, to compare the ranks' weights
            build = session.build_model
            session.build_model = lambda *a, **k: built.append(build(*a, **k)) or built[-1]
            torch.set_num_threads(1)
            result = trainer.train_model(_run(epochs=2), RandomItems(12, 0), RandomItems(5, 1),
                                         cache_dir={str(tmp_path)!r}, progress=False)
            rank = os.environ["RANK"]
            torch.save(built[0].state_dict(), {str(tmp_path)!r} + f"/rank{{rank}}.pt")
            print("rank", rank, "steps", result.steps_run, result.finished)
            """
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script)],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # batch_size 4 is the global batch: 12 items = 3 batches per epoch (2 items per rank), as
    # one process, 2 epochs
    assert proc.stdout.count("steps 6 True") == 2, proc.stdout
    run_dir = tmp_path / "models" / _run(epochs=2).run_id
    assert (run_dir / "done").exists() and (run_dir / "best.pt").exists()
    assert len(pd.read_csv(run_dir / "log.csv")) == 2
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    saved = _weights(run_dir / "last.pt")
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.equal(ranks[0][key], saved[key]), key


def test_each_torchrun_process_gets_its_own_gpu():
    """Under torchrun, "cuda" must mean this rank's GPU, not GPU 0 for every rank."""
    assert rank_device("cuda", 3) == torch.device("cuda", 3)
    assert rank_device("cuda:1", 3) == torch.device("cuda", 1)
    assert rank_device("cpu", 3) == torch.device("cpu")
