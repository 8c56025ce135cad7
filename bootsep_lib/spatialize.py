"""Rooms, 8-mic arrays and source images like the spatialized wsj0-2mix recipe (pyroomacoustics).

One mixture is made in three steps:

1. :func:`sample_scene` draws a shoebox room, an 8-mic array and the speaker positions from a
   :class:`~bootsep_lib.config.Geometry` (every number is read from it).
2. :func:`simulate` convolves each dry source with its room impulse responses (direct path only
   for ``anechoic``; image-source reverberation with a *calibrated* T60 for ``reverb``) and
   returns the source images ``(n_speakers, channels, samples)``.
3. :func:`mix_sources` sets the relative levels, truncates to the shortest image (``min``
   mode), peak-normalises and sums, so that ``mix == s1 + s2 (+ s3)`` holds exactly.

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyroomacoustics as pra
from scipy.signal import fftconvolve

from .config import Geometry

__all__ = [
    "SPEED_OF_SOUND",
    "GeometryError",
    "Scene",
    "sample_scene",
    "simulate",
    "draw_levels",
    "mix_sources",
    "pairwise_distances",
    "aliasing_frequency",
    "tdoa",
    "reference_pairs",
    "reference_pair_stats",
]

SPEED_OF_SOUND: float = float(pra.constants.get("c"))
"""Speed of sound (m/s) used by pyroomacoustics and by every delay computed here."""

_MAX_TRIES = 2_000


class GeometryError(ValueError):
    """A geometry whose constraints cannot be met (e.g. speakers that cannot be 1 m apart)."""


@dataclass
class Scene:
    """One room, one microphone array and the speaker positions (lengths in metres).

    Attributes
    ----------
    room_dim : np.ndarray, shape (3,)
        Room size ``(x, y, z)``.
    array_center : np.ndarray, shape (3,)
    array_radius : float
        Radius of the sphere on which mics 1-2 lie and inside which the others lie.
    mic_positions : np.ndarray, shape (3, mics)
        Column ``m`` is mic ``m + 1`` (mic 1, index 0, is the reference).
    source_positions : np.ndarray, shape (n_speakers, 3)
    t60 : float
        Target reverberation time in seconds; 0 for an anechoic scene.
    t60_sabine : float
        T60 passed to ``pyroomacoustics.inverse_sabine`` after calibration (set by
        :func:`simulate`; 0 when anechoic or not simulated yet).
    t60_measured : float
        T60 measured on the simulated impulse responses (set by :func:`simulate`).
    """

    room_dim: np.ndarray
    array_center: np.ndarray
    array_radius: float
    mic_positions: np.ndarray
    source_positions: np.ndarray
    t60: float = 0.0
    t60_sabine: float = 0.0
    t60_measured: float = 0.0

    @property
    def n_speakers(self) -> int:
        """Number of sources."""
        return int(self.source_positions.shape[0])

    @property
    def reverberant(self) -> bool:
        """True when the scene asks for reverberation (``t60 > 0``)."""
        return self.t60 > 0

    @property
    def azimuths(self) -> np.ndarray:
        """Horizontal angle of each speaker seen from the array centre, degrees in (-180, 180].

        Returns
        -------
        np.ndarray, shape (n_speakers,)
        """
        d = self.source_positions - self.array_center[None, :]
        return np.degrees(np.arctan2(d[:, 1], d[:, 0]))

    @property
    def elevations(self) -> np.ndarray:
        """Elevation of each speaker seen from the array centre, degrees, shape (n_speakers,)."""
        d = self.source_positions - self.array_center[None, :]
        return np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))

    @property
    def distances(self) -> np.ndarray:
        """Distance of each speaker to the array centre (m), shape (n_speakers,)."""
        return np.linalg.norm(self.source_positions - self.array_center[None, :], axis=1)

    @property
    def mic_distances(self) -> np.ndarray:
        """Pairwise mic distances (m), shape (mics, mics)."""
        return pairwise_distances(self.mic_positions)

    def to_dict(self) -> dict:
        """JSON-serialisable description (positions as nested lists, angles in degrees)."""
        return {
            "room_dims": self.room_dim.tolist(),
            "array_center": self.array_center.tolist(),
            "array_radius": float(self.array_radius),
            "mic_positions": self.mic_positions.tolist(),
            "source_positions": self.source_positions.tolist(),
            "azimuths": self.azimuths.tolist(),
            "elevations": self.elevations.tolist(),
            "distances": self.distances.tolist(),
            "t60_requested": float(self.t60),
            "t60_sabine": float(self.t60_sabine),
            "t60_measured": float(self.t60_measured),
        }


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _unit_vector(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _in_ball(rng: np.random.Generator, center: np.ndarray, radius: float) -> np.ndarray:
    """A point drawn uniformly inside the ball."""
    return center + radius * rng.uniform() ** (1.0 / 3.0) * _unit_vector(rng)


def _sample_mics(geometry: Geometry, rng: np.random.Generator, center: np.ndarray, radius: float):
    n = geometry.n_mics
    mics: list[np.ndarray] = []
    u = _unit_vector(rng)
    mics += [center + radius * u, center - radius * u][: min(n, 2)]
    n_inner = min(max(n - 2, 0), 2)
    for _ in range(_MAX_TRIES):
        inner = [_in_ball(rng, center, radius) for _ in range(n_inner)]
        if n_inner < 2 or np.linalg.norm(inner[0] - inner[1]) >= geometry.inner_min_spacing:
            break
    else:
        raise GeometryError(
            f"could not place mics 3-4 {geometry.inner_min_spacing} m apart inside a sphere of "
            f"radius {radius:.3f} m in {_MAX_TRIES} tries; lower Geometry.inner_min_spacing"
        )
    mics += inner
    mics += [_in_ball(rng, center, radius) for _ in range(n - len(mics))]
    return np.stack(mics, axis=1)


def _sample_speakers(
    geometry: Geometry, rng: np.random.Generator, n: int, center: np.ndarray, room: np.ndarray
) -> np.ndarray:
    r = geometry.speaker_xy_range
    for _ in range(_MAX_TRIES):
        xy = center[:2][None, :] + rng.uniform(-r, r, size=(n, 2))
        z = rng.uniform(*geometry.speaker_height, size=(n, 1))
        pos = np.concatenate([xy, z], axis=1)
        inside = np.all((pos > 0) & (pos < room[None, :]))
        to_array = np.linalg.norm(pos - center[None, :], axis=1)
        far = np.all(to_array >= geometry.min_distance_to_array)
        sep = pairwise_distances(pos.T)[np.triu_indices(n, 1)]
        if inside and far and np.all(sep >= geometry.min_speaker_distance):
            return pos
    raise GeometryError(
        f"could not place {n} speakers within +/-{r} m of the array, "
        f">= {geometry.min_distance_to_array} m from it and >= {geometry.min_speaker_distance} m "
        f"apart in {_MAX_TRIES} tries; widen Geometry.speaker_xy_range or lower the distances"
    )


def sample_scene(
    geometry: Geometry, n_speakers: int, rng: np.random.Generator, reverberant: bool
) -> Scene:
    """Draw a room, an array and speaker positions following the spatialized wsj0-2mix recipe.

    The random draws do not depend on ``reverberant`` (the T60 is always drawn, then set to 0
    for an anechoic scene), so the anechoic and reverberant versions of one seed share the
    room, the array and the speakers -- as in spatialized wsj0-2mix.

    Parameters
    ----------
    geometry : Geometry
        Ranges and distances (see :class:`~bootsep_lib.config.Geometry`).
    n_speakers : int
    rng : np.random.Generator
    reverberant : bool
        Draw a T60 in ``geometry.t60`` (True) or make an anechoic scene (False).

    Returns
    -------
    Scene

    Raises
    ------
    GeometryError
        When the distance constraints cannot be met within a bounded number of tries.
    """
    if n_speakers < 1:
        raise ValueError(f"n_speakers must be >= 1, got {n_speakers}")
    room = np.array([_uniform(rng, geometry.room_x), _uniform(rng, geometry.room_y),
                     _uniform(rng, geometry.room_z)])
    jitter = rng.uniform(-geometry.array_center_jitter, geometry.array_center_jitter, size=2)
    center = np.array([*(room[:2] / 2 + jitter), _uniform(rng, geometry.array_height)])
    radius = _uniform(rng, geometry.array_radius)
    mics = _sample_mics(geometry, rng, center, radius)
    if np.any(mics <= 0) or np.any(mics >= room[:, None]):
        raise GeometryError(f"the array (centre {center}, radius {radius}) leaves the room {room}")
    speakers = _sample_speakers(geometry, rng, n_speakers, center, room)
    t60 = _uniform(rng, geometry.t60)
    return Scene(room, center, radius, mics, speakers, t60=t60 if reverberant else 0.0)


def pairwise_distances(positions: np.ndarray) -> np.ndarray:
    """Euclidean distances between points.

    Parameters
    ----------
    positions : np.ndarray, shape (3, points)

    Returns
    -------
    np.ndarray, shape (points, points)
    """
    diff = positions[:, :, None] - positions[:, None, :]
    return np.sqrt(np.sum(diff**2, axis=0))


def aliasing_frequency(distance: float | np.ndarray, c: float = SPEED_OF_SOUND):
    """Lowest frequency at which a mic pair aliases spatially, ``c / (2 d)`` (Hz).

    Above it the inter-mic phase difference of an end-fire source exceeds pi and wraps, so IPD
    features become ambiguous.  At 8 kHz sampling a pair is alias-free only if
    ``d <= c / 8000`` (about 4.3 cm).
    """
    return c / (2.0 * np.asarray(distance, dtype=float))


def tdoa(scene: Scene, source: int, mic_a: int, mic_b: int) -> float:
    """Time difference of arrival (s) of a source's direct path at ``mic_b`` minus ``mic_a``.

    Mic indices are 0-based (0 = mic 1).  Positive when the source reaches ``mic_a`` first.
    """
    s = scene.source_positions[source]
    da = np.linalg.norm(s - scene.mic_positions[:, mic_a])
    db = np.linalg.norm(s - scene.mic_positions[:, mic_b])
    return float((db - da) / SPEED_OF_SOUND)


def reference_pairs(scene: Scene, others: Sequence[int] = (1, 2, 3)) -> list[dict]:
    """Distance and aliasing frequency of the pairs (mic 1, mic k) used for training.

    Parameters
    ----------
    scene : Scene
    others : sequence of int
        0-based indices of the second mic (default mics 2-4, the paper's random pair).

    Returns
    -------
    list of dict
        ``{"pair": "1-k", "distance_m": float, "aliasing_hz": float}`` per pair.
    """
    d = scene.mic_distances
    return [
        {"pair": f"1-{k + 1}", "distance_m": float(d[0, k]),
         "aliasing_hz": float(aliasing_frequency(d[0, k]))}
        for k in others
    ]


def reference_pair_stats(
    geometry: Geometry, n_scenes: int = 2000, seed: int = 0, sample_rate: int = 8000
) -> pd.DataFrame:
    """What the pairs (mic 1, mic k), k = 2..4, look like under a geometry.

    Parameters
    ----------
    geometry : Geometry
    n_scenes : int
        Number of arrays drawn.
    seed : int
    sample_rate : int
        Used for the share of pairs free of spatial aliasing below Nyquist.

    Returns
    -------
    pandas.DataFrame
        One row per pair: distance quantiles (cm), median aliasing frequency (Hz) and the
        share of arrays whose pair does not alias below ``sample_rate / 2``.
    """
    rng = np.random.default_rng(seed)
    dists = []
    for _ in range(n_scenes):
        radius = _uniform(rng, geometry.array_radius)
        mics = _sample_mics(geometry, rng, np.zeros(3), radius)
        dists.append(np.linalg.norm(mics[:, 1:4] - mics[:, :1], axis=0))
    dist = np.array(dists)
    rows = []
    for j in range(dist.shape[1]):
        d = dist[:, j]
        rows.append({
            "pair": f"1-{j + 2}",
            "min_cm": 100 * d.min(),
            "q10_cm": 100 * np.quantile(d, 0.1),
            "median_cm": 100 * np.median(d),
            "q90_cm": 100 * np.quantile(d, 0.9),
            "max_cm": 100 * d.max(),
            "median_aliasing_hz": float(np.median(aliasing_frequency(d))),
            "alias_free_share": float(np.mean(aliasing_frequency(d) >= sample_rate / 2)),
        })
    return pd.DataFrame(rows)


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
