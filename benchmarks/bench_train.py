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
  computation per second of audio: network, K-means, iSTFT).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import Dataset

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.models import load_model
from bootsep_lib.separate import separate

RATE, N_FREQS, FRAMES, BATCH = 8000, 129, 250, 16
NETWORKS = {"2x128 D=20": ModelConfig(2, 128, 20), "4x300 D=15": ModelConfig(4, 300, 15)}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per network")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
