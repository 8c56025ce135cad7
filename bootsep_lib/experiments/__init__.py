"""The runs behind each table and figure, cached by config (see the submodules).

* :mod:`.spatial_stage` -- spatial clustering, confidence and scores per mixture; label bank.
* :mod:`.training` -- training sets (ground-truth or pseudo labels, w(alpha)) and cached models.
* :mod:`.evaluation` -- single-channel separation of a test split by a model; mean + CI tables.

The tables of the two papers are in :mod:`bootsep_lib.studies` (numbers) and
:mod:`bootsep_lib.report` (findings, readable tables, published numbers).
"""

from .evaluation import (
    METRIC_COLUMNS,
    evaluate_model,
    summarize,
)
from .spatial_stage import (
    ALPHAS,
    SpatialStage,
    Subset,
    Walkthrough,
    correlations,
    default_subset,
    open_split,
    pair_channel,
    pair_study,
    spatial_choices,
    spatial_findings,
    spatial_mixture,
    spatial_stage,
    walkthrough,
)
from .training import (
    ModelJob,
    TrainingSet,
    run_config,
    train_many,
)

__all__ = [
    "evaluate_model",
    "METRIC_COLUMNS",
    "summarize",
    "ALPHAS",
    "correlations",
    "default_subset",
    "open_split",
    "pair_channel",
    "pair_study",
    "spatial_choices",
    "spatial_findings",
    "spatial_mixture",
    "spatial_stage",
    "SpatialStage",
    "Subset",
    "Walkthrough",
    "walkthrough",
    "ModelJob",
    "run_config",
    "train_many",
    "TrainingSet",
]
