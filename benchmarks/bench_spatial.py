"""Benchmark: spatial clustering + confidence, fast path vs the scikit-learn implementation.

Run ``python benchmarks/bench_spatial.py [--repeats 20]``.  On a synthetic 4-s, 8-kHz stereo
mixture of two speech-like sources (harmonic complexes with vibrato and a syllable envelope,
delayed by +1 and -1 sample between the channels, 3 dB apart) it times, on one thread:

(a) the fast path: :func:`bootsep_lib.spatial.spatial_clustering` and all three confidence
    terms (:func:`bootsep_lib.confidence.confidence_terms`, JSD with 1e5 Monte Carlo samples);
(b) the straightforward implementation of the same method: scikit-learn's PCA and
    ``GaussianMixture`` (:func:`bootsep_lib.spatial.spatial_clustering_sklearn`), a second
    ``GaussianMixture`` with one component, and the JSD from ``GaussianMixture.sample`` and
    ``score_samples`` with the same number of samples.

The paths run in turn within each repeat (a shared machine slows both alike).  It prints
milliseconds per mixture (wall and thread CPU time, median and best over the repeats), the speed
ratio and the fraction of T-F bins with the same hard label (after matching component order).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bootsep_lib.audio import stft  # noqa: E402
from bootsep_lib.confidence import (  # noqa: E402
    cluster_size_confidence,
    confidence_terms,
    posterior_confidence,
)
from bootsep_lib.spatial import (  # noqa: E402
    SpatialResult,
    spatial_clustering,
    spatial_clustering_sklearn,
)

SR = 8000
SECONDS = 4.0
JSD_SAMPLES = 100_000


def speech_like(n: int, f0: float, seed: int) -> np.ndarray:
    """Harmonic complex with vibrato on ``f0`` and a syllable-rate envelope, ``(n,)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f = f0 * (1 + 0.1 * np.sin(2 * np.pi * (0.5 + rng.random()) * t + 6 * rng.random()))
    phase = 2 * np.pi * np.cumsum(f) / SR
    harmonics = range(1, int(3800 / (1.1 * f0)))
    s = sum(np.sin(h * phase + 6 * rng.random()) / h for h in harmonics)
    envelope = np.clip(np.sin(2 * np.pi * (3 + rng.random()) * t + 6 * rng.random()), 0, None)
    return s * envelope + 1e-3 * rng.standard_normal(n)


def stereo_mixture() -> np.ndarray:
    """``(2, samples)``: source A delayed by +1 sample on channel 1, B by -1 and 3 dB softer."""
    n, pad = int(SECONDS * SR), 4
    a = speech_like(n + 2 * pad, 120.0, 1)
    b = 10 ** (-3 / 20) * speech_like(n + 2 * pad, 210.0, 2)
    left = a[pad : pad + n] + b[pad : pad + n]
    right = a[pad - 1 : pad - 1 + n] + b[pad + 1 : pad + 1 + n]
    mix = np.stack([left, right])
    return (0.9 * mix / np.abs(mix).max()).astype(np.float32)


def sklearn_path(spec: np.ndarray) -> tuple[SpatialResult, float, float, np.ndarray]:
    """The straightforward implementation: scikit-learn PCA/GMMs and sampling for the JSD."""
    from sklearn.mixture import GaussianMixture

    result = spatial_clustering_sklearn(spec)
    cl = cluster_size_confidence(result.labels, result.n_sources)
    x = result.features[result.fit_bins][:, None]
    p = GaussianMixture(1, covariance_type="full", random_state=0).fit(x)
    q = GaussianMixture(result.n_sources, covariance_type="full", random_state=0).fit(x)
    xp, _ = p.sample(JSD_SAMPLES // 2)
    xq, _ = q.sample(JSD_SAMPLES // 2)
    kl = []
    for own, other, xs in ((p, q, xp), (q, p, xq)):
        lo, lother = own.score_samples(xs), other.score_samples(xs)
        kl.append(np.mean(lo - (np.logaddexp(lo, lother) - np.log(2.0))))
    jsd = float(np.clip(0.5 * sum(kl) / np.log(2.0), 0.0, 1.0))
    return result, cl, jsd, posterior_confidence(result.posteriors)


def fast_path(spec: np.ndarray) -> tuple[SpatialResult, float, float, np.ndarray]:
    """Fast path: vectorised 1-D EM and the stratified Monte Carlo JSD."""
    result = spatial_clustering(spec)
    terms = confidence_terms(result, n_samples=JSD_SAMPLES)
    return result, terms.cl, terms.jsd, terms.post


def interleaved_ms(fns: list[Callable[[], object]], repeats: int) -> np.ndarray:
    """Wall and thread-CPU milliseconds of each call, ``(2, len(fns), repeats)``.

    The functions run in turn within each repeat, so a busy shared machine slows all of them
    alike; thread CPU time is less sensitive to other processes than wall time.
    """
    for fn in fns:
        fn()  # warm-up
    out = np.empty((2, len(fns), repeats))
    for r in range(repeats):
        for i, fn in enumerate(fns):
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            out[:, i, r] = time.perf_counter() - wall, time.thread_time() - cpu
    return 1e3 * out


def same_labels(a: np.ndarray, b: np.ndarray, n: int) -> float:
    return max(float(np.mean(a == np.asarray(p)[b])) for p in itertools.permutations(range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        mix = stereo_mixture()
        spec = stft(mix, SR)
        fns = [lambda: stft(mix, SR), lambda: fast_path(spec), lambda: sklearn_path(spec)]
        times = interleaved_ms(fns, args.repeats)
        fast, ref = fast_path(spec), sklearn_path(spec)
    agree = same_labels(fast[0].labels, ref[0].labels, fast[0].n_sources)
    print(
        f"mixture: {SECONDS:.0f} s at {SR} Hz, STFT {spec.shape}, {fast[0].fit_bins.mean():.1%} "
        f"of bins fitted, {fast[0].n_iter} EM iterations, {args.repeats} repeats, 1 thread"
    )
    print("ms per mixture            wall median   wall best   CPU median   CPU best")
    names = ("STFT (not in the paths)", "(a) fast path", "(b) scikit-learn")
    for name, wall, cpu in zip(names, times[0], times[1], strict=True):
        print(
            f"{name:<24} {np.median(wall):12.2f} {wall.min():11.2f} "
            f"{np.median(cpu):12.2f} {cpu.min():10.2f}"
        )
    for name, out in (("(a)", fast), ("(b)", ref)):
        print(f"{name} C_cl {out[1]:.4f}, C_JSD {out[2]:.4f}, mean C_post {out[3].mean():.4f}")
    ratio_wall = np.median(times[0, 2] / times[0, 1])
    ratio_cpu = np.median(times[1, 2] / times[1, 1])
    print(
        f"speed ratio (b)/(a), median of per-repeat ratios: wall {ratio_wall:.1f}x, "
        f"CPU {ratio_cpu:.1f}x"
    )
    print(f"same hard labels: {agree:.4%}")


if __name__ == "__main__":
    main()
