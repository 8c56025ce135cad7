"""The runs behind each table and figure, cached by explicit keys (see the submodules).

* :mod:`.spatial_stage` -- spatial clustering, confidence and scores per mixture; label bank;
  the microphone-pair study; correlations of confidence with SI-SDR.
* :mod:`.walkthrough` -- one mixture's intermediates and the two open choices (notebook 01).
* :mod:`.training` -- run configs and many cached models at once.
* :mod:`.evaluation` -- single-channel separation of a test split by a model; mean + CI tables.
* :mod:`.bootstrap` -- Table 1 of the bootstrapping paper, top half (notebook 04): models,
  training under several seeds, evaluation, the alpha-sweep table.
* :mod:`.ensembles` -- Table 1, bottom half (notebook 05): the ensemble table.
* :mod:`.seeds` -- models under several seeds: training, steps, hierarchical-CI summaries.
* :mod:`.mdc` -- the manifold-aware DC study (notebook 06): models, training, evaluation,
  the DC / M-DC and Chimera tables.
* :mod:`.mdc_checks` -- that the M-DC study's shared models really train alike.
* :mod:`.mdc_cosines` -- embedding geometry of the M-DC study.
* :mod:`.teacher_stage` -- any registered teacher on a split: scores and label bank.
* :mod:`.teachers` -- the teacher study (notebook 07): teachers, students, per room.
"""

from . import mdc, mdc_checks, mdc_cosines, teacher_stage, teachers
from .bootstrap import (
    Table1Model,
    alpha_sweep_table,
    bootstrapped_model,
    evaluate_models,
    quality_quantity,
    table1_models,
    train_models,
)
from .ensembles import Ensembles, confidence_threshold, ensemble_systems, ensemble_table
from .evaluation import METRIC_COLUMNS, evaluate_model, summarize
from .spatial_stage import (
    ALPHAS,
    SpatialStage,
    correlations,
    pair_channel,
    pair_study,
    spatial_mixture,
    spatial_stage,
    spatial_stage_shard,
)
from .training import ModelJob, run_config, train_many
from .walkthrough import Walkthrough, spatial_choices, walkthrough

__all__ = [
    "ALPHAS", "METRIC_COLUMNS", "Ensembles", "ModelJob", "SpatialStage", "Table1Model",
    "Walkthrough", "alpha_sweep_table", "bootstrapped_model", "confidence_threshold",
    "correlations", "ensemble_systems", "ensemble_table", "evaluate_model", "evaluate_models",
    "mdc", "mdc_checks", "mdc_cosines", "pair_channel", "pair_study", "quality_quantity",
    "run_config", "teacher_stage", "teachers",
    "spatial_choices", "spatial_mixture", "spatial_stage", "spatial_stage_shard", "summarize",
    "table1_models",
    "train_many", "train_models", "walkthrough",
]
