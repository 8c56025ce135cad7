"""Training objectives: weighted deep clustering, manifold-aware deep clustering, Chimera.

One module per family, each registering its losses with :func:`register_loss`:
:mod:`.deep_clustering` (Eq. 8-9, low-rank, and :func:`normalize_loss`), :mod:`.mdc`
(simplex targets), :mod:`.chimera` (PIT mask inference and the Chimera sum).  The trainer
asks :func:`get_loss` for the objective of a run; see :mod:`.registry` to add one.
"""

from .registry import Loss, LossSettings, get_loss, loss_names, register_loss  # isort: skip
from .deep_clustering import (  # isort: skip
    BATCH_WEIGHT_MEAN,
    NORMALIZATIONS,
    deep_clustering_loss,
    normalize_loss,
)
from .mdc import mdc_loss  # isort: skip
from .chimera import chimera_loss, mask_inference_loss  # isort: skip

__all__ = [
    "BATCH_WEIGHT_MEAN",
    "NORMALIZATIONS",
    "Loss",
    "LossSettings",
    "chimera_loss",
    "deep_clustering_loss",
    "get_loss",
    "loss_names",
    "mask_inference_loss",
    "mdc_loss",
    "normalize_loss",
    "register_loss",
]
