"""The trunk's BLSTM without packing: exact on valid frames, bitwise on equal lengths."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from bootsep_lib.config import ModelConfig
from bootsep_lib.models.trunk import BLSTMTrunk, reversal_index, reverse_within

N_FREQS, FRAMES = 11, 23


def _packed(trunk: BLSTMTrunk, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The reference: the previous implementation, a packed BLSTM."""
    x = (features - trunk.input_mean) / trunk.input_std
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(trunk.lstm(packed)[0], batch_first=True, total_length=FRAMES)[0]


def _outputs_and_grads(
    trunk: BLSTMTrunk, features: torch.Tensor, lengths: torch.Tensor, packed: bool
) -> list[torch.Tensor]:
    """Outputs and gradients (weights, input) of a fixed, non-uniform scalar of the outputs."""
    trunk.zero_grad()
    features = features.clone().requires_grad_(True)
    out = _packed(trunk, features, lengths) if packed else trunk(features, lengths)
    (out * torch.linspace(-1.0, 1.0, out.numel()).view_as(out)).sum().backward()
    return [out.detach(), *(p.grad.clone() for p in trunk.lstm.parameters()), features.grad]


def _trunk(dropout: float = 0.0, seed: int = 0) -> BLSTMTrunk:
    torch.manual_seed(seed)
    trunk = BLSTMTrunk(N_FREQS, ModelConfig(layers=3, units=10, embedding_dim=4, dropout=dropout))
    trunk.set_input_stats(torch.randn(N_FREQS), torch.rand(N_FREQS) + 0.5)
    return trunk


def test_reverse_within_lengths_is_an_involution():
    x = torch.arange(10.0).view(2, 5, 1)
    index = reversal_index(torch.tensor([3, 5]), 5, x.device)
    flipped = reverse_within(x, index)
    assert flipped[:, :, 0].tolist() == [[2.0, 1.0, 0.0, 3.0, 4.0], [9.0, 8.0, 7.0, 6.0, 5.0]]
    assert torch.equal(reverse_within(flipped, index), x)


def test_unequal_lengths_equal_the_packed_blstm_outputs_and_gradients():
    for seed in range(3):
        trunk = _trunk(seed=seed)
        gen = torch.Generator().manual_seed(seed)
        features = torch.randn(5, FRAMES, N_FREQS, generator=gen)
        lengths = torch.randint(1, FRAMES + 1, (5,), generator=gen)
        lengths[0] = FRAMES if seed else 7  # with and without an item of the full length
        reference = _outputs_and_grads(trunk, features, lengths, packed=True)
        fast = _outputs_and_grads(trunk, features, lengths, packed=False)
        for ref, got in zip(reference, fast, strict=True):
            torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_equal_lengths_are_bitwise_equal_to_the_packed_blstm():
    """Also with dropout between layers in training mode: the same random numbers are drawn."""
    features = torch.randn(4, FRAMES, N_FREQS)
    full = torch.full((4,), FRAMES)
    for dropout, training in ((0.0, False), (0.0, True), (0.4, True)):
        trunk = _trunk(dropout).train(training)
        torch.manual_seed(9)
        reference = _outputs_and_grads(trunk, features, full, packed=True)
        torch.manual_seed(9)
        fast = _outputs_and_grads(trunk, features, full, packed=False)
        assert all(torch.equal(r, g) for r, g in zip(reference, fast, strict=True))


def test_padding_does_not_reach_valid_frames_and_padded_outputs_are_zero():
    trunk = _trunk().eval()
    features = torch.randn(3, FRAMES, N_FREQS)
    lengths = torch.tensor([FRAMES, 9, 15])
    out = trunk(features, lengths)
    noisy = features.clone()
    noisy[1, 9:] = 50.0 * torch.randn(FRAMES - 9, N_FREQS)
    noisy[2, 15:] = -30.0
    changed = trunk(noisy, lengths)
    assert torch.equal(changed[1, :9], out[1, :9]) and torch.equal(changed[2, :15], out[2, :15])
    assert torch.equal(changed[0], out[0])
    assert not changed[1, 9:].any() and not changed[2, 15:].any()
    assert not torch.allclose(trunk(noisy)[1, :9], trunk(features)[1, :9])  # unmasked: leaks
