"""The runs behind each table and figure, cached by config (see the submodules).

* :mod:`.bootstrap` -- Table 1 of the bootstrapping paper (notebooks 04-05): models, training,
  evaluation, the alpha-sweep and ensemble tables.
* :mod:`.mdc` -- the manifold-aware DC study (notebook 06): models, training, evaluation,
  shared-model checks, the DC / M-DC and Chimera tables.
* :mod:`.mdc_cosines` -- embedding geometry of the M-DC study.
"""

from . import mdc, mdc_cosines
from .bootstrap import (
    Ensembles,
    Table1Model,
    alpha_sweep_table,
    bootstrapped_model,
    confidence_threshold,
    ensemble_systems,
    ensemble_table,
    evaluate_models,
    quality_quantity,
    table1_models,
    train_models,
)

__all__ = [
    "mdc",
    "mdc_cosines",
    "alpha_sweep_table",
    "bootstrapped_model",
    "confidence_threshold",
    "ensemble_systems",
    "ensemble_table",
    "Ensembles",
    "evaluate_models",
    "quality_quantity",
    "table1_models",
    "Table1Model",
    "train_models",
]
