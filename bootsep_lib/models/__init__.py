"""Networks: the BLSTM trunk, the deep clustering and Chimera networks, their registry, loading.

Architecture (Section 3.1 of the bootstrapping paper; Section 3.2 of the M-DC paper): see
:mod:`.trunk` (BLSTM stack, input standardization, padding masks), :mod:`.deep_clustering`
(``"dc"``) and :mod:`.chimera` (``"chimera"``).  :func:`build_model` builds a registered
network by name (see :mod:`.registry` to add one); :func:`load_model` rebuilds a trained one
from its checkpoint (:mod:`.loading`).
"""

from .registry import build_model, model_names, register_model  # isort: skip
from .trunk import BLSTMTrunk, EmbeddingHead, feature_statistics  # isort: skip
from .deep_clustering import DeepClusteringNet  # isort: skip
from .chimera import MASK_ACTIVATIONS, ChimeraNet  # isort: skip
from .loading import (  # isort: skip
    CHECKPOINT_FORMAT,
    check_sample_rate,
    load_model,
    read_checkpoint,
    resolve_device,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "MASK_ACTIVATIONS",
    "BLSTMTrunk",
    "ChimeraNet",
    "DeepClusteringNet",
    "EmbeddingHead",
    "build_model",
    "check_sample_rate",
    "feature_statistics",
    "load_model",
    "model_names",
    "read_checkpoint",
    "register_model",
    "resolve_device",
]
