"""The spatial stage: the paper's clustering (Eq. 1-3) and its confidence (Eq. 4-7).

Modules, in the order of the method:

* :mod:`~bootsep_lib.spatial.features` -- IPD (Eq. 1), the loud bins (Eq. 2), ``(cos, sin)``
  features and their 1-D PCA;
* :mod:`~bootsep_lib.spatial.gmm` -- the 1-D Gaussian mixture, its EM fit and posteriors;
* :mod:`~bootsep_lib.spatial.clustering` -- Eq. 3 clustering of a stereo STFT and the one
  stereo pipeline (STFT -> clustering -> masks -> inverse STFT);
* :mod:`~bootsep_lib.spatial.confidence` -- the confidence terms and their product (Eq. 4-7);
* :mod:`~bootsep_lib.spatial.teachers` -- blind teachers (mixture -> soft masks + confidence)
  by name; the paper's is ``"ipd-gmm"``;
* :mod:`~bootsep_lib.spatial.bss_teachers` -- AuxIVA, ILRMA and FastMNMF2 teachers from
  ``pyroomacoustics.bss`` (registered on import).

The names below are re-exported so ``from bootsep_lib.spatial import spatial_clustering`` and
``spatial.spatial_clustering`` work; the confidence measures are imported from
:mod:`bootsep_lib.spatial.confidence`.
"""

from . import bss_teachers  # noqa: F401  (registers the BSS teachers)
from .clustering import (
    SpatialResult,
    SpatialWarning,
    StereoSeparation,
    apply_masks,
    separate_pair,
    separate_stereo,
    spatial_clustering,
)
from .features import fit_mask, ipd, ipd_features, loud_bins, pca_project
from .gmm import (
    REG_COVAR,
    Gmm1d,
    GmmFit,
    argmax0,
    fit_gmm_1d,
    gmm_posteriors,
    is_degenerate_feature,
    logsumexp0,
)
from .teachers import Teacher, TeacherOutput, get_teacher, register_teacher, teacher_names

__all__ = [
    "SpatialWarning",
    "Gmm1d",
    "GmmFit",
    "SpatialResult",
    "StereoSeparation",
    "REG_COVAR",
    "logsumexp0",
    "argmax0",
    "ipd",
    "fit_mask",
    "loud_bins",
    "ipd_features",
    "pca_project",
    "is_degenerate_feature",
    "fit_gmm_1d",
    "gmm_posteriors",
    "spatial_clustering",
    "apply_masks",
    "separate_pair",
    "separate_stereo",
    "Teacher",
    "TeacherOutput",
    "get_teacher",
    "register_teacher",
    "teacher_names",
]
