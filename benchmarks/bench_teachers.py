"""Benchmark: every registered teacher per 4-s mixture on one core, against ``ipd-gmm``.

Run ``python benchmarks/bench_teachers.py [--repeats 5] [--profile laptop --room reverb]``.

Without ``--profile`` the mixture is synthetic: 4 s at 8 kHz, two speech-like sources
(harmonic complexes with vibrato and a syllable envelope) on 4 mics with integer delays.
With ``--profile`` / ``--room`` it is each of the first ``--mixtures`` test mixtures of that
room of the profile's corpus, cut or zero-padded to 4 s (mics 1-4).  The teachers run in turn
within each repeat (a shared machine slows all alike), on one thread; it prints milliseconds per
mixture (median and best of thread CPU time), the ratio to ``ipd-gmm`` timed in the same run,
the peak of NumPy allocations during one call (``tracemalloc``; FastMNMF2 keeps
(freqs, frames, mics, mics) arrays), and the masks' SI-SDR on mic 1 when references are known.

``--overiva`` instead compares, on the corpus mixtures, pyroomacoustics' over-determined
AuxIVA (``auxiva(X, n_src=2)`` on 4 mics, identity start) with the principal-component
reduction that ``auxiva-4ch`` uses, scoring the separated signals (see
:mod:`bootsep_lib.spatial.bss_teachers`).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import pyroomacoustics as pra  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from bootsep_lib.config import SpatialConfig, get_profile  # noqa: E402
from bootsep_lib.data.subsets import Subset, open_split  # noqa: E402
from bootsep_lib.dsp import istft, stft  # noqa: E402
from bootsep_lib.eval import evaluate_mixture  # noqa: E402
from bootsep_lib.spatial import get_teacher, teacher_names  # noqa: E402
from bootsep_lib.spatial.bss_teachers import bss_images  # noqa: E402

SR = 8000
SECONDS = 4.0


def speech_like(n: int, f0: float, seed: int) -> np.ndarray:
    """Harmonic complex with vibrato on ``f0`` and a syllable-rate envelope, ``(n,)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f = f0 * (1 + 0.08 * np.sin(2 * np.pi * (0.5 + rng.random()) * t + 6 * rng.random()))
    phase = 2 * np.pi * np.cumsum(f) / SR
    s = sum(np.sin(h * phase + 6 * rng.random()) / h for h in range(1, int(3800 / f0 / 1.1)))
    return s * np.clip(np.sin(2 * np.pi * (2 + rng.random()) * t + 6 * rng.random()), 0, None)


def synthetic() -> list[tuple[np.ndarray, np.ndarray]]:
    """One 4-mic mixture (4, samples) and its mic-1 images (2, samples)."""
    n, pad = int(SECONDS * SR), 8
    sources = [speech_like(n + 2 * pad, 130.0, 1), 0.7 * speech_like(n + 2 * pad, 220.0, 2)]
    delays = ((0, 1, 2, -1), (0, -1, -2, 1))
    images = np.stack([np.stack([s[pad - d: pad - d + n] for d in ds])
                       for s, ds in zip(sources, delays, strict=True)])
    return [(images.sum(0), images[:, 0])]


def corpus(profile: str, room: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``count`` test mixtures of ``room``, mics 1-4, cut / padded to 4 s."""
    prof = get_profile(profile)
    ds = open_split(prof, "tt", subset=Subset(2, room, 8000), channels=(0, 1, 2, 3))
    n = int(SECONDS * SR)
    out = []
    for i in range(min(count, len(ds))):
        item = ds[i]
        mix = np.zeros((4, n))
        refs = np.zeros((2, n))
        m = min(n, item["mix"].shape[-1])
        mix[:, :m] = item["mix"].numpy()[:, :m]
        refs[:, :m] = item["sources"].numpy()[:, 0, :m]
        out.append((mix, refs))
    return out


def masked_si_sdr(masks: np.ndarray, mix: np.ndarray, refs: np.ndarray, cfg) -> float:
    est = istft(masks * stft(mix[0], SR, cfg.window_ms, cfg.hop_ms), SR, mix.shape[-1],
                cfg.window_ms, cfg.hop_ms)
    return float(evaluate_mixture(est, refs, mix[0], SR)["si_sdr"].mean())


def time_teachers(mixtures, repeats: int, n_iter: int) -> None:
    cfg = SpatialConfig(freq_normalize=True)
    names = teacher_names()
    cpu = {n: [] for n in names}
    peak, score = {}, {n: [] for n in names}
    for _ in range(repeats):
        for mix, refs in mixtures:
            for name in names:
                kw = {"n_iter": n_iter} if name != "ipd-gmm" else {}
                start = time.thread_time()
                out = get_teacher(name)(mix, SR, cfg, seed=0, **kw)
                cpu[name].append(time.thread_time() - start)
                if len(score[name]) < len(mixtures):
                    score[name].append(masked_si_sdr(out.masks, mix, refs, cfg))
    for name in names:
        tracemalloc.start()
        get_teacher(name)(mixtures[0][0], SR, cfg, seed=0,
                          **({"n_iter": n_iter} if name != "ipd-gmm" else {}))
        peak[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    base = np.median(cpu["ipd-gmm"])
    print(f"{'teacher':<16}{'median ms':>10}{'best ms':>9}{'x ipd-gmm':>10}{'peak MiB':>9}"
          f"{'SI-SDR':>8}")
    for name in names:
        t = np.asarray(cpu[name]) * 1000
        print(f"{name:<16}{np.median(t):>10.1f}{t.min():>9.1f}{np.median(t) / base / 1000:>10.1f}"
              f"{peak[name]:>9.1f}{np.mean(score[name]):>8.2f}")


def overiva(mixtures, n_iter: int) -> None:
    rows = []
    for mix, refs in mixtures:
        x = stft(mix, SR).transpose(1, 2, 0)
        y = pra.bss.auxiva(x, n_src=2, n_iter=n_iter)
        over = istft(y.transpose(2, 0, 1), SR, mix.shape[-1])
        reduced = bss_images(mix, SR, method="auxiva", channels=4, n_src=2, n_iter=n_iter,
                             window_ms=32.0)
        stereo = bss_images(mix, SR, method="auxiva", channels=2, n_src=2, n_iter=n_iter,
                            window_ms=32.0)
        rank = np.linalg.eigvalsh(np.einsum("tfc,tfd->fcd", x, x.conj()))  # ascending
        rows.append([float(evaluate_mixture(e, refs, mix[0], SR)["si_sdr"].mean())
                     for e in (over, reduced, stereo)]
                    + [float(np.median(rank[:, 1] / rank[:, 3]))])
    mean = np.mean(rows, axis=0)
    print(f"{len(rows)} mixtures, SI-SDR of the separated signals: OverIVA (4 mics) "
          f"{mean[0]:.2f} dB, PCA + AuxIVA (4 mics) {mean[1]:.2f} dB, AuxIVA (mics 1-2) "
          f"{mean[2]:.2f} dB; median 3rd / 1st eigenvalue of the 4-mic covariance "
          f"{mean[3]:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-iter", type=int, default=30)
    parser.add_argument("--profile")
    parser.add_argument("--room", default="anechoic")
    parser.add_argument("--mixtures", type=int, default=3)
    parser.add_argument("--overiva", action="store_true")
    args = parser.parse_args()
    mixtures = corpus(args.profile, args.room, args.mixtures) if args.profile else synthetic()
    with threadpool_limits(1):
        if args.overiva:
            overiva(mixtures, args.n_iter)
        else:
            time_teachers(mixtures, args.repeats, args.n_iter)


if __name__ == "__main__":
    main()
