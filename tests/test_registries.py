"""Registries of losses and models, the signal a checkpoint records, and the CLI's choices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import RandomItems, _run

from bootsep_lib import cli
from bootsep_lib.engine import LOSSES, train_model
from bootsep_lib.engine.batches import item_keys
from bootsep_lib.losses import Loss, get_loss, loss_names, register_loss
from bootsep_lib.models import build_model, check_sample_rate, load_model, model_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIGNAL = {"sample_rate": 8000, "window_ms": 32.0, "hop_ms": 8.0}


def test_losses_declare_their_model_and_keys() -> None:
    assert loss_names() == LOSSES == cli.LOSS_CHOICES == ("dc", "mdc", "chimera", "mchimera")
    assert {get_loss(n).model for n in loss_names()} <= set(model_names())
    assert get_loss("dc").keys == ("labels", "weights")
    assert "source_mags" in get_loss("mchimera").keys
    assert item_keys(get_loss("dc").keys) == ("features", "labels", "weights")
    assert item_keys(get_loss("chimera").keys) == (
        "features", "labels", "weights", "mix_mag", "source_mags")


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"known losses: \('dc', 'mdc'"):
        get_loss("conv-tasnet")
    with pytest.raises(ValueError, match=r"known kinds: \('dc', 'chimera'\)"):
        build_model("conv-tasnet", 17, _run().model)
    with pytest.raises(ValueError, match="registered twice"):
        register_loss("dc")(type("Again", (Loss,), {}))


def test_checkpoint_records_signal_and_inference_checks_the_rate(tmp_path: Path) -> None:
    result = train_model(_run(epochs=1), RandomItems(8, 0), RandomItems(3, 1),
                         cache_dir=tmp_path, progress=False, signal=SIGNAL)
    for path in (result.best_checkpoint, result.last_checkpoint):
        assert torch.load(path, weights_only=True)["signal"] == SIGNAL
    model, _ = load_model(result.run_dir, device="cpu")
    assert model.signal == SIGNAL
    check_sample_rate(model, 8000)
    with pytest.raises(ValueError, match="trained on 8000 Hz"):
        check_sample_rate(model, 16000)


def test_checkpoints_without_signal_still_load(tmp_path: Path) -> None:
    result = train_model(_run(epochs=1), RandomItems(8, 0), RandomItems(3, 1),
                         cache_dir=tmp_path, progress=False)
    old = tmp_path / "old.pt"
    ckpt = torch.load(result.best_checkpoint, weights_only=True)
    del ckpt["signal"]  # as written before checkpoints recorded it
    torch.save(ckpt, old)
    model, run = load_model(old, device="cpu")
    assert model.signal is None and run == _run(epochs=1)
    check_sample_rate(model, 44100)  # unknown rate: not checked
    features = torch.as_tensor(np.zeros((1, 5, 17), dtype=np.float32))
    assert model(features).shape == (1, 5, 17, 6)
