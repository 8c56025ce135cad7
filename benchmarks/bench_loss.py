"""Low-rank weighted deep clustering loss versus the brute-force bins x bins form.

The low-rank form (``||V^T W V||^2 - 2 ||V^T W Y||^2 + ||Y^T W Y||^2``, Eq. 2 of the M-DC
paper with the weights of Eq. 8-9 of the bootstrapping paper) is timed at the training size
(batch 16 x 250 frames x 129 freqs = 32,250 bins per item, D = 20).  The brute force
``||W^1/2 (V V^T - Y Y^T) W^1/2||_F^2`` (Eq. 8) needs a ``bins x bins`` matrix -- 1.0e9
floats (4.2 GB) per item at that size -- so it is timed on one item of fewer bins, where the
low-rank form is timed too; the ratio printed is measured in this run at that size.  Times
are forward + backward, median of ``--repeats`` runs after one warm-up.

One thread by default: on a shared two-core machine, two OpenMP threads stall for whole
scheduler time slices (~16 ms per parallel operation measured under load), which swamps the
low-rank timings.

Run: ``python benchmarks/bench_loss.py [--brute-frames 50] [--repeats 5] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from bootsep_lib.losses import deep_clustering_loss
from bootsep_lib.targets import one_hot_targets

N_FREQS = 129
EMBEDDING_DIM = 20
N_SOURCES = 2


def brute_force_loss(
    embeddings: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Eq. 8 with explicit ``(batch, bins, bins)`` affinity matrices, shape (batch,)."""
    root = weights.sqrt().unsqueeze(-1)
    v, y = root * embeddings, root * targets
    affinity = torch.bmm(v, v.transpose(1, 2)) - torch.bmm(y, y.transpose(1, 2))
    return affinity.square().sum(dim=(1, 2))


def autograd_low_rank_loss(
    embeddings: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """The same low-rank form, differentiated by autograd (the library uses an analytic one)."""
    wv, wy = weights.unsqueeze(-1) * embeddings, weights.unsqueeze(-1) * targets
    vv = torch.bmm(wv.transpose(1, 2), embeddings).square().sum(dim=(1, 2))
    vy = torch.bmm(wv.transpose(1, 2), targets).square().sum(dim=(1, 2))
    yy = torch.bmm(wy.transpose(1, 2), targets).square().sum(dim=(1, 2))
    return vv - 2.0 * vy + yy


def _inputs(batch: int, frames: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    bins = frames * N_FREQS
    v = F.normalize(torch.randn(batch, bins, EMBEDDING_DIM, generator=g), dim=-1)
    labels = torch.randint(0, N_SOURCES, (batch, bins), generator=g)
    weights = torch.rand(batch, bins, generator=g)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return v.requires_grad_(True), one_hot_targets(labels, N_SOURCES), weights


def _time_ms(
    loss_fns: dict[str, Callable], inputs: tuple[torch.Tensor, ...], repeats: int
) -> dict[str, tuple[float, float]]:
    """Median forward + backward wall time (ms) and loss of each function, runs interleaved.

    Interleaving (a, b, a, b, ...) spreads any change in machine load over all functions.
    """
    v, y, w = inputs
    times: dict[str, list[float]] = {name: [] for name in loss_fns}
    values: dict[str, float] = {}
    for run in range(repeats + 1):
        for name, loss_fn in loss_fns.items():
            v.grad = None
            start = time.perf_counter()
            loss = loss_fn(v, y, w).sum()
            loss.backward()
            elapsed = (time.perf_counter() - start) * 1e3
            if run:  # the first round is a warm-up
                times[name].append(elapsed)
            values[name] = loss.item()
    return {name: (statistics.median(times[name]), values[name]) for name in loss_fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--brute-frames", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU")
    full_bins = args.frames * N_FREQS
    full = _time_ms(
        {"analytic": deep_clustering_loss, "autograd": autograd_low_rank_loss},
        _inputs(args.batch, args.frames),
        args.repeats,
    )
    print(
        f"low-rank, batch {args.batch} x {full_bins:,} bins (D={EMBEDDING_DIM}): "
        f"{full['analytic'][0]:.1f} ms (analytic gradient, the library), "
        f"{full['autograd'][0]:.1f} ms (autograd gradient)"
    )

    small_bins = args.brute_frames * N_FREQS
    small = _time_ms(
        {"low-rank": deep_clustering_loss, "brute force": brute_force_loss},
        _inputs(1, args.brute_frames, seed=1),
        args.repeats,
    )
    low_ms, low_value = small["low-rank"]
    brute_ms, brute_value = small["brute force"]
    print(f"low-rank,    1 x {small_bins:,} bins: {low_ms:.2f} ms (loss {low_value:.6g})")
    print(
        f"brute force, 1 x {small_bins:,} bins: {brute_ms:.2f} ms (loss {brute_value:.6g}; "
        f"{small_bins**2 / 1e6:.1f}M-entry affinity matrix)"
    )
    print(f"measured ratio at {small_bins:,} bins: brute / low-rank = {brute_ms / low_ms:.0f}x")
    scale = (full_bins / small_bins) ** 2 * args.batch
    print(
        f"extrapolated (not measured) brute force at batch {args.batch} x {full_bins:,} bins: "
        f"~{brute_ms * scale / 1e3:.0f} s and {full_bins**2 * 4 / 1e9:.1f} GB per affinity "
        f"matrix per item"
    )


if __name__ == "__main__":
    main()
