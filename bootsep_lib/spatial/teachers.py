"""Blind teachers: a multichannel mixture -> soft masks at the reference mic + a confidence.

A teacher is what the bootstrapping method learns from: any blind (unsupervised) multichannel
separation whose per-bin masks on the reference microphone become the network's pseudo labels,
weighted by how far the teacher trusts them.  The paper's teacher is the spatial clustering of
this package (IPD -> PCA -> 1-D GMM, with the confidence of Eq. 4-7), registered as
``"ipd-gmm"``.  Another teacher (AuxIVA, ILRMA, FastMNMF, ...) is one function with the
:class:`Teacher` signature, registered with ``@register_teacher("name")``; code that takes a
teacher name looks it up with :func:`get_teacher`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import stft

from .clustering import SpatialWarning, spatial_clustering
from .confidence import confidence_terms

__all__ = ["Teacher", "TeacherOutput", "register_teacher", "get_teacher", "teacher_names"]


@dataclass(frozen=True, eq=False)
class TeacherOutput:
    """What a teacher returns for one mixture.

    Attributes
    ----------
    masks : np.ndarray, float, shape (sources, frames, freqs)
        Soft masks at the reference microphone (channel 0 of the mixture given to the teacher),
        summing to 1 over sources, on the STFT of ``SpatialConfig``'s window and hop.
    confidence : np.ndarray, float, shape (frames, freqs)
        Per-bin confidence in ``[0, 1]`` (a per-mixture confidence is broadcast to every bin).
    degenerate : bool
        True when the teacher could not separate the mixture (then ``confidence`` is 0).
    images : np.ndarray, shape (sources, samples), optional
        The separated source images at the reference microphone, for teachers that make
        signals (the BSS teachers) rather than only masks; scoring only.
    """

    masks: np.ndarray
    confidence: np.ndarray
    degenerate: bool = False
    images: np.ndarray | None = None


class Teacher(Protocol):
    """``teacher(mixture, sample_rate, cfg, seed=...) -> TeacherOutput``.

    ``mixture`` is ``(channels, samples)`` with the reference microphone first; ``cfg`` gives
    the STFT (window, hop) and the number of sources.
    """

    def __call__(
        self, mixture: np.ndarray, sample_rate: int, cfg: SpatialConfig, *, seed: int = 0
    ) -> TeacherOutput: ...


_TEACHERS: dict[str, Teacher] = {}


def register_teacher(name: str) -> Callable[[Teacher], Teacher]:
    """Decorator registering a :class:`Teacher` under ``name`` (a name can be taken once)."""

    def register(teacher: Teacher) -> Teacher:
        if name in _TEACHERS:
            raise ValueError(f"a teacher named {name!r} is already registered")
        _TEACHERS[name] = teacher
        return teacher

    return register


def teacher_names() -> list[str]:
    """The registered teacher names, sorted."""
    return sorted(_TEACHERS)


def get_teacher(name: str) -> Teacher:
    """The teacher registered as ``name``; ValueError listing the known names otherwise."""
    try:
        return _TEACHERS[name]
    except KeyError:
        known = ", ".join(repr(n) for n in teacher_names())
        raise ValueError(f"unknown teacher {name!r}; known teachers: {known}") from None


@register_teacher("ipd-gmm")
def ipd_gmm_teacher(
    mixture: np.ndarray, sample_rate: int, cfg: SpatialConfig, *, seed: int = 0
) -> TeacherOutput:
    """The paper's teacher: spatial clustering of channels 0 and 1 (Eq. 1-3), confidence Eq. 7.

    Posteriors of :func:`~bootsep_lib.spatial.clustering.spatial_clustering` as masks, and
    ``C_cl C_JSD C_post(t, f)`` (Eq. 7 with ``alpha = 1``) as the confidence; degenerate
    mixtures (silence, one-valued features) give uniform masks and confidence 0, silently.
    """
    mixture = np.asarray(mixture)
    if mixture.ndim != 2 or mixture.shape[0] < 2:
        raise ValueError(f"need a (channels >= 2, samples) mixture, got {mixture.shape}")
    spec = stft(mixture[:2], sample_rate, cfg.window_ms, cfg.hop_ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialWarning)
        result = spatial_clustering(
            spec, cfg.n_sources, cfg.threshold_db, seed,
            reference=cfg.reference, freq_normalize=cfg.freq_normalize,
        )
        terms = confidence_terms(result, n_samples=cfg.jsd_samples, seed=seed)
    return TeacherOutput(result.masks, terms.combined(1.0), terms.degenerate)
