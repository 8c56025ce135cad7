"""Tests of bootsep_lib.models: shapes, unit norm, parameter count, packing, determinism."""

from __future__ import annotations

import pytest
import torch

from bootsep_lib.config import ModelConfig
from bootsep_lib.models import (
    ChimeraNet,
    DeepClusteringNet,
    build_model,
    feature_statistics,
)

SMALL = ModelConfig(layers=2, units=8, embedding_dim=4, dropout=0.0)
N_FREQS = 9


def _lstm_parameters(n_in: int, units: int, layers: int) -> int:
    """Two directions x four gates x units x (input + recurrent + two PyTorch biases)."""
    total = 0
    for layer in range(layers):
        inputs = n_in if layer == 0 else 2 * units
        total += 2 * 4 * units * (inputs + units + 2)
    return total


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_configuration_has_8_7_million_parameters():
    """Section 3.1 of the bootstrapping paper: 4 x 300 BLSTM, D = 15, 129 freqs, 8.7M."""
    config = ModelConfig(layers=4, units=300, embedding_dim=15)
    expected = _lstm_parameters(129, 300, 4) + (2 * 300 + 1) * 129 * 15
    assert expected == 8_691_735
    model = build_model("dc", 129, config)
    assert _count(model) == expected
    assert abs(_count(model) - 8.7e6) / 8.7e6 < 0.01
    chimera = build_model("chimera", 129, config, n_sources=2)
    assert _count(chimera) == expected + (2 * 300 + 1) * 129 * 2


def test_dc_output_shape_and_unit_norm():
    torch.manual_seed(0)
    model = DeepClusteringNet(N_FREQS, SMALL)
    emb = model(torch.randn(3, 11, N_FREQS))
    assert emb.shape == (3, 11, N_FREQS, 4)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3, 11, N_FREQS))


def test_chimera_outputs_and_masks_sum_to_one():
    torch.manual_seed(0)
    model = ChimeraNet(N_FREQS, SMALL, n_sources=3)
    emb, masks = model(torch.randn(2, 7, N_FREQS))
    assert emb.shape == (2, 7, N_FREQS, 4)
    assert masks.shape == (2, 3, 7, N_FREQS)
    assert (masks >= 0).all()
    torch.testing.assert_close(masks.sum(dim=1), torch.ones(2, 7, N_FREQS))
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2, 7, N_FREQS))
    _, sig = ChimeraNet(N_FREQS, SMALL, 3, mask_activation="sigmoid")(torch.randn(2, 7, N_FREQS))
    assert ((sig > 0) & (sig < 1)).all()
    assert not torch.allclose(sig.sum(dim=1), torch.ones(2, 7, N_FREQS))


def test_deterministic_given_seed():
    x = torch.randn(2, 6, N_FREQS)
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_model("chimera", N_FREQS, SMALL)
        outputs.append(model(x))
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])
    torch.manual_seed(124)
    other = build_model("chimera", N_FREQS, SMALL)(x)
    assert not torch.equal(other[0], outputs[0][0])


def test_different_lengths_are_packed():
    torch.manual_seed(1)
    model = DeepClusteringNet(N_FREQS, SMALL).eval()
    x = torch.randn(3, 10, N_FREQS)
    lengths = [10, 4, 7]
    batched = model(x, torch.tensor(lengths))
    assert batched.shape == (3, 10, N_FREQS, 4)
    for b, n in enumerate(lengths):
        alone = model(x[b : b + 1, :n])
        torch.testing.assert_close(batched[b : b + 1, :n], alone, rtol=1e-5, atol=1e-6)
    # padding content cannot leak into valid frames (the backward LSTM would see it otherwise)
    x2 = x.clone()
    x2[1, 4:] = 100.0
    torch.testing.assert_close(model(x2, lengths)[1, :4], batched[1, :4])
    assert not torch.allclose(model(x2)[1, :4], model(x)[1, :4])


def test_input_statistics_standardize_the_input():
    torch.manual_seed(2)
    features = 20.0 + 5.0 * torch.randn(4, 12, N_FREQS)
    mean, std = feature_statistics(features, lengths=[12, 12, 6, 12])
    assert mean.shape == (N_FREQS,) and std.shape == (N_FREQS,)
    mean_all, std_all = feature_statistics(features)
    torch.testing.assert_close(mean_all, features.reshape(-1, N_FREQS).mean(0))
    model = DeepClusteringNet(N_FREQS, SMALL)
    model.set_input_stats(mean_all, std_all)
    reference = DeepClusteringNet(N_FREQS, SMALL)
    reference.load_state_dict(model.state_dict())  # the statistics travel with the weights
    torch.testing.assert_close(reference.trunk.input_mean, mean_all)
    standardized = (features - mean_all) / std_all
    plain = DeepClusteringNet(N_FREQS, SMALL)
    plain.load_state_dict(
        {k: v for k, v in model.state_dict().items() if "input_" not in k}, strict=False
    )
    torch.testing.assert_close(model(features), plain(standardized))
    with pytest.raises(ValueError):
        model.set_input_stats(torch.zeros(3), torch.ones(3))


def test_gradients_reach_every_parameter():
    torch.manual_seed(3)
    model = ChimeraNet(N_FREQS, ModelConfig(layers=2, units=8, embedding_dim=4, dropout=0.2), 2)
    emb, masks = model(torch.randn(2, 5, N_FREQS), [5, 3])
    (emb.sum() + masks[:, 0].sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_build_model_rejects_unknown_kind():
    assert isinstance(build_model("dc", N_FREQS, SMALL), DeepClusteringNet)
    with pytest.raises(ValueError):
        build_model("tasnet", N_FREQS, SMALL)
