"""The runs behind each table and figure, cached by config (see the submodules).

* :mod:`.spatial_stage` -- spatial clustering, confidence and scores per mixture; label bank.
* :mod:`.training` -- training sets (ground-truth or pseudo labels, w(alpha)) and cached models.
* :mod:`.evaluation` -- single-channel separation of a test split by a model; mean + CI tables.
* :mod:`.paper` -- the papers' published numbers, printed beside ours in every table.
"""

from .evaluation import METRIC_COLUMNS, evaluate_model, summarize
from .spatial_stage import (
    ALPHAS,
    SpatialStage,
    Subset,
    default_subset,
    open_split,
    pair_channel,
    pair_study,
    spatial_mixture,
    spatial_stage,
)
from .training import ModelJob, TrainingSet, run_config, train_many

__all__ = [
    "ALPHAS",
    "SpatialStage",
    "Subset",
    "default_subset",
    "open_split",
    "pair_channel",
    "pair_study",
    "spatial_mixture",
    "spatial_stage",
    "METRIC_COLUMNS",
    "evaluate_model",
    "summarize",
    "ModelJob",
    "TrainingSet",
    "run_config",
    "train_many",
]
