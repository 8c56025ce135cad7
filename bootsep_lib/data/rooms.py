"""Rooms, 8-mic arrays and speaker positions like the spatialized wsj0-2mix recipe.

:func:`sample_scene` draws a shoebox room, an 8-mic array and the speaker positions from a
:class:`~bootsep_lib.config.Geometry` (every number is read from it); the result, a
:class:`Scene`, is what :func:`bootsep_lib.data.acoustics.simulate` renders.  The helpers
:func:`pairwise_distances`, :func:`aliasing_frequency`, :func:`tdoa`, :func:`reference_pairs`
and :func:`reference_pair_stats` describe the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyroomacoustics as pra

from bootsep_lib.config import Geometry

__all__ = [
    "SPEED_OF_SOUND",
    "GeometryError",
    "Scene",
    "sample_scene",
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
        :func:`~bootsep_lib.data.acoustics.simulate`; 0 when anechoic or not simulated yet).
    t60_measured : float
        T60 measured on the simulated impulse responses (set by
        :func:`~bootsep_lib.data.acoustics.simulate`).
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
