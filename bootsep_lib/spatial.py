"""Spatial clustering of stereo T-F bins (Section 2.1, Eq. 1-3 of the bootstrapping paper).

The pipeline for one stereo mixture, on its complex STFT ``(2, frames, freqs)``:

1. inter-channel phase difference ``theta = angle(X0 * conj(X1))`` (Eq. 1);
2. bins to fit: the log magnitude (Eq. 2) above a threshold ``tau``;
3. features ``(cos theta, sin theta)`` projected to one dimension ``phi`` by PCA;
4. a 1-D Gaussian mixture with ``N`` components fit by EM on ``phi`` of the fitted bins;
5. posteriors ``gamma`` (Eq. 3) for every bin, used as soft masks; hard labels are their argmax.

:func:`spatial_clustering` is the fast path (closed-form 2-D PCA, a vectorised 1-D EM in
numpy); :func:`spatial_clustering_sklearn` is the straightforward scikit-learn version of the
same method, kept as a baseline for tests and the benchmark.

Sign convention of the IPD: if channel 1 is channel 0 delayed by ``d`` samples, then
``theta = +omega * d`` (wrapped to ``(-pi, pi]``) with ``omega = 2 pi k / n_fft`` at bin ``k``.

Choices where the paper's text is silent (the authors' 2018 code is the reference for these):

* ``tau`` is in dB relative to the loudest T-F bin of the mixture (``reference="max"``, 0 dB =
  the loudest bin over both channels); a bin is fitted when its louder channel exceeds ``tau``.
  ``reference="absolute"`` compares the raw ``20 log10 |X|`` of :func:`bootsep_lib.audio.stft`
  of a waveform in ``[-1, 1]`` instead.
* PCA is fit on the fitted bins only (the authors' code fit it on all bins), then applied to
  every bin.
* ``freq_normalize=True`` divides the IPD by ``omega + 1`` before cos/sin, as the authors' code
  did; the default follows the paper's text (no normalisation).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bootsep_lib.audio import istft, stft
from bootsep_lib.profiles import SpatialConfig

__all__ = [
    "SpatialWarning",
    "Gmm1d",
    "GmmFit",
    "SpatialResult",
    "REG_COVAR",
    "logsumexp0",
    "argmax0",
    "ipd",
    "fit_mask",
    "ipd_features",
    "pca_project",
    "is_degenerate_feature",
    "fit_gmm_1d",
    "gmm_posteriors",
    "spatial_clustering",
    "spatial_clustering_sklearn",
    "apply_masks",
    "separate_stereo",
]

REG_COVAR = 1e-6
"""Added to every fitted variance (as scikit-learn's ``reg_covar``), so no variance is 0."""

Reference = Literal["max", "absolute"]


class SpatialWarning(UserWarning):
    """A mixture whose spatial clustering (or its confidence) is degenerate."""


@dataclass(frozen=True, eq=False)
class Gmm1d:
    """A one-dimensional Gaussian mixture.

    Attributes
    ----------
    weights, means, variances : np.ndarray, shape (components,)
        Mixture weights (summing to 1), component means and variances (> 0).
    """

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    @property
    def n_components(self) -> int:
        """Number of components."""
        return int(self.weights.shape[0])

    def component_log_pdf(self, x: np.ndarray) -> np.ndarray:
        """``log w_j + log N(x | mu_j, var_j)`` for every component.

        Parameters
        ----------
        x : np.ndarray, shape (samples,)

        Returns
        -------
        np.ndarray, shape (components, samples)
            float32 for float32 (or smaller) ``x``, float64 otherwise.
        """
        const = np.log(self.weights) - 0.5 * np.log(2.0 * np.pi * self.variances)
        dtype = np.result_type(x.dtype, np.float32)
        out = np.subtract(x[None, :], self.means[:, None], dtype=dtype)
        np.square(out, out=out)
        out *= (-0.5 / self.variances)[:, None]
        out += const[:, None]
        return out

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of the mixture, shape (samples,) for ``x`` of shape (samples,)."""
        return logsumexp0(self.component_log_pdf(x))


@dataclass(frozen=True, eq=False)
class GmmFit:
    """A fitted :class:`Gmm1d` with its mean log-likelihood per sample and EM iterations."""

    gmm: Gmm1d
    log_likelihood: float
    n_iter: int


@dataclass(frozen=True, eq=False)
class SpatialResult:
    """Spatial clustering of one stereo mixture (Eq. 1-3 of the bootstrapping paper).

    Attributes
    ----------
    masks : np.ndarray, float, shape (n_sources, frames, freqs)
        Soft masks, the GMM posteriors of every bin; they sum to 1 over sources.
    posteriors : np.ndarray, float, shape (n_sources, frames, freqs)
        The same array as ``masks`` (Eq. 3), named for the confidence measure.
    labels : np.ndarray, int64, shape (frames, freqs)
        Hard assignment ``argmax_j gamma_j`` (0 everywhere for a degenerate mixture).
    features : np.ndarray, float, shape (frames, freqs)
        The 1-D PCA feature ``phi`` of every bin.
    fit_bins : np.ndarray, bool, shape (frames, freqs)
        Bins above the threshold, on which PCA and the GMM were fit.
    weights, means, variances : np.ndarray, shape (n_sources,)
        GMM parameters, components sorted by increasing mean.
    log_likelihood : float
        Mean log-likelihood per fitted bin at the final parameters (``-inf`` when degenerate).
    n_iter : int
        EM iterations run (0 when degenerate).
    degenerate : bool
        True when no GMM could be fit (silence, fewer fitted bins or distinct feature values
        than components); the posteriors are then uniform ``1 / n_sources``.
    """

    masks: np.ndarray
    posteriors: np.ndarray
    labels: np.ndarray
    features: np.ndarray
    fit_bins: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_likelihood: float
    n_iter: int
    degenerate: bool

    @property
    def n_sources(self) -> int:
        """Number of sources (GMM components)."""
        return int(self.weights.shape[0])

    @property
    def gmm(self) -> Gmm1d:
        """The fitted mixture as a :class:`Gmm1d`."""
        return Gmm1d(self.weights, self.means, self.variances)


def logsumexp0(a: np.ndarray) -> np.ndarray:
    """``log(sum(exp(a), axis=0))`` computed stably, for finite ``a`` of shape (k, n).

    Row by row and in place (``np.logaddexp`` and reductions over a short first axis are
    several times slower for the few components of a spatial GMM).
    """
    if a.shape[0] == 1:
        return a[0].copy()
    top = functools.reduce(np.maximum, a)
    total = np.exp(a[0] - top)
    scratch = np.empty_like(top)
    for row in a[1:]:
        np.subtract(row, top, out=scratch)
        np.exp(scratch, out=scratch)
        total += scratch
    np.log(total, out=total)
    total += top
    return total


def argmax0(a: np.ndarray) -> np.ndarray:
    """``np.argmax(a, axis=0)`` (first maximum wins) for ``a`` of shape (k, ...), row by row.

    Several times faster than a strided reduction over a short first axis.
    """
    best = a[0].copy()
    index = np.zeros(best.shape, dtype=np.int64)
    for j in range(1, a.shape[0]):
        better = a[j] > best
        index[better] = j
        np.maximum(best, a[j], out=best)
    return index


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
    theta = np.angle(x[0] * np.conj(x[1]))
    if freq_normalize:
        n_freqs = theta.shape[-1]
        omega = np.pi * np.arange(n_freqs) / max(n_freqs - 1, 1)
        theta = theta / (omega + 1.0)
    return theta


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
    magnitude = np.maximum(np.abs(x[0]), np.abs(x[1]))
    if reference == "max":
        ref = magnitude.max() if magnitude.size else 0.0
    elif reference == "absolute":
        ref = 1.0
    else:
        raise ValueError(f"reference must be 'max' or 'absolute', got {reference!r}")
    if ref <= 0.0:
        return np.zeros(magnitude.shape, dtype=bool)
    return magnitude > ref * 10.0 ** (threshold_db / 20.0)


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
    """
    sample = features[:, fit]
    mean = sample.mean(axis=1)
    centred = sample - mean[:, None]
    cov = centred @ centred.T / sample.shape[1]
    _, vectors = np.linalg.eigh(cov)
    axis = vectors[:, -1]
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    offset = float(mean @ axis)
    phi = features[0] * axis[0]
    phi += features[1] * axis[1]
    phi -= offset
    return phi


def is_degenerate_feature(x: np.ndarray, n_components: int) -> bool:
    """True when a 1-D sample cannot support an ``n_components`` mixture.

    That is: fewer samples or fewer distinct values than components, a non-finite value, or
    (numerically) zero spread.
    """
    x = np.asarray(x)
    if x.size < n_components or not np.all(np.isfinite(x)):
        return True
    if np.ptp(x) <= 1e-9 * max(1.0, float(np.abs(x).max())):
        return True
    return n_components > 2 and np.unique(x).size < n_components


def _kmeans_1d(x: np.ndarray, n_components: int, rng: np.random.Generator) -> np.ndarray:
    """Hard labels of a 1-D k-means (k-means++ seeding, then Lloyd iterations)."""
    centres = [x[rng.integers(x.size)]]
    for _ in range(1, n_components):
        d2 = np.min((x[None, :] - np.asarray(centres)[:, None]) ** 2, axis=0)
        total = d2.sum()
        pick = rng.choice(x.size, p=d2 / total) if total > 0 else rng.integers(x.size)
        centres.append(x[pick])
    c = np.asarray(centres, dtype=float)
    labels = np.argmin(np.abs(x[None, :] - c[:, None]), axis=0)
    for _ in range(100):
        counts = np.bincount(labels, minlength=n_components)
        sums = np.bincount(labels, weights=x, minlength=n_components)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        new = np.argmin(np.abs(x[None, :] - c[:, None]), axis=0)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _m_step(x: np.ndarray, resp: np.ndarray, reg: float) -> Gmm1d:
    """Maximum-likelihood mixture parameters for responsibilities ``resp`` (components, n)."""
    nk = resp.sum(axis=1) + 10.0 * np.finfo(float).eps
    means = resp @ x / nk
    variances = np.einsum("kn,kn->k", resp, (x[None, :] - means[:, None]) ** 2) / nk + reg
    return Gmm1d(nk / nk.sum(), means, variances)


def _sorted(gmm: Gmm1d) -> Gmm1d:
    order = np.argsort(gmm.means, kind="stable")
    return Gmm1d(gmm.weights[order], gmm.means[order], gmm.variances[order])


def fit_gmm_1d(
    x: np.ndarray,
    n_components: int,
    seed: int = 0,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    reg: float = REG_COVAR,
) -> GmmFit:
    """Fit a 1-D Gaussian mixture by EM (the "full covariance" GMM of Section 2.1 in 1-D).

    Initialised from a 1-D k-means (k-means++ seeding drawn with ``seed``, as scikit-learn's
    default); stops when the mean log-likelihood changes by less than ``tol`` or after
    ``max_iter`` iterations.  ``reg`` is added to every variance.  Components are returned
    sorted by mean, so the result is deterministic.

    Parameters
    ----------
    x : np.ndarray, shape (samples,)
        Must not be degenerate (see :func:`is_degenerate_feature`).
    n_components : int
    seed : int
    max_iter : int
    tol : float
    reg : float

    Returns
    -------
    GmmFit
        ``log_likelihood`` is the mean per sample at the returned parameters.
    """
    x = np.asarray(x, dtype=float).ravel()
    if n_components == 1:
        gmm = Gmm1d(np.ones(1), np.array([x.mean()]), np.array([x.var() + reg]))
        return GmmFit(gmm, float(gmm.log_pdf(x).mean()), 1)
    labels = _kmeans_1d(x, n_components, np.random.default_rng(seed))
    gmm = _m_step(x, (labels[None, :] == np.arange(n_components)[:, None]).astype(float), reg)
    previous = -np.inf
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        log_joint = gmm.component_log_pdf(x)
        log_px = logsumexp0(log_joint)
        gmm = _m_step(x, np.exp(log_joint - log_px), reg)
        current = float(log_px.mean())
        if abs(current - previous) < tol:
            break
        previous = current
    return GmmFit(_sorted(gmm), float(gmm.log_pdf(x).mean()), n_iter)


def gmm_posteriors(gmm: Gmm1d, x: np.ndarray) -> np.ndarray:
    """Eq. 3 of the bootstrapping paper: ``gamma_j = P(x | z_j) P(z_j) / P(x)``.

    Computed in the precision of ``x`` (float32 for the features of a complex64 STFT).

    Parameters
    ----------
    gmm : Gmm1d
    x : np.ndarray, shape (...)

    Returns
    -------
    np.ndarray, shape (components, ...)
        Sums to 1 over components.
    """
    post = gmm.component_log_pdf(np.ravel(x))
    post -= logsumexp0(post)
    np.exp(post, out=post)
    return post.reshape(gmm.n_components, *np.shape(x))


def _degenerate_result(
    features: np.ndarray, fit: np.ndarray, n_sources: int, why: str
) -> SpatialResult:
    warnings.warn(
        f"degenerate spatial clustering ({why}); returning uniform posteriors",
        SpatialWarning,
        stacklevel=3,
    )
    uniform = np.full((n_sources, *features.shape), 1.0 / n_sources)
    return SpatialResult(
        masks=uniform,
        posteriors=uniform,
        labels=np.zeros(features.shape, dtype=np.int64),
        features=features,
        fit_bins=fit,
        weights=np.full(n_sources, 1.0 / n_sources),
        means=np.zeros(n_sources),
        variances=np.ones(n_sources),
        log_likelihood=float("-inf"),
        n_iter=0,
        degenerate=True,
    )


def _result(features: np.ndarray, fit: np.ndarray, fitted: GmmFit) -> SpatialResult:
    post = gmm_posteriors(fitted.gmm, features)
    return SpatialResult(
        masks=post,
        posteriors=post,
        labels=argmax0(post),
        features=features,
        fit_bins=fit,
        weights=fitted.gmm.weights,
        means=fitted.gmm.means,
        variances=fitted.gmm.variances,
        log_likelihood=fitted.log_likelihood,
        n_iter=fitted.n_iter,
        degenerate=False,
    )


def _prepare(
    stft_stereo: np.ndarray,
    n_sources: int,
    threshold_db: float,
    reference: Reference,
    freq_normalize: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(2, frames, freqs)`` and the fitted-bin mask ``(frames, freqs)``."""
    if n_sources < 2:
        raise ValueError(f"n_sources must be at least 2, got {n_sources}")
    stft_stereo = _check_stereo(stft_stereo)
    if not (np.isfinite(stft_stereo.real).all() and np.isfinite(stft_stereo.imag).all()):
        raise ValueError("the STFT contains NaN or infinite values")
    fit = fit_mask(stft_stereo, threshold_db, reference)
    return ipd_features(ipd(stft_stereo, freq_normalize)), fit


_FEW_VALUES = "single-valued spatial feature or fewer distinct values than components"


def _too_few_bins(fit: np.ndarray, n_sources: int) -> str | None:
    n_fit = int(np.count_nonzero(fit))
    if n_fit < n_sources:
        return f"{n_fit} bin(s) above the threshold, {n_sources} components"
    return None


def spatial_clustering(
    stft_stereo: np.ndarray,
    n_sources: int = 2,
    threshold_db: float = -10.0,
    seed: int = 0,
    *,
    reference: Reference = "max",
    freq_normalize: bool = False,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> SpatialResult:
    """Spatial clustering of a stereo STFT, Eq. 1-3 of the bootstrapping paper (fast path).

    IPD (Eq. 1) -> ``(cos, sin)`` -> PCA to 1-D ``phi`` (fit on the bins above ``tau``, Eq. 2)
    -> ``n_sources``-component GMM by EM on ``phi`` of those bins -> posteriors (Eq. 3) of
    every bin as masks.

    Parameters
    ----------
    stft_stereo : np.ndarray, complex, shape (2, frames, freqs)
        The two channels' STFTs (:func:`bootsep_lib.audio.stft`).
    n_sources : int
        ``N``, the number of GMM components (>= 2).
    threshold_db : float
        ``tau``: a bin is fitted when its louder channel exceeds it.
    seed : int
        Seed of the k-means++ initialisation of EM.
    reference : {"max", "absolute"}
        ``"max"`` (default): dB relative to the loudest T-F bin of the mixture (0 dB = the
        loudest bin over both channels), as in the authors' code.  ``"absolute"``: raw
        ``20 log10 |X|`` of the STFT of a waveform in ``[-1, 1]``.
    freq_normalize : bool
        Divide the IPD by ``omega + 1`` before cos/sin (authors' code); default False (paper).
    max_iter, tol : int, float
        EM stops after ``max_iter`` iterations or when the mean log-likelihood changes by less
        than ``tol``.

    Returns
    -------
    SpatialResult
        Degenerate input (silence, fewer fitted bins or distinct feature values than
        components) gives uniform posteriors, ``degenerate=True`` and a :class:`SpatialWarning`.
    """
    features2d, fit = _prepare(stft_stereo, n_sources, threshold_db, reference, freq_normalize)
    why = _too_few_bins(fit, n_sources)
    if why is not None:
        return _degenerate_result(np.zeros(fit.shape), fit, n_sources, why)
    phi = pca_project(features2d, fit)
    sample = phi[fit]
    if is_degenerate_feature(sample, n_sources):
        return _degenerate_result(phi, fit, n_sources, _FEW_VALUES)
    fitted = fit_gmm_1d(sample, n_sources, seed, max_iter=max_iter, tol=tol)
    return _result(phi, fit, fitted)


def spatial_clustering_sklearn(
    stft_stereo: np.ndarray,
    n_sources: int = 2,
    threshold_db: float = -10.0,
    seed: int = 0,
    *,
    reference: Reference = "max",
    freq_normalize: bool = False,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> SpatialResult:
    """The same method as :func:`spatial_clustering` with scikit-learn's PCA and GMM.

    The straightforward implementation (``sklearn.decomposition.PCA`` and
    ``sklearn.mixture.GaussianMixture(covariance_type="full")`` with the same ``reg_covar``,
    ``tol`` and ``max_iter``), kept as a baseline for tests and ``benchmarks/bench_spatial.py``.
    Parameters and result as :func:`spatial_clustering` (components sorted by mean); the PCA
    sign may differ from the fast path, which reverses the component order.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    features2d, fit = _prepare(stft_stereo, n_sources, threshold_db, reference, freq_normalize)
    why = _too_few_bins(fit, n_sources)
    if why is not None:
        return _degenerate_result(np.zeros(fit.shape), fit, n_sources, why)
    pca = PCA(n_components=1).fit(features2d[:, fit].T)
    phi = pca.transform(features2d.reshape(2, -1).T)[:, 0].reshape(fit.shape)
    if is_degenerate_feature(phi[fit], n_sources):
        return _degenerate_result(phi, fit, n_sources, _FEW_VALUES)
    gm = GaussianMixture(
        n_components=n_sources,
        covariance_type="full",
        reg_covar=REG_COVAR,
        tol=tol,
        max_iter=max_iter,
        random_state=seed,
    ).fit(phi[fit][:, None])
    gmm = _sorted(Gmm1d(gm.weights_, gm.means_[:, 0], gm.covariances_[:, 0, 0]))
    fitted = GmmFit(gmm, float(gm.score(phi[fit][:, None])), int(gm.n_iter_))
    return _result(phi, fit, fitted)


def apply_masks(masks: np.ndarray, stft_mono: np.ndarray) -> np.ndarray:
    """Apply soft masks to one channel's STFT.

    Parameters
    ----------
    masks : np.ndarray, shape (n_sources, frames, freqs)
    stft_mono : np.ndarray, complex, shape (frames, freqs)

    Returns
    -------
    np.ndarray, complex, shape (n_sources, frames, freqs)
    """
    if masks.shape[1:] != stft_mono.shape:
        raise ValueError(f"masks {masks.shape} do not match the STFT {stft_mono.shape}")
    return masks * stft_mono[None]


def separate_stereo(
    mixture: np.ndarray,
    sample_rate: int,
    pair: tuple[int, int] = (0, 1),
    cfg: SpatialConfig | None = None,
    *,
    seed: int = 0,
    reference: Reference = "max",
    freq_normalize: bool = False,
) -> tuple[np.ndarray, SpatialResult]:
    """Separate a multichannel mixture by spatial clustering on one microphone pair.

    STFT of the two channels in ``pair`` -> :func:`spatial_clustering` -> masks applied to the
    STFT of the reference channel ``pair[0]`` -> inverse STFT.

    Parameters
    ----------
    mixture : np.ndarray, shape (channels, samples)
    sample_rate : int
    pair : (int, int)
        Reference channel and the second channel of the pair.
    cfg : SpatialConfig, optional
        Window, hop, ``n_sources`` and ``threshold_db`` (defaults: ``SpatialConfig()``).
    seed, reference, freq_normalize
        As in :func:`spatial_clustering`.

    Returns
    -------
    estimates : np.ndarray, shape (n_sources, samples)
        Source estimates on the reference channel.
    result : SpatialResult
    """
    cfg = cfg or SpatialConfig()
    mixture = np.asarray(mixture)
    if mixture.ndim != 2 or max(pair) >= mixture.shape[0]:
        raise ValueError(f"need a (channels, samples) mixture with channels {pair}")
    spec = stft(mixture[list(pair)], sample_rate, cfg.window_ms, cfg.hop_ms)
    result = spatial_clustering(
        spec,
        cfg.n_sources,
        cfg.threshold_db,
        seed,
        reference=reference,
        freq_normalize=freq_normalize,
    )
    masked = apply_masks(result.masks.astype(spec.real.dtype), spec[0])
    estimates = istft(masked, sample_rate, mixture.shape[-1], cfg.window_ms, cfg.hop_ms)
    return estimates, result
