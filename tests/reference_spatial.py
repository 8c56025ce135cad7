"""Test-only reference implementations of the spatial room (not part of the package).

:func:`spatial_clustering_sklearn` is the straightforward scikit-learn version of
:func:`bootsep_lib.spatial.spatial_clustering`, sharing its features and degenerate cases.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from bootsep_lib.spatial.clustering import (
    _FEW_VALUES,
    SpatialResult,
    _degenerate_result,
    _result,
    _too_few_bins,
)
from bootsep_lib.spatial.features import Reference, prepare_features
from bootsep_lib.spatial.gmm import REG_COVAR, Gmm1d, GmmFit, is_degenerate_feature, sort_components

__all__ = ["spatial_clustering_sklearn"]


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
    """The method of :func:`~bootsep_lib.spatial.spatial_clustering` with scikit-learn's PCA, GMM.

    The straightforward implementation (``sklearn.decomposition.PCA`` and
    ``sklearn.mixture.GaussianMixture(covariance_type="full")`` with the same ``reg_covar``,
    ``tol`` and ``max_iter``), kept as the baseline the fast path is tested against.  Parameters
    and result as :func:`~bootsep_lib.spatial.spatial_clustering` (components sorted by mean);
    the PCA sign may differ from the fast path, which reverses the component order.
    """
    features2d, fit = prepare_features(
        stft_stereo, n_sources, threshold_db, reference, freq_normalize
    )
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
    gmm = sort_components(Gmm1d(gm.weights_, gm.means_[:, 0], gm.covariances_[:, 0, 0]))
    fitted = GmmFit(gmm, float(gm.score(phi[fit][:, None])), int(gm.n_iter_))
    return _result(phi, fit, fitted)
