"""Spatial clustering of stereo T-F bins (Section 2.1, Eq. 1-3 of the bootstrapping paper).

The pipeline for one stereo mixture, on its complex STFT ``(2, frames, freqs)``:

1. inter-channel phase difference ``theta = angle(X0 * conj(X1))`` (Eq. 1);
2. bins to fit: the log magnitude (Eq. 2) above a threshold ``tau``;
3. features ``(cos theta, sin theta)`` projected to one dimension ``phi`` by PCA;
4. a 1-D Gaussian mixture with ``N`` components fit by EM on ``phi`` of the fitted bins;
5. posteriors ``gamma`` (Eq. 3) for every bin, used as soft masks; hard labels are their argmax.

Steps 1-3 live in :mod:`bootsep_lib.spatial.features`, step 4 and the posteriors in
:mod:`bootsep_lib.spatial.gmm`.  :func:`spatial_clustering` runs them on an STFT (closed-form
2-D PCA, a vectorised 1-D EM in numpy; ``tests/reference_spatial.py`` holds the straightforward
scikit-learn version it is tested against).  :func:`separate_pair` is the one stereo pipeline on
waveforms: STFT -> clustering -> masks on the reference channel -> inverse STFT.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import istft, stft

from .features import Reference, pca_project, prepare_features
from .gmm import Gmm1d, GmmFit, argmax0, fit_gmm_1d, gmm_posteriors, is_degenerate_feature

__all__ = [
    "SpatialWarning",
    "SpatialResult",
    "StereoSeparation",
    "spatial_clustering",
    "apply_masks",
    "separate_pair",
    "separate_stereo",
]


class SpatialWarning(UserWarning):
    """A mixture whose spatial clustering (or its confidence) is degenerate."""


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
        than components, a non-finite posterior); the posteriors are then uniform
        ``1 / n_sources``.  A non-degenerate result has finite posteriors.
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


def _degenerate_result(
    features: np.ndarray, fit: np.ndarray, n_sources: int, why: str, stacklevel: int = 3
) -> SpatialResult:
    warnings.warn(
        f"degenerate spatial clustering ({why}); returning uniform posteriors",
        SpatialWarning,
        stacklevel=stacklevel,
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
    if not np.isfinite(post).all():
        return _degenerate_result(features, fit, fitted.gmm.n_components, _NON_FINITE, 4)
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


_NON_FINITE = "non-finite posteriors"
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
        The two channels' STFTs (:func:`bootsep_lib.dsp.stft`).
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
        components) gives uniform posteriors, ``degenerate=True`` and a :class:`SpatialWarning`;
        so does a non-finite posterior (never returned).  The result does not depend on the
        input's scale (see :mod:`bootsep_lib.spatial.features`): a copy scaled by ``1e-25``
        gives the same clustering up to the rounding of its STFT.
    """
    features2d, fit = prepare_features(
        stft_stereo, n_sources, threshold_db, reference, freq_normalize
    )
    why = _too_few_bins(fit, n_sources)
    if why is not None:
        return _degenerate_result(np.zeros(fit.shape), fit, n_sources, why)
    phi = pca_project(features2d, fit)
    sample = phi.ravel()[np.flatnonzero(fit)]
    if is_degenerate_feature(sample, n_sources):
        return _degenerate_result(phi, fit, n_sources, _FEW_VALUES)
    fitted = fit_gmm_1d(sample, n_sources, seed, max_iter=max_iter, tol=tol)
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


@dataclass(frozen=True, eq=False)
class StereoSeparation:
    """The spatial stage on one microphone pair of one mixture (:func:`separate_pair`).

    Attributes
    ----------
    spec : np.ndarray, complex, shape (2, frames, freqs)
        STFT of the pair, reference channel first.
    result : SpatialResult
        Spatial clustering of ``spec``.
    estimates : np.ndarray, shape (n_sources, samples)
        The masks applied to the reference channel, back in the time domain.
    """

    spec: np.ndarray
    result: SpatialResult
    estimates: np.ndarray


def separate_pair(
    mixture: np.ndarray,
    sample_rate: int,
    cfg: SpatialConfig,
    pair: tuple[int, int] = (0, 1),
    seed: int = 0,
) -> StereoSeparation:
    """The one stereo pipeline: STFT -> :func:`spatial_clustering` -> masks -> inverse STFT.

    Every setting comes from ``cfg`` (window, hop, ``n_sources``, ``threshold_db``,
    ``reference``, ``freq_normalize``); the masks are applied to the STFT of the reference
    channel ``pair[0]`` in its precision.

    Parameters
    ----------
    mixture : np.ndarray, shape (channels, samples)
    sample_rate : int
    cfg : SpatialConfig
    pair : (int, int)
        Reference channel and the second channel of the pair.
    seed : int
        Seed of the EM initialisation.

    Returns
    -------
    StereoSeparation
    """
    mixture = np.asarray(mixture)
    if mixture.ndim != 2 or max(pair) >= mixture.shape[0]:
        raise ValueError(f"need a (channels, samples) mixture with channels {pair}")
    spec = stft(mixture[list(pair)], sample_rate, cfg.window_ms, cfg.hop_ms)
    result = spatial_clustering(
        spec,
        cfg.n_sources,
        cfg.threshold_db,
        seed,
        reference=cfg.reference,
        freq_normalize=cfg.freq_normalize,
    )
    masked = apply_masks(result.masks.astype(spec.real.dtype), spec[0])
    estimates = istft(masked, sample_rate, mixture.shape[-1], cfg.window_ms, cfg.hop_ms)
    return StereoSeparation(spec, result, estimates)


def separate_stereo(
    mixture: np.ndarray,
    sample_rate: int,
    pair: tuple[int, int] = (0, 1),
    cfg: SpatialConfig | None = None,
    *,
    seed: int = 0,
    reference: Reference | None = None,
    freq_normalize: bool | None = None,
) -> tuple[np.ndarray, SpatialResult]:
    """Separate a multichannel mixture by spatial clustering on one microphone pair.

    :func:`separate_pair` with ``cfg`` (default ``SpatialConfig()``), where ``reference`` and
    ``freq_normalize``, when given, override the config's.  (Before the ``spatial/`` package these
    two defaulted to ``"max"`` and False whatever ``cfg`` said, so ``cfg=profile.spatial`` lost
    the profiles' ``freq_normalize=True``.)

    Parameters
    ----------
    mixture : np.ndarray, shape (channels, samples)
    sample_rate : int
    pair : (int, int)
        Reference channel and the second channel of the pair.
    cfg : SpatialConfig, optional
    seed : int
        Seed of the EM initialisation.
    reference, freq_normalize : optional
        As in :func:`spatial_clustering`; None keeps the value of ``cfg``.

    Returns
    -------
    estimates : np.ndarray, shape (n_sources, samples)
        Source estimates on the reference channel.
    result : SpatialResult
    """
    cfg = cfg or SpatialConfig()
    overrides = {"reference": reference, "freq_normalize": freq_normalize}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        cfg = dataclasses.replace(cfg, **overrides)
    separation = separate_pair(mixture, sample_rate, cfg, pair, seed)
    return separation.estimates, separation.result
