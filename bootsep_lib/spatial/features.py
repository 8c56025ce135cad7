"""Spatial features of a stereo STFT (Section 2.1, Eq. 1-2 of the bootstrapping paper).

* :func:`ipd`: the inter-channel phase difference ``theta = angle(X0 * conj(X1))`` (Eq. 1);
* :func:`fit_mask`: the bins to fit, the log magnitude (Eq. 2) above a threshold ``tau``;
* :func:`loud_bins`: the same rule on a mono STFT, as the network stages use it;
* :func:`ipd_features`: ``(cos theta, sin theta)``, and :func:`pca_project` to one dimension.

Sign convention of the IPD: if channel 1 is channel 0 delayed by ``d`` samples, then
``theta = +omega * d`` (wrapped to ``(-pi, pi]``) with ``omega = 2 pi k / n_fft`` at bin ``k``.

Choices where the paper's text is silent (the authors' 2018 code is the reference for these):

* ``tau`` is in dB relative to the loudest T-F bin of the mixture (``reference="max"``, 0 dB =
  the loudest bin over both channels); a bin is fitted when its louder channel exceeds ``tau``.
  ``reference="absolute"`` compares the raw ``20 log10 |X|`` of :func:`bootsep_lib.dsp.stft`
  of a waveform in ``[-1, 1]`` instead.
* PCA is fit on the fitted bins only (the authors' code fit it on all bins), then applied to
  every bin.
* ``freq_normalize=True`` divides the IPD by ``omega + 1`` before cos/sin, as the authors' code
  did; the default follows the paper's text (no normalisation).

Scale: the method is scale-invariant (the IPD is a phase, the threshold is relative to the
loudest bin), and so is this code for any input whose STFT is a normal float.  Where the cross
spectrum ``X0 conj(X1)`` of a bin under- or overflows (``|X| < 1e-19`` in float32: a fade-out or
a very quiet input), its phase is computed from the two channels each rescaled by a power of
two (:func:`cross_spectrum`), which is exact; every other bin is computed as before, bit for
bit.  A copy scaled by a power of two therefore gives the identical clustering, and one scaled
by any factor the same up to the rounding of its STFT.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from bootsep_lib.dsp import magnitude_db

__all__ = [
    "Reference",
    "ipd",
    "cross_spectrum",
    "fit_mask",
    "loud_bins",
    "ipd_features",
    "pca_project",
    "prepare_features",
]

Reference = Literal["max", "absolute"]


def _check_stereo(stft_stereo: np.ndarray) -> np.ndarray:
    x = np.asarray(stft_stereo)
    if x.ndim != 3 or x.shape[0] != 2:
        raise ValueError(f"expected a stereo STFT of shape (2, frames, freqs), got {x.shape}")
    if not np.iscomplexobj(x):
        raise TypeError("expected a complex STFT")
    return x


def ipd(stft_stereo: np.ndarray, freq_normalize: bool = False) -> np.ndarray:
    """Eq. 1 of the bootstrapping paper: ``theta = angle(X0 * conj(X1))``.

    Parameters
    ----------
    stft_stereo : np.ndarray, complex, shape (2, frames, freqs)
    freq_normalize : bool
        If True, divide by ``omega + 1`` with ``omega = pi k / (freqs - 1)`` in ``[0, pi]`` (the
        authors' code); False follows the paper's text.

    Returns
    -------
    np.ndarray, float, shape (frames, freqs)
        Radians in ``(-pi, pi]``; ``+omega d`` when channel 1 lags channel 0 by ``d`` samples.
    """
    x = _check_stereo(stft_stereo)
    theta = np.angle(cross_spectrum(x)[0])
    if freq_normalize:
        n_freqs = theta.shape[-1]
        omega = np.pi * np.arange(n_freqs) / max(n_freqs - 1, 1)
        theta = theta / (omega + 1.0)
    return theta


def _unit_scaled(v: np.ndarray) -> np.ndarray:
    """``v * 2^-e`` with ``e`` the exponent of ``max(|Re v|, |Im v|)``: exact, largest part in
    ``[1/2, 1)`` (0 stays 0)."""
    _, exponent = np.frexp(np.maximum(np.abs(v.real), np.abs(v.imag)))
    out = np.empty_like(v)
    out.real = np.ldexp(v.real, -exponent)
    out.imag = np.ldexp(v.imag, -exponent)
    return out


def cross_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z = X0 conj(X1)`` and ``|z|`` per bin, with a correct phase in every bin.

    Where ``|z|`` is not a normal float with a normal reciprocal (under- or overflow of the
    product although both channels are non-zero), ``z`` is recomputed from both channels
    rescaled by powers of two (:func:`_unit_scaled`): ``|z|`` is then in ``[1/4, 2]`` and its
    phase is that of ``X0 conj(X1)``.  Elsewhere ``z`` is the plain product.

    Parameters
    ----------
    x : np.ndarray, complex, shape (2, frames, freqs)

    Returns
    -------
    z : np.ndarray, complex, shape (frames, freqs)
    norm : np.ndarray, float, shape (frames, freqs)
        ``|z|`` (0 only where a channel is 0).
    """
    z = x[0] * np.conj(x[1])
    norm = np.abs(z)
    tiny = np.finfo(norm.dtype).tiny
    lost = ~((norm >= tiny) & (norm <= 1.0 / tiny))
    if lost.any():
        lost &= (x[0] != 0) & (x[1] != 0)
        z[lost] = _unit_scaled(x[0][lost]) * np.conj(_unit_scaled(x[1][lost]))
        norm[lost] = np.abs(z[lost])
    return z, norm


def fit_mask(
    stft_stereo: np.ndarray, threshold_db: float = -10.0, reference: Reference = "max"
) -> np.ndarray:
    """Bins to fit: Eq. 2 of the bootstrapping paper, ``20 log10 |X| > tau``.

    The louder of the two channels is compared with ``tau`` (the authors' code; the paper writes
    channel 0 only).  Computed on magnitudes, which is the same test without logs.

    Parameters
    ----------
    stft_stereo : np.ndarray, complex, shape (2, frames, freqs)
    threshold_db : float
        ``tau`` in dB.
    reference : {"max", "absolute"}
        ``"max"``: dB relative to the loudest T-F bin of the mixture over both channels (0 dB =
        that bin).  ``"absolute"``: raw ``20 log10 |X|``.

    Returns
    -------
    np.ndarray, bool, shape (frames, freqs)
        All False for a silent mixture.
    """
    x = _check_stereo(stft_stereo)
    return _loud_bins(np.maximum(np.abs(x[0]), np.abs(x[1])), threshold_db, reference)


def _loud_bins(magnitude: np.ndarray, threshold_db: float, reference: Reference) -> np.ndarray:
    """Eq. 2 on the louder channel's magnitude ``(frames, freqs)``: see :func:`fit_mask`."""
    if reference == "max":
        ref = magnitude.max() if magnitude.size else 0.0
    elif reference == "absolute":
        ref = 1.0
    else:
        raise ValueError(f"reference must be 'max' or 'absolute', got {reference!r}")
    if ref <= 0.0:
        return np.zeros(magnitude.shape, dtype=bool)
    return magnitude > ref * 10.0 ** (threshold_db / 20.0)


def loud_bins(spec: np.ndarray, threshold_db: float) -> np.ndarray:
    """Loud bins of a mono STFT: ``20 log10 |X| >= max + threshold_db`` (Eq. 2, relative to max).

    The rule the network stages use to choose the bins they cluster or plot (K-means on the
    embeddings, the embedding PCA plot, the cross-source cosines of the MDC study).  It is
    :func:`fit_mask`'s rule with ``reference="max"`` on one channel, on the floored dB levels of
    :func:`bootsep_lib.dsp.magnitude_db` and with ``>=``.

    Parameters
    ----------
    spec : np.ndarray (or torch.Tensor), complex, shape (..., frames, freqs)
    threshold_db : float
        ``tau`` in dB relative to the loudest bin (<= 0).

    Returns
    -------
    bool array, the shape of ``spec``
    """
    level = magnitude_db(spec)
    return level >= level.max() + threshold_db


def ipd_features(theta: np.ndarray) -> np.ndarray:
    """The 2-D spatial feature ``(cos theta, sin theta)`` of Section 2.1.

    Parameters
    ----------
    theta : np.ndarray, shape (...)

    Returns
    -------
    np.ndarray, shape (2, ...)
        ``cos theta`` then ``sin theta`` (feature axis first: two contiguous planes).
    """
    out = np.empty((2, *np.shape(theta)), dtype=np.result_type(theta, np.float32))
    np.cos(theta, out=out[0])
    np.sin(theta, out=out[1])
    return out


def _stereo_features(x: np.ndarray, freq_normalize: bool) -> np.ndarray:
    """``ipd_features(ipd(x, freq_normalize))`` in the STFT's precision: ``(2, frames, freqs)``.

    Without normalisation ``(cos theta, sin theta) = (Re z, Im z) / |z|`` for ``z = X0 conj(X1)``,
    with no arctan2, cos or sin (``z = 0`` gives ``(sign Re z, 0)``, as ``angle``); with it, the
    normalisation is applied in float32 for a complex64 STFT (``ipd`` divides in float64).
    Measured for a complex64 (2, 501, 129) STFT: 0.31 ms instead of 0.41 ms (no normalisation)
    and 0.56 ms instead of 2.15 ms (normalisation).  ``z`` comes from :func:`cross_spectrum`,
    so a subnormal or overflowing product gives the right phase, not an infinite feature.
    """
    z, norm = cross_spectrum(x)
    out = np.empty((2, *z.shape), dtype=z.real.dtype)
    if freq_normalize:
        theta = np.arctan2(z.imag, z.real)
        n_freqs = theta.shape[-1]
        omega = np.pi * np.arange(n_freqs) / max(n_freqs - 1, 1)
        theta /= (omega + 1.0).astype(theta.dtype)
        np.cos(theta, out=out[0])
        np.sin(theta, out=out[1])
        return out
    silent = norm == 0.0
    if silent.any():
        z = np.where(silent, np.copysign(1.0, z.real), z)
        norm[silent] = 1.0
    np.reciprocal(norm, out=norm)
    np.multiply(z.real, norm, out=out[0])
    np.multiply(z.imag, norm, out=out[1])
    return out


def pca_project(features: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Project 2-D features on their first principal axis, fit on the bins ``fit``.

    The axis is the leading eigenvector of the (population) covariance of the fitted bins'
    features, signed so that its largest-magnitude entry is positive (scikit-learn's
    convention); every bin is centred on the mean of the fitted bins.

    Parameters
    ----------
    features : np.ndarray, shape (2, ...)
        As returned by :func:`ipd_features`.
    fit : np.ndarray, bool, shape (...)
        At least one True.

    Returns
    -------
    np.ndarray, shape (...)
        In the precision of ``features``.
    """
    # gathering by flat index: 0.05 ms instead of 0.27 ms for features[:, fit], 501 x 129 bins
    sample = features.reshape(2, -1)[:, np.flatnonzero(fit)]
    mean = sample.mean(axis=1)
    centred = sample - mean[:, None]
    cov = centred @ centred.T / sample.shape[1]
    _, vectors = np.linalg.eigh(cov)
    axis = vectors[:, -1]
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    a0, a1 = float(axis[0]), float(axis[1])
    phi = features[0] * a0
    phi += features[1] * a1
    phi -= float(mean @ axis)
    return phi


def prepare_features(
    stft_stereo: np.ndarray,
    n_sources: int,
    threshold_db: float,
    reference: Reference,
    freq_normalize: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(2, frames, freqs)`` and the fitted-bin mask ``(frames, freqs)``.

    The same as ``ipd_features(ipd(...))`` and :func:`fit_mask`, sharing the magnitudes; the
    finiteness check runs on the magnitudes (a non-finite part gives a non-finite magnitude),
    and on the parts only if that fails, since ``|X|`` can overflow for finite ``X``.
    """
    if n_sources < 2:
        raise ValueError(f"n_sources must be at least 2, got {n_sources}")
    x = _check_stereo(stft_stereo)
    magnitude = np.abs(x)
    if not np.isfinite(magnitude).all() and not (
        np.isfinite(x.real).all() and np.isfinite(x.imag).all()
    ):
        raise ValueError("the STFT contains NaN or infinite values")
    fit = _loud_bins(np.maximum(magnitude[0], magnitude[1]), threshold_db, reference)
    return _stereo_features(x, freq_normalize), fit
