"""Evaluation: separation metrics and the statistics behind every table.

* :mod:`.si_bss` -- SI-SDR / SI-SIR / SI-SAR (batched, Gram-matrix evaluation) and the
  permutation search; the conventions shared by every metric are in its docstring.
* :mod:`.bss` -- BSS-eval v4 (``fast_bss_eval``), STOI (``pystoi``), :func:`evaluate_mixture`.
* :mod:`.partition` -- Quality of a T-F partition (Table 1), label accuracy.
* :mod:`.stats` -- bootstrap CIs, one paired comparison, one CI formatter.

Import as ``from bootsep_lib import eval as ev`` (or import the names) so the builtin ``eval``
is not shadowed.
"""

from .bss import bss_eval, evaluate_mixture, stoi
from .partition import label_accuracy, partition_quality
from .si_bss import MAX_DB, si_bss_eval, si_sdr
from .stats import bootstrap_ci, format_ci, paired_difference_ci, paired_scores

__all__ = [
    "MAX_DB", "si_sdr", "si_bss_eval", "bss_eval", "stoi", "evaluate_mixture",
    "partition_quality", "label_accuracy",
    "bootstrap_ci", "format_ci", "paired_difference_ci", "paired_scores",
]
