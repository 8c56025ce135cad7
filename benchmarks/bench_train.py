"""Training throughput of the BLSTM networks against the machine's matmul rate; separation speed.

Run: ``python benchmarks/bench_train.py [--steps 3] [--threads N]``.  For the laptop network
(2 x 128, D = 20) and the paper's (4 x 300, D = 15), batch 16 x 250 frames, 129 frequencies:

* training frames per second through :func:`bootsep_lib.engine.train_model` itself (data
  pipeline, forward, DC loss, backward, clipping, Adam step); two warm-up steps (oneDNN builds
  its LSTM kernels during the first two) are taken and checkpointed first, and the timed steps
  resume from there;
* achieved GFLOP/s, from an analytic count, against a large float32 matrix multiply timed in
  the same process.  Per frame, a BLSTM layer costs ``2 * 4 * units * (input + units)`` FLOPs
  per direction and the dense embedding layer ``2 * (2 * units) * (freqs * D)``; training is
  counted as 3x the forward pass (forward + backward for inputs and weights);
* the real-time factor of :func:`bootsep_lib.separate.separate` on a 4-s mixture (seconds of
  computation per second of audio: network, K-means, iSTFT);
* ``--lengths``: one training step (forward, DC loss, backward, clipping, Adam) on batches of
  equal lengths and of unequal lengths at the laptop shape (2 x 128, D = 20, 16 x 200 frames)
  and the paper shape (4 x 300, D = 15, 40 x 400 frames), with the trunk's BLSTM and with the
  packed BLSTM it replaced, timed back to back, interleaved, the median of ``--repeats``;
  frames/s counts valid frames.  The two shapes use different networks, so their per-frame
  costs are also compared per FLOP of the analytic count (the like-for-like figure).
  Unequal lengths are random crops of utterances whose
  durations are drawn like wsj0-2mix's (log-normal, median 4.5 s, 1.5-15 s, so about a fifth
  are shorter than a 400-frame crop), scaled to the crop at the laptop shape;
* ``--profile``: where the time of a laptop training step goes (data, BLSTM, heads, loss,
  backward, optimiser).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.engine.batches import collate
from bootsep_lib.losses import get_loss
from bootsep_lib.models import build_model, load_model
from bootsep_lib.models.trunk import BLSTMTrunk
from bootsep_lib.separate import separate

RATE, N_FREQS, FRAMES, BATCH = 8000, 129, 250, 16
NETWORKS = {"2x128 D=20": ModelConfig(2, 128, 20), "4x300 D=15": ModelConfig(4, 300, 15)}
SHAPES = {"laptop": (ModelConfig(2, 128, 20), 16, 200), "paper": (ModelConfig(4, 300, 15), 40, 400)}
"""Shape name: (network, batch, crop frames)."""
FRAMES_PER_S_OF_AUDIO = 125  # 8 kHz, 8 ms hop


class RandomItems(Dataset):
    """``n`` random training items of exactly ``FRAMES`` frames."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.items = []
        for _ in range(n):
            feats = rng.normal(size=(FRAMES, N_FREQS)).astype(np.float32)
            weights = np.abs(feats) / np.abs(feats).sum()
            self.items.append({"features": feats, "labels": (feats > 0).astype(np.int64),
                               "weights": weights.astype(np.float32)})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.items[index]


def forward_flops_per_frame(config: ModelConfig, n_freqs: int = N_FREQS) -> tuple[float, float]:
    """Analytic forward FLOPs per frame: (BLSTM stack, dense embedding layer)."""
    lstm = 0.0
    for layer in range(config.layers):
        inputs = n_freqs if layer == 0 else 2 * config.units
        lstm += 2 * (2 * 4 * config.units * (inputs + config.units))
    dense = 2 * (2 * config.units) * (n_freqs * config.embedding_dim)
    return lstm, dense


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 ``size x size`` matrix multiply rate, GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def bench_network(
    config: ModelConfig, steps: int, cache: str, warmup: int = 2
) -> dict[str, float]:
    """Training frames/s (after ``warmup`` steps) and separation real-time factor."""
    run = RunConfig(
        model=config,
        train=TrainConfig(batch_size=BATCH, crop_frames=FRAMES, epochs=1),
        n_freqs=N_FREQS,
        data_tag="bench-random",
    )
    train, valid = RandomItems(BATCH * (warmup + steps)), RandomItems(2)
    train_model(run, train, valid, cache_dir=cache, progress=False, stop_after_steps=warmup)
    timed = train_model(run, train, valid, cache_dir=cache, progress=False,
                        stop_after_steps=warmup + steps)
    model, _ = load_model(timed.last_checkpoint, device="cpu")
    mixture = np.random.default_rng(1).normal(size=4 * RATE).astype(np.float32)
    separate(model, mixture, RATE, n_sources=2)  # warm-up
    rtf = min(_timed(lambda: separate(model, mixture, RATE, n_sources=2)) for _ in range(3)) / 4
    lstm, dense = forward_flops_per_frame(config)
    fps = timed.frames_per_second
    return {"frames_per_s": fps, "lstm_gflops": 3 * lstm * fps / 1e9,
            "model_gflops": 3 * (lstm + dense) * fps / 1e9, "rtf": rtf}


