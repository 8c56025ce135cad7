"""Stronger blind teachers from ``pyroomacoustics.bss``: AuxIVA, ILRMA and FastMNMF2.

Each teacher separates the mixture channels it is given blindly, projects the outputs back to
the reference microphone (channel 0), and turns the separated source images ``Y_j`` into
soft masks on the reference STFT (:class:`~bootsep_lib.config.SpatialConfig`'s window and
hop), the usual ratio of source-image magnitudes

.. math:: M_j(t, f) = |Y_j(t, f)| / \\sum_k |Y_k(t, f)|

(uniform where every ``|Y_k|`` is zero), so the masks sum to one and the pseudo labels are
their argmax.  Nothing here reads a reference signal: the teachers see only the mixture.

Registered names (one registration each): ``"auxiva-2ch"`` / ``"auxiva-4ch"`` (AuxIVA on mics
1-2, and over-determined IVA -- OverIVA -- on mics 1-4 with two outputs), ``"ilrma-2ch"`` and
``"fastmnmf2-2ch"``.  Keyword options: ``n_iter`` (iterations) and ``window_ms`` (the BSS
STFT, which may differ from the masks' STFT; longer windows suit reverberant rooms).

Over-determined AuxIVA.  Called as ``auxiva(X, n_src=2)`` with four channels, pyroomacoustics
runs OverIVA, which models what the two outputs leave out as a stationary Gaussian background
spanning the other two dimensions.  In an anechoic room two sources span only two dimensions of
the four-mic spatial covariance (the rest is the 16-bit quantisation floor: the median ratio of
the third to the first eigenvalue is 3.8e-5 on 20 laptop test mixtures), so that model is
ill-posed.  Measured on those 20 anechoic mixtures (``benchmarks/bench_teachers.py --overiva
--profile laptop --mixtures 20``, separated signals): OverIVA 2.7 dB SI-SDR (the 2.8 dB of the
issue's first trial), AuxIVA on mics 1-2 17.1 dB, and 16.8 dB when the four channels are first
reduced to their two principal components per frequency (:func:`principal_demixing`) and then
separated by determined AuxIVA, projected back to mic 1 -- what ``auxiva-4ch`` does.  On the 8
smoke test mixtures: OverIVA 1.8 dB (also 1.8 from the principal eigenvectors as a start), 6.6
dB with a white-noise floor added, 12.8 dB with the reduction.  (Its
``init_eig=True`` raises a shape error in 0.10.x when ``n_src < channels``.)
"""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra

from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import istft, stft

from .confidence import cluster_size_confidence, posterior_confidence
from .teachers import TeacherOutput, register_teacher

__all__ = ["DEFAULT_ITERATIONS", "bss_images", "bss_teacher", "image_masks", "mask_confidence",
           "principal_demixing"]

#: Iterations of every BSS teacher unless a profile's ``teachers.n_iter`` says otherwise.
DEFAULT_ITERATIONS = 30


