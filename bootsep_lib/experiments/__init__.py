"""The runs behind each table and figure, cached by config (see the submodules).

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
from .tables import markdown_table, write_table

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
]