def utterance_lengths(n: int, crop: int, rng: np.random.Generator) -> np.ndarray:
    """Valid frames of ``n`` random crops of wsj0-2mix-like utterances (scaled to ``crop``)."""
    seconds = np.clip(rng.lognormal(np.log(4.5), 0.4, size=n), 1.5, 15.0)
    frames = np.round(seconds * FRAMES_PER_S_OF_AUDIO * crop / 400).astype(int)
    return np.minimum(frames, crop)


def random_batch(lengths: np.ndarray, seed: int = 0) -> dict[str, torch.Tensor]:
    """A collated batch of random items of the given lengths (as the trainer makes it)."""
    rng = np.random.default_rng(seed)
    items = []
    for n in lengths:
        feats = torch.as_tensor(rng.normal(size=(int(n), N_FREQS)).astype(np.float32))
        items.append({"features": feats, "labels": (feats > 0).long(),
                      "weights": feats.abs() / feats.abs().sum()})
    return collate(items)


def _packed_forward(trunk: BLSTMTrunk, features: torch.Tensor, lengths: torch.Tensor):
    """The BLSTM the trunk had before: always packed."""
    x = (features - trunk.input_mean) / trunk.input_std
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    out = trunk.lstm(packed)[0]
    return torch.nn.utils.rnn.pad_packed_sequence(
        out, batch_first=True, total_length=x.shape[1])[0]


@contextlib.contextmanager
def packed_trunk(enabled: bool) -> Iterator[None]:
    """Run :class:`BLSTMTrunk` with the old packed forward inside the block (when enabled)."""
    original = BLSTMTrunk.forward
    if enabled:
        BLSTMTrunk.forward = _packed_forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        BLSTMTrunk.forward = original  # type: ignore[method-assign]


class Stepper:
    """One network, its Adam and DC loss: timed training steps on a batch."""

    def __init__(self, config: ModelConfig, batch: int, crop: int) -> None:
        torch.manual_seed(0)
        self.run = RunConfig(model=config, train=TrainConfig(batch_size=batch, crop_frames=crop),
                             n_freqs=N_FREQS, data_tag="bench-random")
        self.net = build_model("dc", N_FREQS, config)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss = get_loss("dc")

    def step(self, batch: dict[str, torch.Tensor]) -> float:
        """Seconds of one optimiser step, as the trainer takes it."""
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.net(batch["features"], batch["lengths"]), batch, self.run)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
        self.optimizer.step()
        return time.perf_counter() - start


def compare_lengths(shape: str, repeats: int, old_repeats: int) -> dict[str, float]:
    """Median frames/s, equal and unequal lengths, trunk and old packed BLSTM, interleaved."""
    config, size, crop = SHAPES[shape]
    stepper = Stepper(config, size, crop)
    rng = np.random.default_rng(1)
    equal = random_batch(np.full(size, crop))
    unequal = random_batch(utterance_lengths(size, crop, rng))
    while bool((unequal["lengths"] == crop).all()):
        unequal = random_batch(utterance_lengths(size, crop, rng))
    cases = {"equal": (equal, False), "equal packed": (equal, True),
             "unequal": (unequal, False), "unequal packed": (unequal, True)}
    for batch, old in cases.values():  # warm-up (oneDNN builds its kernels)
        if old and not old_repeats:
            continue
        with packed_trunk(old):
            stepper.step(batch)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, (batch, old) in cases.items():
            if old and r >= old_repeats:
                continue
            with packed_trunk(old):
                times[name].append(stepper.step(batch))
    out = {"short": float((unequal["lengths"] < crop).float().mean())}
    for name, (batch, _) in cases.items():
        if times[name]:
            out[name] = float(batch["lengths"].sum()) / statistics.median(times[name])
    return out


def _timer(log: dict[str, list[float]], name: str, fn: Callable[..., object], *args) -> object:
    start = time.perf_counter()
    value = fn(*args)
    log.setdefault(name, []).append(time.perf_counter() - start)
    return value


