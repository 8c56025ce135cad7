"""The runs behind each table and figure, cached by config (see the submodules).

* :mod:`.spatial_stage` -- spatial clustering, confidence and scores per mixture; label bank.
* :mod:`.training` -- training sets (ground-truth or pseudo labels, w(alpha)) and cached models.
* :mod:`.evaluation` -- single-channel separation of a test split by a model; mean + CI tables.
* :mod:`.bootstrap` -- Table 1 of the bootstrapping paper (notebooks 04-05): models, tables,
  ensembles, findings.
* :mod:`.mdc` -- the manifold-aware DC study (notebook 06).
* :mod:`.tables` -- CSV + Markdown table writer shared by every notebook.
* :mod:`.paper` -- the papers' published numbers, printed beside ours in every table.
"""

from . import mdc
from .bootstrap import (
    Ensembles,
    Table1Model,
    alpha_sweep_findings,
    alpha_sweep_table,
    bootstrapped_model,
    confidence_threshold,
    ensemble_findings,
    ensemble_systems,
    ensemble_table,
    evaluate_models,
    quality_quantity,
    table1_models,
    train_models,
)
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
from .tables import markdown_table, write_table
from .training import (
    ModelJob,
    TrainingSet,
    run_config,
    train_many,
)

__all__ = [
    "mdc",
    "alpha_sweep_findings",
    "alpha_sweep_table",
    "bootstrapped_model",
    "confidence_threshold",
    "ensemble_findings",
    "ensemble_systems",
    "ensemble_table",
    "Ensembles",
    "evaluate_models",
    "quality_quantity",
    "table1_models",
    "Table1Model",
    "train_models",
    "markdown_table",
    "write_table",
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
