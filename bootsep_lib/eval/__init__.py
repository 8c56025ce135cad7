"""Evaluation: separation metrics and the statistics behind every table."""

from .stats import bootstrap_ci, format_ci, paired_difference_ci, paired_scores

__all__ = ["bootstrap_ci", "format_ci", "paired_difference_ci", "paired_scores"]