def image_masks(images: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Masks from separated source images: ``M_j = |Y_j| / sum_k |Y_k|``.

    Parameters
    ----------
    images : np.ndarray, complex, shape (sources, frames, freqs)
        STFTs of the separated source images at the reference microphone.
    eps : float
        Bins whose magnitude sum is below ``eps`` get uniform masks.

    Returns
    -------
    np.ndarray, float, shape (sources, frames, freqs)
        Non-negative, summing to 1 over sources in every bin.
    """
    mag = np.abs(images)
    total = mag.sum(0)
    uniform = total < eps
    masks = mag / np.where(uniform, 1.0, total)
    masks[:, uniform] = 1.0 / images.shape[0]
    return masks


def mask_confidence(masks: np.ndarray) -> np.ndarray:
    """Confidence of a mask teacher, the analogue of Eq. 7 of the bootstrapping paper.

    .. math::

        C(t, f) = C_{cl} \\, C_{sharp}(t, f), \\qquad
        C_{sharp}(t, f) = \\frac{\\max_j M_j(t, f) - 1/N}{1 - 1/N}, \\qquad
        C_{cl} = \\sum_j \\left(\\frac1N - \\left|\\frac1N - f_j\\right|\\right)

    ``C_sharp`` is Eq. 6 with the teacher's soft masks in place of the GMM posteriors (how far
    each bin's mask is from undecided), and ``C_cl`` is Eq. 4, the cluster-size equality of
    the argmax labels (``f_j``: fraction of all bins labelled ``j``), a mixture-level term
    that is low when one output took (nearly) every bin.  The JSD term (Eq. 5) has no analogue
    here (there is no 1-D feature distribution), so it is left out (i.e. 1).

    Parameters
    ----------
    masks : np.ndarray, shape (sources, frames, freqs)
        Summing to 1 over sources.

    Returns
    -------
    np.ndarray, shape (frames, freqs), values in [0, 1]
    """
    labels = np.argmax(masks, axis=0)
    c_cl = cluster_size_confidence(labels, masks.shape[0])
    return c_cl * posterior_confidence(masks)


def principal_demixing(x: np.ndarray, n_src: int) -> np.ndarray:
    """Dimension reduction before IVA: the principal eigenvectors of the spatial covariance.

    ``W0[f, j] = u_j(f)^H`` with ``u_1(f), u_2(f), ...`` the eigenvectors of
    ``R(f) = mean_t x(t, f) x(t, f)^H`` by decreasing eigenvalue, so ``W0 x`` keeps the ``n_src``
    strongest directions of all microphones (what :func:`_separate` gives determined AuxIVA).

    Parameters
    ----------
    x : np.ndarray, complex, shape (frames, freqs, channels)
    n_src : int

    Returns
    -------
    np.ndarray, complex, shape (freqs, n_src, channels)
    """
    cov = np.einsum("tfc,tfd->fcd", x, x.conj()) / x.shape[0]
    _, vectors = np.linalg.eigh(cov)  # ascending eigenvalues, orthonormal columns
    return np.ascontiguousarray(vectors[:, :, ::-1][:, :, :n_src].conj().transpose(0, 2, 1))


def _separate(x: np.ndarray, method: str, n_src: int, n_iter: int, seed: int) -> np.ndarray:
    """Run one ``pyroomacoustics.bss`` method on ``x`` (frames, freqs, channels)."""
    if method == "auxiva":
        if n_src == x.shape[-1]:
            return pra.bss.auxiva(x, n_iter=n_iter, proj_back=True)
        reduced = np.einsum("fjc,tfc->tfj", principal_demixing(x, n_src), x)
        y = pra.bss.auxiva(reduced, n_iter=n_iter, proj_back=False)
        return y * np.conj(pra.bss.projection_back(y, x[:, :, 0]))[None]
    if method not in ("ilrma", "fastmnmf2"):
        raise ValueError(f"unknown BSS method {method!r}")
    # both draw their NMF start from NumPy's global RNG (no generator argument)
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        if method == "ilrma":
            return pra.bss.ilrma(x, n_src=n_src, n_iter=n_iter, proj_back=True)
        return pra.bss.fastmnmf2(x, n_src=n_src, n_iter=n_iter, mic_index=0)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def bss_images(
    mixture: np.ndarray,
    sample_rate: int,
    *,
    method: str,
    channels: int,
    n_src: int,
    n_iter: int,
    window_ms: float,
    seed: int = 0,
) -> np.ndarray | None:
    """Separated source images at mic 0 (projection back), or None if silent / non-finite.

    Parameters
    ----------
    mixture : np.ndarray, shape (mics, samples)
    sample_rate : int
    method, channels, n_src, n_iter, seed
        As :func:`bss_teacher`.
    window_ms : float
        Window of the BSS STFT (hop: a quarter of it).

    Returns
    -------
    np.ndarray, shape (n_src, samples), or None
    """
    x = np.asarray(mixture, dtype=np.float64)[:channels]
    if not np.all(np.isfinite(x)) or not np.any(x):
        return None
    spec = stft(x, sample_rate, window_ms, window_ms / 4)  # (channels, frames, freqs)
    y = _separate(np.ascontiguousarray(spec.transpose(1, 2, 0)), method, n_src, n_iter, seed)
    images = istft(np.ascontiguousarray(y.transpose(2, 0, 1)), sample_rate, x.shape[-1],
                   window_ms, window_ms / 4)
    if not np.all(np.isfinite(images)) or not np.any(images):
        return None
    return images


def bss_teacher(
    mixture: np.ndarray,
    sample_rate: int,
    cfg: SpatialConfig,
    *,
    method: str,
    channels: int,
    seed: int = 0,
    n_iter: int = DEFAULT_ITERATIONS,
    window_ms: float | None = None,
) -> TeacherOutput:
    """A BSS teacher: separate ``channels`` mics, project back to mic 0, masks, confidence.

    Parameters
    ----------
    mixture : np.ndarray, shape (mics, samples)
        Reference microphone first; the first ``channels`` rows are used.
    sample_rate : int
    cfg : SpatialConfig
        Window and hop of the masks, number of sources.
    method : {"auxiva", "ilrma", "fastmnmf2"}
    channels : int
        Microphones used (``> cfg.n_sources`` is the over-determined case).
    seed : int
        Seed of ILRMA's and FastMNMF2's random initialisation (AuxIVA is deterministic);
        NumPy's global RNG is restored afterwards.
    n_iter : int
        Iterations of the method.
    window_ms : float, optional
        Window of the BSS STFT (hop: a quarter of it); default: ``cfg.window_ms``.

    Returns
    -------
    TeacherOutput
        Masks (sources, frames, freqs) from :func:`image_masks`, confidence from
        :func:`mask_confidence`; degenerate (uniform masks, confidence 0) for a silent or
        non-finite input or output.
    """
    mixture = np.asarray(mixture, dtype=np.float64)
    if mixture.ndim != 2 or mixture.shape[0] < channels:
        raise ValueError(f"need a ({channels}+ channels, samples) mixture, got {mixture.shape}")
    n = cfg.n_sources
    ref_frames = stft(mixture[0], sample_rate, cfg.window_ms, cfg.hop_ms).shape[0]
    n_freq = stft(mixture[0, :16], sample_rate, cfg.window_ms, cfg.hop_ms).shape[-1]
    uniform = TeacherOutput(np.full((n, ref_frames, n_freq), 1.0 / n),
                            np.zeros((ref_frames, n_freq)), degenerate=True)
    images = bss_images(mixture, sample_rate, method=method, channels=channels, n_src=n,
                        n_iter=n_iter, window_ms=cfg.window_ms if window_ms is None else window_ms,
                        seed=seed)
    if images is None:
        return uniform
    masks = image_masks(stft(images, sample_rate, cfg.window_ms, cfg.hop_ms))
    return TeacherOutput(masks, mask_confidence(masks), images=images)


def _register(name: str, method: str, channels: int) -> None:
    def teacher(mixture: np.ndarray, sample_rate: int, cfg: SpatialConfig, *, seed: int = 0,
                n_iter: int = DEFAULT_ITERATIONS, window_ms: float | None = None
                ) -> TeacherOutput:
        return bss_teacher(mixture, sample_rate, cfg, method=method, channels=channels,
                           seed=seed, n_iter=n_iter, window_ms=window_ms)

    teacher.__name__ = name.replace("-", "_")
    teacher.__doc__ = (f"{method} on mics 1-{channels} with {method!r} of pyroomacoustics.bss, "
                       f"projected back to mic 1 (see :func:`bss_teacher`).")
    register_teacher(name)(teacher)


_register("auxiva-2ch", "auxiva", 2)
_register("auxiva-4ch", "auxiva", 4)
_register("ilrma-2ch", "ilrma", 2)
_register("fastmnmf2-2ch", "fastmnmf2", 2)
