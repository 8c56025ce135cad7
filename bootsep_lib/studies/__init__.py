"""The runs behind each table and figure, cached by config (see the submodules).

* :mod:`.spatial_stage` -- spatial clustering, confidence and scores per mixture; label bank;
  the microphone-pair study; correlations of confidence with SI-SDR.
* :mod:`.walkthrough` -- one mixture's intermediates and the two open choices (notebook 01).
* :mod:`.training` -- run configs and many cached models at once.
* :mod:`.evaluation` -- single-channel separation of a test split by a model; mean + CI tables.
"""

from .evaluation import METRIC_COLUMNS, evaluate_model, summarize
from .spatial_stage import (
    ALPHAS,
    SpatialStage,
    correlations,
    pair_channel,
    pair_study,
    spatial_mixture,
    spatial_stage,
)
from .training import ModelJob, run_config, train_many
from .walkthrough import Walkthrough, spatial_choices, walkthrough

__all__ = [
    "ALPHAS",
    "METRIC_COLUMNS",
    "ModelJob",
    "SpatialStage",
    "Walkthrough",
    "correlations",
    "evaluate_model",
    "pair_channel",
    "pair_study",
    "run_config",
    "spatial_choices",
    "spatial_mixture",
    "spatial_stage",
    "summarize",
    "train_many",
    "walkthrough",
]