def _profiled_step(s: Stepper, items: list[dict], log: dict[str, list[float]]) -> None:
    batch = _timer(log, "data (collate)", collate, items)
    s.optimizer.zero_grad(set_to_none=True)
    hidden = _timer(log, "BLSTM forward", s.net.trunk, batch["features"], batch["lengths"])
    emb = _timer(log, "embedding head forward", s.net.embedding, hidden)
    loss = _timer(log, "DC loss forward", s.loss, emb, batch, s.run)
    _timer(log, "backward (all)", loss.backward)
    _timer(log, "grad clipping", torch.nn.utils.clip_grad_norm_, s.net.parameters(), 5.0)
    _timer(log, "Adam step", s.optimizer.step)
    hidden = s.net.trunk(batch["features"], batch["lengths"])
    _timer(log, "BLSTM backward alone", hidden.backward, torch.ones_like(hidden))


def profile_step(repeats: int) -> dict[str, float]:
    """Median seconds of the parts of a laptop training step (equal lengths, the corpus case)."""
    config, size, crop = SHAPES["laptop"]
    stepper = Stepper(config, size, crop)
    rng = np.random.default_rng(2)
    items = []
    for _ in range(size):
        feats = torch.as_tensor(rng.normal(size=(crop, N_FREQS)).astype(np.float32))
        items.append({"features": feats, "labels": (feats > 0).long(),
                      "weights": feats.abs() / feats.abs().sum()})
    log: dict[str, list[float]] = {}
    for _ in range(repeats + 1):  # the first is a warm-up
        _profiled_step(stepper, items, log)
    return {k: statistics.median(v[1:]) for k, v in log.items()}


def report_lengths(repeats: int, paper_old: int) -> None:
    """Print the equal/unequal comparison at both shapes and the per-frame ratio between them."""
    print(f"{'shape':<8} {'short':>6} {'equal':>7} {'eq. packed':>10} {'unequal':>8} "
          f"{'uneq. packed':>12} {'eq/uneq':>8} {'new/packed':>10} {'eq. gain':>8}  (frames/s)")
    rates = {}
    for shape in SHAPES:
        r = compare_lengths(shape, repeats, repeats if shape == "laptop" else paper_old)
        rates[shape] = r
        packed = r.get("unequal packed", float("nan"))
        eq_packed = r.get("equal packed", float("nan"))
        print(f"{shape:<8} {r['short']:>6.0%} {r['equal']:>7.0f} {eq_packed:>10.0f} "
              f"{r['unequal']:>8.0f} {packed:>12.0f} {r['equal'] / r['unequal']:>8.2f} "
              f"{r['unequal'] / packed:>10.1f} {r['equal'] / eq_packed:>8.2f}")
    flops = {shape: sum(forward_flops_per_frame(SHAPES[shape][0])) for shape in SHAPES}
    frame_ratio = rates["laptop"]["unequal"] / rates["paper"]["unequal"]
    print(f"per-frame cost, paper / laptop shape (unequal): {frame_ratio:.2f} "
          f"(the paper network does {flops['paper'] / flops['laptop']:.1f}x the FLOPs per frame)")
    print(f"per-FLOP cost, paper / laptop shape (unequal): "
          f"{frame_ratio * flops['laptop'] / flops['paper']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per network")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--lengths", action="store_true", help="equal vs unequal lengths only")
    parser.add_argument("--profile", action="store_true", help="profile a laptop step only")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (--lengths)")
    parser.add_argument("--paper-packed-repeats", type=int, default=1,
                        help="steps of the slow packed BLSTM at the paper shape (0: skip)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        for part, sec in profile_step(args.repeats).items():
            print(f"{part:<24} {1000 * sec:8.1f} ms")
        return
    if args.lengths:
        report_lengths(args.repeats, args.paper_packed_repeats)
        return
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"fp32 matmul 2048^3: {peak:.1f} GFLOP/s")
    print(f"{'network':<12} {'frames/s':>9} {'LSTM GF/s':>10} {'all GF/s':>9} "
          f"{'of matmul':>9} {'sep. RTF':>9}")
    with tempfile.TemporaryDirectory() as cache:
        for name, config in NETWORKS.items():
            r = bench_network(config, args.steps, cache)
            print(f"{name:<12} {r['frames_per_s']:>9.0f} {r['lstm_gflops']:>10.1f} "
                  f"{r['model_gflops']:>9.1f} {r['model_gflops'] / peak:>9.1%} {r['rtf']:>9.3f}")


if __name__ == "__main__":
    main()
