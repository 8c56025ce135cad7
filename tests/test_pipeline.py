"""The training data pipeline: DataLoader workers change nothing but speed.

Items are deterministic and the batch order comes from the sampler in the main process, so a
run with ``num_workers = 2`` must end with the same weights and history, bit for bit, as one
with ``num_workers = 0``; the workers are persistent (the same processes, and the items they
keep, serve every epoch).
"""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import Dataset

from bootsep_lib.config import ModelConfig, TrainConfig, get_profile
from bootsep_lib.data.training_set import TrainingSet
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.engine.batches import make_loader


def _train(workers: int, cache_dir, loss: str) -> tuple[dict, list]:
    profile = get_profile("smoke")
    sources = {"with_sources": loss == "chimera"}
    run = RunConfig(
        model=ModelConfig(layers=1, units=16, embedding_dim=4),
        train=TrainConfig(batch_size=3, crop_frames=50, epochs=2, num_workers=workers),
        loss=loss, n_freqs=129, n_sources=2, data_tag="pipeline",
    )
    result = train_model(run, TrainingSet(profile, "tr", limit=8, **sources),
                         TrainingSet(profile, "cv", limit=4, **sources),
                         cache_dir=cache_dir / str(workers), device="cpu", progress=False)
    weights = torch.load(result.last_checkpoint, weights_only=False)["model"]
    history = result.history[["epoch", "step", "train_loss", "valid_loss", "lr"]]
    return weights, history.values.tolist()


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("loss", ["dc", "chimera"])
def test_two_workers_train_bitwise_as_none(smoke_data, tmp_path, loss):
    serial_weights, serial_history = _train(0, tmp_path, loss)
    workers_weights, workers_history = _train(2, tmp_path, loss)
    assert workers_history == serial_history
    assert serial_weights.keys() == workers_weights.keys()
    for key, value in serial_weights.items():
        assert torch.equal(value, workers_weights[key]), key


class _Pids(Dataset):
    """Items say which process made them."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        return {"features": torch.full((2, 1), float(os.getpid()))}


def test_workers_persist_across_epochs():
    batches = [[(0, 0), (1, 0)], [(2, 0), (3, 0)]]
    loader = make_loader(_Pids(), batches, 2, torch.device("cpu"), seed=0)

    def pids() -> set[int]:
        return {int(b["features"][0, 0, 0]) for b in loader}

    first = pids()
    assert os.getpid() not in first and len(first) == 2
    assert pids() == first


def test_no_workers_loads_in_process():
    loader = make_loader(_Pids(), [[(0, 0)]], 0, torch.device("cpu"), seed=0)
    assert {int(b["features"][0, 0, 0]) for b in loader} == {os.getpid()}
    assert loader.prefetch_factor is None and not loader.persistent_workers
