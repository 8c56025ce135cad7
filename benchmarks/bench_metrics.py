"""Batched Gram-matrix SI-BSS-eval versus a naive per-mixture ``lstsq`` loop.

Times :func:`bootsep_lib.eval.si_bss_eval` (SI-SDR, SI-SIR, SI-SAR and the best of the 2
permutations) on a test-set-sized workload: ``--mixtures`` (default 3,000, as wsj0-2mix tt)
two-source 4-s signals at 8 kHz (32,000 samples), float32.  Signals are generated and scored
``--chunk`` mixtures at a time (3,000 x 2 x 32,000 float32 = 768 MB per array otherwise);
only the metric calls are timed.  The naive baseline scores each mixture separately with
explicit residual signals and a ``numpy.linalg.lstsq`` projection onto the references per
(estimate, reference) pair; it is timed on ``--naive-mixtures`` mixtures and its total is
**extrapolated** linearly to the full count (printed as such).  The two are checked to agree
on that subset.

Run: ``python benchmarks/bench_metrics.py [--mixtures 3000] [--chunk 250] [--naive-mixtures 50]``
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from bootsep_lib.eval import si_bss_eval

N_SOURCES = 2
N_SAMPLES = 4 * 8000


def make_chunk(rng: np.random.Generator, n_mixtures: int) -> tuple[np.ndarray, np.ndarray]:
    """References and imperfect estimates, each (n_mixtures, 2, 32000) float32, swapped order."""
    refs = rng.standard_normal((n_mixtures, N_SOURCES, N_SAMPLES), dtype=np.float32)
    leak = rng.uniform(0.0, 0.5, (n_mixtures, N_SOURCES, 1)).astype(np.float32)
    noise = rng.standard_normal(refs.shape, dtype=np.float32)
    est = refs + leak * refs[:, ::-1] + 0.3 * noise
    return est[:, ::-1], refs


def naive_si_bss_eval(est: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """SI-SDR/SIR/SAR (3, N) of one mixture, best permutation by mean SI-SDR, via lstsq."""
    est = est.astype(np.float64) - est.mean(axis=-1, keepdims=True)
    refs = refs.astype(np.float64) - refs.mean(axis=-1, keepdims=True)
    n = refs.shape[0]
    scores = np.empty((n, n, 3))
    for i, j in itertools.product(range(n), range(n)):
        target = (est[i] @ refs[j]) / (refs[j] @ refs[j]) * refs[j]
        coef, *_ = np.linalg.lstsq(refs.T, est[i], rcond=None)
        proj = refs.T @ coef
        energy = np.sum(target**2)
        scores[i, j] = 10 * np.log10(
            energy
            / np.array(
                [
                    np.sum((est[i] - target) ** 2),
                    np.sum((proj - target) ** 2),
                    np.sum((est[i] - proj) ** 2),
                ]
            )
        )
    best = max(itertools.permutations(range(n)), key=lambda p: scores[list(p), range(n), 0].sum())
    return scores[list(best), range(n)].T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=3000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--naive-mixtures", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    batched_s = 0.0
    for start in range(0, args.mixtures, args.chunk):
        est, refs = make_chunk(rng, min(args.chunk, args.mixtures - start))
        tic = time.perf_counter()
        si_bss_eval(est, refs)
        batched_s += time.perf_counter() - tic

    est, refs = make_chunk(rng, args.naive_mixtures)
    tic = time.perf_counter()
    naive = np.stack([naive_si_bss_eval(e, r) for e, r in zip(est, refs, strict=True)])
    naive_subset_s = time.perf_counter() - tic
    batched = si_bss_eval(est, refs)
    fast = np.stack([batched[k] for k in ("si_sdr", "si_sir", "si_sar")], axis=1)
    max_diff = float(np.max(np.abs(fast - naive)))
    naive_s = naive_subset_s * args.mixtures / args.naive_mixtures

    shape = f"{args.mixtures} x {N_SOURCES} x {N_SAMPLES} float32"
    print(f"si_bss_eval (Gram matrices, batched), {shape}: {batched_s:.2f} s (measured)")
    print(
        f"naive per-mixture lstsq loop: {naive_subset_s:.2f} s measured on "
        f"{args.naive_mixtures} mixtures -> {naive_s:.1f} s EXTRAPOLATED to {args.mixtures}"
    )
    print(
        f"speed-up: {naive_s / batched_s:.1f}x; max |difference| on the subset: {max_diff:.1e} dB"
    )


if __name__ == "__main__":
    main()
