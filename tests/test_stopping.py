"""The papers' stopping rule, the step cap and weight snapshots.

The rule (:mod:`bootsep_lib.engine.stopping`) is checked against a brute-force
re-implementation written from the papers' sentences (windows of epochs since the last new best
or the last halving, not counters), on a hand-worked sequence and on random ones, directly and
through the trainer with scripted validation losses.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import N_FREQS, RandomItems

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.engine import RunConfig, list_snapshots, train_model
from bootsep_lib.engine import trainer as trainer_module
from bootsep_lib.engine.checkpoint import TrainState
from bootsep_lib.engine.stopping import LR_FACTOR, MIN_IMPROVEMENT, end_of_epoch, make_scheduler
from bootsep_lib.models import load_model


def brute_force(losses, lr0, lr_patience, stop_patience, factor=0.5, threshold=1e-4):
    """Learning rate after each epoch and the (1-based) epoch the run stops at (or None).

    A new best: below ``(1 - threshold)`` times the loss of the last new best.  The learning
    rate halves at epoch ``t`` when the ``lr_patience`` epochs ending at ``t`` hold no new best
    and no halving happened in the ``lr_patience - 1`` before ``t``; the run stops at the first
    epoch that ends ``stop_patience`` epochs without a new best.
    """
    best_at = []  # indices of new bests
    for t, value in enumerate(losses):
        if not best_at or value < (1 - threshold) * losses[best_at[-1]]:
            best_at.append(t)
    bests = set(best_at)
    lrs, halved_at, lr = [], [], lr0
    for t in range(len(losses)):
        window = range(t - lr_patience + 1, t + 1)
        since_halving = not halved_at or halved_at[-1] <= t - lr_patience
        if window.start >= 0 and not bests.intersection(window) and since_halving:
            lr *= factor
            halved_at.append(t)
        lrs.append(lr)
        last_best = max(i for i in best_at if i <= t)
        if t - last_best >= stop_patience:
            return lrs, t + 1
    return lrs, None


def drive(losses, lr0, lr_patience, stop_patience):
    """The engine's rule on ``losses``: learning rate after each epoch and the stop epoch."""
    train = TrainConfig(lr=lr0, lr_patience=lr_patience, early_stop_patience=stop_patience)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr0)
    scheduler, state, lrs = make_scheduler(optimizer, train), TrainState(), []
    for epoch, value in enumerate(losses, start=1):
        end_of_epoch(state, scheduler, float(value), train)
        lrs.append(optimizer.param_groups[0]["lr"])
        if state.stopped_early:
            return lrs, epoch
    return lrs, None


def test_constants_are_the_papers():
    assert LR_FACTOR == 0.5 and MIN_IMPROVEMENT == 1e-4


def test_hand_worked_plateau_with_the_papers_patience():
    # best at epoch 1, then a flat loss: halvings at epochs 6, 11, ..., 31, stop at 31
    losses = [1.0] * 40
    lrs, stop = drive(losses, 1e-3, 5, 30)
    assert stop == 31
    drops = [e for e in range(2, 32) if lrs[e - 1] < lrs[e - 2]]
    assert drops == [6, 11, 16, 21, 26, 31]
    assert lrs[-1] == pytest.approx(1e-3 / 2**6)
    assert (lrs, stop) == brute_force(losses, 1e-3, 5, 30)


def test_improvement_below_threshold_is_a_stall():
    # 1.0, then decreases of 1e-5 relative (below 1e-4): stalls; a real drop resets both counts
    losses = [1.0, 0.99999, 0.99998, 0.5, 0.49999, 0.49998, 0.49997]
    lrs, stop = drive(losses, 1.0, 2, 3)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25] and stop == 7
    assert (lrs, stop) == brute_force(losses, 1.0, 2, 3)


@pytest.mark.parametrize(("lr_patience", "stop_patience"),
                         [(5, 30), (1, 1), (2, 3), (3, 2), (4, 9)])
@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_match_brute_force(seed, lr_patience, stop_patience):
    rng = np.random.default_rng(seed)
    # noisy, slowly saturating losses with flat stretches and exact repeats
    steps = rng.choice([0.0, 0.0, 1e-6, 1e-3, 2e-2], size=80) * rng.choice([1, -1, 1], size=80)
    losses = np.round(1.0 - np.cumsum(steps) + 0.01 * rng.random(80) ** 4, 7).tolist()
    assert drive(losses, 1e-3, lr_patience, stop_patience) == brute_force(
        losses, 1e-3, lr_patience, stop_patience)


# ------------------------------------------------------------------ through the trainer


