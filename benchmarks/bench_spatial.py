"""Benchmark: spatial clustering + confidence, fast path vs a scikit-learn implementation.

Run ``python benchmarks/bench_spatial.py [--repeats 20]``.  On a synthetic 4-s, 8-kHz stereo
mixture of two speech-like sources (harmonic complexes with vibrato and a syllable envelope,
delayed by +1 and -1 sample between the channels, 3 dB apart) it times, on one thread, for
``freq_normalize`` False (the paper's text) and True (the authors' code, the built-in profiles):

(a) the fast path: :func:`bootsep_lib.spatial.spatial_clustering` and all three confidence
    terms (:func:`bootsep_lib.spatial.confidence.confidence_terms`, JSD with 1e5 Monte Carlo
    samples);
(b) the straightforward implementation of the same method: numpy IPD features in the STFT's
    precision and the fit mask, ``sklearn.decomposition.PCA`` fit on the loud bins,
    ``GaussianMixture(covariance_type="full")`` fit on their feature (the fast path's
    ``reg_covar``, ``tol``, ``max_iter`` and seed), ``predict_proba`` on every bin, a
    one-component ``GaussianMixture`` and the JSD from ``GaussianMixture.sample`` and
    ``score_samples`` with the same number of samples (half from each mixture).

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
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bootsep_lib.dsp import stft  # noqa: E402
from bootsep_lib.spatial import REG_COVAR, fit_mask, spatial_clustering  # noqa: E402
from bootsep_lib.spatial.confidence import (  # noqa: E402
    cluster_size_confidence,
    confidence_terms,
    posterior_confidence,
)

SR = 8000
SECONDS = 4.0
JSD_SAMPLES = 100_000
N_SOURCES = 2


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


def sklearn_path(
    spec: np.ndarray, freq_normalize: bool
) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """The straightforward implementation: numpy features, scikit-learn PCA/GMMs, sampled JSD.

    Returns labels, posteriors, ``C_cl``, ``C_JSD`` and ``C_post``.
    """
    fit = fit_mask(spec).ravel()
    theta = np.angle(spec[0] * np.conj(spec[1]))
    if freq_normalize:
        theta /= np.linspace(1.0, 1.0 + np.pi, theta.shape[-1], dtype=theta.dtype)
    features = np.stack([np.cos(theta).ravel(), np.sin(theta).ravel()], axis=1)
    phi = PCA(n_components=1).fit(features[fit]).transform(features)
    q = GaussianMixture(
        N_SOURCES, covariance_type="full", reg_covar=REG_COVAR, tol=1e-6, random_state=0
    ).fit(phi[fit])
    posteriors = q.predict_proba(phi).T.reshape(N_SOURCES, *theta.shape)
    labels = posteriors.argmax(axis=0)
    cl = cluster_size_confidence(labels, N_SOURCES)
    p = GaussianMixture(
        1, covariance_type="full", reg_covar=REG_COVAR, tol=1e-6, random_state=0
    ).fit(phi[fit])
    kl = []
    for own, other in ((p, q), (q, p)):
        xs, _ = own.sample(JSD_SAMPLES // 2)
        lo, lother = own.score_samples(xs), other.score_samples(xs)
        kl.append(np.mean(lo - (np.logaddexp(lo, lother) - np.log(2.0))))
    jsd = float(np.clip(0.5 * sum(kl) / np.log(2.0), 0.0, 1.0))
    return labels, posteriors, cl, jsd, posterior_confidence(posteriors)


def fast_path(
    spec: np.ndarray, freq_normalize: bool
) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """Fast path: :func:`spatial_clustering` and :func:`confidence_terms`, same outputs."""
    result = spatial_clustering(spec, N_SOURCES, freq_normalize=freq_normalize)
    terms = confidence_terms(result, n_samples=JSD_SAMPLES)
    return result.labels, result.posteriors, terms.cl, terms.jsd, terms.post


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
    mix = stereo_mixture()
    spec = stft(mix, SR)
    print(f"mixture: {SECONDS:.0f} s at {SR} Hz, {args.repeats} repeats, 1 thread")
    for freq_normalize in (False, True):
        with threadpool_limits(limits=1):
            fns = [
                lambda: stft(mix, SR),
                lambda fn=freq_normalize: fast_path(spec, fn),
                lambda fn=freq_normalize: sklearn_path(spec, fn),
            ]
            times = interleaved_ms(fns, args.repeats)
            fast, ref = fast_path(spec, freq_normalize), sklearn_path(spec, freq_normalize)
            result = spatial_clustering(spec, N_SOURCES, freq_normalize=freq_normalize)
        print(
            f"\nfreq_normalize={freq_normalize}: STFT {spec.shape}, {result.fit_bins.mean():.1%} "
            f"of bins fitted, {result.n_iter} EM iterations"
        )
        print("ms per mixture            wall median   wall best   CPU median   CPU best")
        names = ("STFT (not in the paths)", "(a) fast path", "(b) scikit-learn")
        for name, wall, cpu in zip(names, times[0], times[1], strict=True):
            print(
                f"{name:<24} {np.median(wall):12.2f} {wall.min():11.2f} "
                f"{np.median(cpu):12.2f} {cpu.min():10.2f}"
            )
        for name, out in (("(a)", fast), ("(b)", ref)):
            print(f"{name} C_cl {out[2]:.4f}, C_JSD {out[3]:.4f}, mean C_post {out[4].mean():.4f}")
        ratio_wall = np.median(times[0, 2] / times[0, 1])
        ratio_cpu = np.median(times[1, 2] / times[1, 1])
        print(
            f"speed ratio (b)/(a), median of per-repeat ratios: wall {ratio_wall:.1f}x, "
            f"CPU {ratio_cpu:.1f}x"
        )
        print(f"same hard labels: {same_labels(fast[0], ref[0], N_SOURCES):.4%}")


if __name__ == "__main__":
    main()
