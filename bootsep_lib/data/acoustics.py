"""Source images and mixtures like the spatialized wsj0-2mix recipe (pyroomacoustics).

Given a :class:`~bootsep_lib.data.rooms.Scene` (:func:`~bootsep_lib.data.rooms.sample_scene`):

1. :func:`simulate` convolves each dry source with its room impulse responses (direct path only
   for ``anechoic``; image-source reverberation with a *calibrated* T60 for ``reverb``) and
   returns the source images ``(n_speakers, channels, samples)``.
2. :func:`mix_sources` sets the relative levels (:func:`draw_levels`), truncates to the shortest
   image (``min`` mode), peak-normalises and sums, so that ``mix == s1 + s2 (+ s3)`` holds
   exactly.

Alignment
---------
pyroomacoustics places the direct path of an impulse response at ``fs * d / c`` samples plus
half its fractional-delay filter (40 samples).  :func:`simulate` removes the delay *common to
every source and mic* -- the filter's half length plus the smallest direct-path delay over all
(source, mic) pairs, rounded down -- so the earliest direct path lands on sample 0..1 and every
inter-mic and inter-source delay is kept.  Each image keeps the length of its dry source (the
reverberant tail after the end of the utterance is cut, like the ``min`` mixtures cut it
anyway).

T60 calibration
---------------
``pyroomacoustics.inverse_sabine`` gives absorption and reflection order for a *requested*
T60, but the image-source rooms decay more slowly than Sabine's formula (0.6 s asked, about
0.79 s measured; 0.2 s asked, 0.17 s measured).  :func:`simulate` therefore measures the T60 of
a one-source / one-mic probe room (Schroeder integration, ``decay_db`` of decay extrapolated to
60 dB, :func:`pyroomacoustics.experimental.measure_rt60`) and corrects the requested value by
secant iterations until it is within ``tol`` of the target, then simulates the full room and
stores the T60 measured on *all* its impulse responses (mean) in ``scene.t60_measured``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyroomacoustics as pra
from scipy.signal import fftconvolve

from .rooms import SPEED_OF_SOUND, Scene

__all__ = ["simulate", "draw_levels", "mix_sources", "quantize_pcm16", "PCM16_SCALE"]


def _room(scene: Scene, sample_rate: int, t60_sabine: float, sources, mics) -> pra.ShoeBox:
    if t60_sabine > 0:
        e_abs, max_order = pra.inverse_sabine(t60_sabine, scene.room_dim, c=SPEED_OF_SOUND)
        room = pra.ShoeBox(scene.room_dim, fs=sample_rate, materials=pra.Material(e_abs),
                           max_order=max_order)
    else:
        room = pra.ShoeBox(scene.room_dim, fs=sample_rate, max_order=0)
    for s in sources:
        room.add_source(s)
    room.add_microphone_array(np.asarray(mics, dtype=float))
    room.compute_rir()
    return room


def _measure(rirs: Sequence[np.ndarray], sample_rate: int, decay_db: float) -> float:
    return float(np.mean([pra.experimental.measure_rt60(h, sample_rate, decay_db=decay_db)
                          for h in rirs]))


def _calibrate_t60(scene: Scene, sample_rate: int, decay_db: float, tol: float,
                   max_iter: int) -> float:
    """Requested (Sabine) T60 whose probe room measures ``scene.t60`` within ``tol``."""
    volume = float(np.prod(scene.room_dim))
    lx, ly, lz = scene.room_dim
    surface = 2.0 * (lx * ly + lx * lz + ly * lz)
    # inverse_sabine fails when the absorption would exceed 1: stay above that limit
    lowest = 1.05 * 24.0 * math.log(10.0) / SPEED_OF_SOUND * volume / surface
    target = scene.t60

    def probe(t: float) -> float:
        room = _room(scene, sample_rate, t, scene.source_positions[:1],
                     scene.mic_positions[:, :1])
        return _measure([room.rir[0][0]], sample_rate, decay_db)

    asked, got = [max(target, lowest)], []
    got.append(probe(asked[0]))
    for _ in range(max_iter):
        if abs(got[-1] - target) <= tol * target:
            break
        if len(got) == 1 or got[-1] == got[-2]:
            nxt = asked[-1] * target / got[-1]
        else:
            slope = (got[-1] - got[-2]) / (asked[-1] - asked[-2])
            nxt = asked[-1] + (target - got[-1]) / slope
        asked.append(max(float(nxt), lowest))
        got.append(probe(asked[-1]))
    best = int(np.argmin(np.abs(np.array(got) - target)))
    return float(asked[best])


def simulate(
    scene: Scene,
    sources: Sequence[np.ndarray],
    sample_rate: int,
    *,
    decay_db: float = 60.0,
    tol: float = 0.03,
    max_iter: int = 4,
) -> np.ndarray:
    """Source images at every mic of the scene.

    Parameters
    ----------
    scene : Scene
        From :func:`sample_scene`; ``scene.t60_sabine`` and ``scene.t60_measured`` are filled
        in place (reverberant scenes only).
    sources : sequence of np.ndarray, each shape (samples_i,)
        Dry mono sources, one per speaker, at ``sample_rate``.
    sample_rate : int
    decay_db : float
        Decay range of the T60 measurement (Schroeder integration, extrapolated to 60 dB).
    tol : float
        Relative tolerance of the T60 calibration on the probe room.
    max_iter : int
        Maximum number of secant corrections of the requested T60.

    Returns
    -------
    np.ndarray, float64, shape (n_speakers, channels, samples)
        ``samples`` is the longest source length; shorter images are zero padded at the end.
        Each image is aligned as described in the module docstring.
    """
    if len(sources) != scene.n_speakers:
        raise ValueError(f"{len(sources)} sources for a scene with {scene.n_speakers} speakers")
    if scene.reverberant:
        scene.t60_sabine = _calibrate_t60(scene, sample_rate, decay_db, tol, max_iter)
    room = _room(scene, sample_rate, scene.t60_sabine if scene.reverberant else 0.0,
                 scene.source_positions, scene.mic_positions)
    n_mics = scene.mic_positions.shape[1]
    if scene.reverberant:
        scene.t60_measured = _measure(
            [room.rir[m][s] for m in range(n_mics) for s in range(scene.n_speakers)],
            sample_rate, decay_db)
    src_mic = np.linalg.norm(scene.source_positions[:, :, None] - scene.mic_positions[None],
                             axis=1)
    shift = pra.constants.get("frac_delay_length") // 2 + int(
        np.floor(src_mic.min() / SPEED_OF_SOUND * sample_rate))
    length = max(len(s) for s in sources)
    images = np.zeros((scene.n_speakers, n_mics, length))
    for s, dry in enumerate(sources):
        dry = np.asarray(dry, dtype=np.float64)
        if dry.ndim != 1:
            raise ValueError(f"source {s} must be mono (samples,), got shape {dry.shape}")
        n_taps = max(len(room.rir[m][s]) for m in range(n_mics))
        rirs = np.zeros((n_mics, n_taps))
        for m in range(n_mics):
            rirs[m, : len(room.rir[m][s])] = room.rir[m][s]
        wet = fftconvolve(dry[None, :], rirs, axes=1)[:, shift : shift + len(dry)]
        images[s, :, : wet.shape[1]] = wet
    return images


def draw_levels(n_speakers: int, rng: np.random.Generator,
                level_range: tuple[float, float] = (0.0, 5.0)) -> np.ndarray:
    """Relative levels (dB) of the sources, as wsj0-2mix draws them.

    wsj0-2mix scales its two sources to ``+g/2`` and ``-g/2`` dB with ``g`` uniform in 0-5 dB.
    Generalised here: source ``i >= 1`` lies ``g_i ~ U(level_range)`` dB below source 1, and
    the levels are centred to mean 0 dB (for two speakers exactly wsj0-2mix's rule).

    Returns
    -------
    np.ndarray, shape (n_speakers,)
    """
    below = np.concatenate([[0.0], rng.uniform(*level_range, size=n_speakers - 1)])
    levels = -below
    return levels - levels.mean()


def mix_sources(
    images: np.ndarray | Sequence[np.ndarray],
    levels_db: Sequence[float],
    peak: float = 0.9,
    reference: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, truncate (``min`` mode), peak-normalise and sum source images.

    Each image is scaled so that its mean power at the ``reference`` mic, over the truncated
    length, is ``10 ** (level / 10)`` (relative levels measured on the reverberant / direct-path
    image at mic 1, not on the dry signal).  The mixture is then scaled so that its largest
    absolute sample over all channels is ``peak``, and the sources by the same factor.

    Parameters
    ----------
    images : np.ndarray, shape (n_speakers, channels, samples), or sequence of
        arrays of shape (channels, samples_i)
    levels_db : sequence of float, length n_speakers
    peak : float
    reference : int
        Channel on which the levels are set.

    Returns
    -------
    mix : np.ndarray, float32, shape (channels, samples)
        Exactly the float32 sum of ``sources`` (summed in source order).
    sources : np.ndarray, float32, shape (n_speakers, channels, samples)
        ``samples`` is the shortest image length.
    """
    if len(images) != len(levels_db):
        raise ValueError(f"{len(images)} images but {len(levels_db)} levels")
    length = min(np.asarray(x).shape[-1] for x in images)
    scaled = []
    for i, (img, level) in enumerate(zip(images, levels_db, strict=True)):
        x = np.asarray(img, dtype=np.float64)[:, :length]
        power = np.mean(x[reference] ** 2)
        if not power > 0:
            raise ValueError(f"source {i} is silent at the reference mic over {length} samples")
        scaled.append(x * 10 ** (level / 20) / np.sqrt(power))
    stack = np.stack(scaled)
    gain = peak / np.max(np.abs(stack.sum(axis=0)))
    sources = (stack * gain).astype(np.float32)
    mix = sources[0].copy()
    for s in sources[1:]:
        mix += s
    return mix, sources


PCM16_SCALE = 32768
"""Full scale of 16-bit PCM: libsndfile reads sample ``q`` as ``q / 32768`` exactly."""


def quantize_pcm16(sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantise source images to int16 and sum them as integers, so the mixture is exact.

    Each source sample becomes ``round(s * 32768)`` clipped to ``[-32768, 32767]`` (the
    ``1 / 32768`` scale libsndfile uses when it reads 16-bit PCM back as float).  The mixture is
    the integer sum of the quantised sources, so the float sources read back from disk add up to
    the float mixture read back, bit for bit.

    Parameters
    ----------
    sources : np.ndarray, shape (n_speakers, channels, samples)

    Returns
    -------
    mix : np.ndarray, int16, shape (channels, samples)
    sources : np.ndarray, int16, shape (n_speakers, channels, samples)

    Raises
    ------
    ValueError
        If the integer sum leaves the int16 range (a ``peak`` close to or above 1).
    """
    q = np.clip(np.round(np.asarray(sources, dtype=np.float64) * PCM16_SCALE),
                -PCM16_SCALE, PCM16_SCALE - 1).astype(np.int32)
    mix = q.sum(axis=0)
    lo, hi = int(mix.min()), int(mix.max())
    if lo < -PCM16_SCALE or hi > PCM16_SCALE - 1:
        raise ValueError(
            f"the 16-bit mixture overflows ({max(-lo, hi)} > {PCM16_SCALE - 1}): lower "
            "geometry.peak (0.9 leaves headroom) or use sample_format='float32'")
    return mix.astype(np.int16), q.astype(np.int16)