def _run(**overrides: object) -> RunConfig:
    settings = {"batch_size": 4, "crop_frames": 24, "epochs": 50, "seed": 5, "lr": 1e-3,
                **overrides}
    snapshot = settings.pop("snapshot_every_steps", None)
    return RunConfig(model=ModelConfig(layers=1, units=8, embedding_dim=4),
                     train=TrainConfig(**settings), n_freqs=N_FREQS, data_tag="stopping-test",
                     snapshot_every_steps=snapshot)


@pytest.fixture(scope="module")
def data() -> tuple[RandomItems, RandomItems]:
    return RandomItems(12, seed=2), RandomItems(4, seed=3)  # 3 steps per epoch


def test_trainer_follows_the_rule_on_scripted_losses(tmp_path: Path, data, monkeypatch):
    script = [1.0, 0.8, 0.8, 0.81, 0.7, 0.71, 0.72, 0.70, 0.9, 0.75, 0.69, 0.7, 0.7, 0.7, 0.7]
    calls = iter(script)
    monkeypatch.setattr(trainer_module, "_validate", lambda s: next(calls))
    result = train_model(_run(lr_patience=2, early_stop_patience=4), *data,
                         cache_dir=tmp_path, progress=False)
    lrs, stop = brute_force(script, 1e-3, 2, 4)
    assert stop is not None and stop < len(script)
    assert list(result.history["lr"]) == pytest.approx(lrs[:stop])
    assert result.stop_reason == "early_stop" and result.epochs == stop
    assert result.steps == 3 * stop and list(result.history["step"]) == [3 * e for e in
                                                                          range(1, stop + 1)]
    best_epoch = 1 + int(np.argmin(script[:stop]))
    assert result.best_step == 3 * best_epoch
    done = json.loads((result.run_dir / "done").read_text())
    assert (done["steps"], done["stop_reason"], done["best_step"]) == (3 * stop, "early_stop",
                                                                       3 * best_epoch)
    best = torch.load(result.best_checkpoint, map_location="cpu", weights_only=False)
    assert (best["step"], best["epoch"]) == (3 * best_epoch, best_epoch)
    again = train_model(_run(lr_patience=2, early_stop_patience=4), *data, cache_dir=tmp_path,
                        progress=False)
    assert again.cached and (again.steps, again.stop_reason, again.epochs) == (
        result.steps, "early_stop", stop)


@pytest.mark.parametrize(("run_cap", "train_cap", "expected"), [(None, 7, 7), (5, 7, 5)])
def test_step_cap_ends_the_run_mid_epoch(tmp_path: Path, data, run_cap, train_cap, expected):
    run = dataclasses.replace(_run(max_steps=train_cap), max_steps=run_cap)
    result = train_model(run, *data, cache_dir=tmp_path, progress=False)
    assert result.finished and result.stop_reason == "max_steps" and result.steps == expected
    assert list(result.history["step"])[-1] == expected  # the partial epoch is validated


def test_cap_and_snapshots_enter_the_run_id_only_when_set():
    ids = {_run().run_id, _run(max_steps=10).run_id, _run(snapshot_every_steps=2).run_id}
    assert len(ids) == 3
    with pytest.raises(ValueError, match="snapshot_every_steps"):
        _run(snapshot_every_steps=0)
    with pytest.raises(ValueError, match="train.max_steps"):
        _run(max_steps=0)


def test_snapshots_every_n_steps_resume_and_load(tmp_path: Path, data):
    run = _run(epochs=3, snapshot_every_steps=2)
    whole = train_model(run, *data, cache_dir=tmp_path / "a", progress=False)
    steps = [s for s, _ in list_snapshots(whole.run_dir)]
    assert steps == [0, 2, 4, 6, 8, 9]
    train_model(run, *data, cache_dir=tmp_path / "b", progress=False, stop_after_steps=5)
    resumed = train_model(run, *data, cache_dir=tmp_path / "b", progress=False)
    pairs = zip(list_snapshots(whole.run_dir), list_snapshots(resumed.run_dir), strict=True)
    for (step_a, path_a), (step_b, path_b) in pairs:
        model_a, _ = load_model(path_a, device="cpu")
        model_b, _ = load_model(path_b, device="cpu")
        assert step_a == step_b
        for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values(),
                                strict=True):
            assert torch.equal(a, b), (step_a, name)
    last = torch.load(whole.last_checkpoint, map_location="cpu", weights_only=False)["model"]
    final, _ = load_model(list_snapshots(whole.run_dir)[-1][1], device="cpu")
    assert all(torch.equal(v, last[k]) for k, v in final.state_dict().items())
    plain = train_model(_run(epochs=1), *data, cache_dir=tmp_path / "c", progress=False)
    assert list_snapshots(plain.run_dir) == [] and not math.isnan(plain.history["lr"].iloc[0])
