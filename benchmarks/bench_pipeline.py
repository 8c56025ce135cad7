"""Two pipeline costs outside the network: evaluation workers and training items.

Run: ``python benchmarks/bench_pipeline.py [--mixtures 12] [--profile smoke] [--items 100]``.

* **Evaluation workers.**  BSS-eval (512-tap filters, ``fast_bss_eval``) and STOI of 3-source
  16-kHz 4-s mixtures in a pool of two processes, as ``evaluate_model(jobs=2)`` runs them:
  workers whose BLAS / OpenMP / torch thread pools are left at the machine size (the baseline:
  a plain ``ProcessPoolExecutor``) against :func:`bootsep_lib.util.threads.worker_pool` (each pool
  capped at the worker's CPU share).
* **Training items.**  One pass over a :class:`~bootsep_lib.data.training_set.TrainingSet`
  of the profile computing every item (read WAVs, STFT, labels, weights: what every epoch cost
  before items were kept) against a pass over the items kept in memory, for ground-truth
  targets with sources (Chimera) and for spatial pseudo labels.  The profile's data must exist
  (``bootsep make-data --profile smoke``).
* **Loader against model.**  Items/s of the training DataLoader alone (batches of 40 ground-truth
  items cropped to 400 frames, iterated through the run's persistent loader,
  :func:`bootsep_lib.engine.batches.make_loader`: the first epoch, which computes the items,
  and three more, which find them kept), and reading them from the item bank
  (:mod:`bootsep_lib.data.item_bank`, built beforehand over all cores: its first epoch
  already reads the bank) with 0, 1 and 2 workers, against the items/s
  a 4x300 BLSTM (D = 15, the paper's network) consumes in training steps on 40 x 400 random
  batches on this CPU (``--steps``, a few); the ratio is what the pipeline supplies over what the
  model takes.  Smoke items are shorter than 400 frames, so the batches are shorter than the
  paper's.  On a GPU a step would take ~25-50 ms (an estimate, not measured here).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bootsep_lib.eval import evaluate_mixture
from bootsep_lib.util.threads import worker_pool

RATE, SECONDS, SOURCES = 16000, 4.0, 3


def _mixture(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    refs = rng.standard_normal((SOURCES, int(RATE * SECONDS)))
    est = 0.8 * refs + 0.2 * refs[::-1] + 0.05 * rng.standard_normal(refs.shape)
    return est, refs, refs.sum(axis=0)


def _evaluate(seed: int) -> float:
    est, refs, mix = _mixture(seed)
    return float(evaluate_mixture(est, refs, mix, RATE, bss=True, stoi=True)["sdr"].mean())


def bench_workers(n_mixtures: int, jobs: int = 2) -> dict[str, float]:
    """Seconds per mixture (wall, ``jobs`` workers) for both kinds of pool."""
    out = {}
    for name, make in (("unlimited", lambda: ProcessPoolExecutor(jobs)),
                       ("worker_pool", lambda: worker_pool(jobs))):
        with make() as pool:
            list(pool.map(_evaluate, range(jobs)))  # imports and first calls, untimed
            start = time.perf_counter()
            list(pool.map(_evaluate, range(n_mixtures)))
            out[name] = (time.perf_counter() - start) / n_mixtures
    return out


def bench_items(profile_name: str, n_items: int) -> list[dict[str, float]]:
    """Milliseconds per item, computed vs kept, for two kinds of training set."""
    from bootsep_lib.config import get_profile
    from bootsep_lib.data.training_set import TrainingSet

    profile = get_profile(profile_name)
    rows = []
    for label, kind in (("ground truth + sources", {"with_sources": True}),
                        ("spatial, alpha = 1", {"targets": "spatial", "alpha": 1.0})):
        ds = TrainingSet(profile, "tr", **kind)
        n = min(n_items, len(ds))
        timings = []
        for _ in range(2):  # first pass computes (and keeps), second reads kept items
            start = time.perf_counter()
            for i in range(n):
                ds[i]
            timings.append(1e3 * (time.perf_counter() - start) / n)
        rows.append({"set": label, "items": n, "computed_ms": timings[0], "kept_ms": timings[1],
                     "kept_mib": ds._kept_bytes / 2**20})
    return rows


def bench_loader(profile_name: str, workers: int, batch: int = 40, crop: int = 400,
                 warm_epochs: int = 3, bank: bool = False) -> tuple[float, float]:
    """Items per second of a persistent training loader: the first epoch (items computed, or
    read from the item bank) and the next ``warm_epochs`` (items kept, or read again)."""
    import torch

    from bootsep_lib.config import get_profile
    from bootsep_lib.data.item_bank import use_item_banks
    from bootsep_lib.data.training_set import TrainingSet
    from bootsep_lib.engine.batches import CroppedView, EpochBatches, item_keys, make_loader

    ds = TrainingSet(get_profile(profile_name), "tr")
    if bank:
        use_item_banks([ds], jobs=os.cpu_count() or 1, progress=False)
    sampler = EpochBatches(len(ds), batch, 0, 0, 1)
    loader = make_loader(CroppedView(ds, crop, 0, item_keys(("labels", "weights"))), sampler,
                         workers, torch.device("cpu"), 0)
    seconds = []
    for epoch in range(1 + warm_epochs):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        for _ in loader:
            pass
        seconds.append(time.perf_counter() - start)
    return len(ds) / seconds[0], warm_epochs * len(ds) / sum(seconds[1:])


def bench_model(n_steps: int, batch: int = 40, frames: int = 400) -> float:
    """Items per second a 4x300 deep clustering BLSTM trains on (CPU, float32, full batches)."""
    import torch

    from bootsep_lib.config import ModelConfig, TrainConfig
    from bootsep_lib.engine import RunConfig
    from bootsep_lib.engine.batches import collate
    from bootsep_lib.losses import get_loss
    from bootsep_lib.models import build_model

    freqs = 129
    run = RunConfig(model=ModelConfig(layers=4, units=300, embedding_dim=15),
                    train=TrainConfig(), loss="dc", n_freqs=freqs, n_sources=2, data_tag="bench")
    model = build_model("dc", freqs, run.model, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = get_loss("dc")
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(batch, frames, freqs, generator=gen)
    items = [{"features": f, "labels": (f > 0).long(), "weights": f.abs()} for f in feats]
    data = collate(items)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(data["features"], data["lengths"]), data, run).backward()
        optimizer.step()

    step()  # first call (allocations), untimed
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return n_steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=12)
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2])
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; BSS-eval + STOI, {SOURCES} sources, {RATE // 1000} kHz, "
          f"{SECONDS:g} s, 2 workers, {args.mixtures} mixtures")
    w = bench_workers(args.mixtures)
    print(f"  unlimited worker threads : {w['unlimited']:.3f} s/mixture")
    print(f"  worker_pool (capped)     : {w['worker_pool']:.3f} s/mixture  "
          f"-> {w['unlimited'] / w['worker_pool']:.2f}x")
    print(f"training items, profile {args.profile!r}, 1 process")
    for r in bench_items(args.profile, args.items):
        print(f"  {r['set']:<24} {r['items']:>5} items: computed {r['computed_ms']:.2f} ms, "
              f"kept {r['kept_ms']:.3f} ms ({r['kept_mib']:.0f} MiB) "
              f"-> {r['computed_ms'] / r['kept_ms']:.0f}x")
    model = bench_model(args.steps)
    print(f"model 4x300, batch 40 x 400 frames, CPU float32, {args.steps} steps: "
          f"{model:.1f} items/s ({40 / model:.2f} s/step; a GPU: ~25-50 ms/step, estimated)")
    print(f"loader, profile {args.profile!r} ground truth, batch 40, crop 400")
    for bank in (False, True):
        print("  items from the item bank" if bank else "  items computed, kept in each process")
        for n in args.workers:
            rates = bench_loader(args.profile, n, bank=bank)
            for label, rate in zip(("first epoch", "later epochs"), rates, strict=True):
                print(f"    {n} workers, {label:<12}: {rate:8.1f} items/s -> "
                      f"{rate / model:6.1f}x the CPU model, {rate / (40 / 0.05):5.2f}-"
                      f"{rate / (40 / 0.025):5.2f}x a GPU at 50-25 ms/step")


if __name__ == "__main__":
    main()
