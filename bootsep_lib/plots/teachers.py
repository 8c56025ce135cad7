"""Figures of the teacher study (notebook 07)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..studies.teachers import GROUND_TRUTH

__all__ = ["student_vs_teacher"]


def _errors(table: pd.DataFrame, prefix: str) -> np.ndarray:
    return np.abs(np.stack([table[prefix] - table[f"{prefix}_low"],
                            table[f"{prefix}_high"] - table[prefix]]))


def student_vs_teacher(tables: dict[str, pd.DataFrame]) -> Figure:
    """Student (alpha = 1) against teacher SI-SDR, one panel per room, 95% CIs both ways.

    Parameters
    ----------
    tables : dict of room -> :func:`bootsep_lib.report.teachers.teacher_table`
        The diagonal is "student = teacher"; the dotted line is the ground-truth student and
        the dashed one the unprocessed mixture.
    """
    fig, axes = plt.subplots(1, len(tables), figsize=(5.2 * len(tables), 4.4), squeeze=False)
    for ax, (room, table) in zip(axes[0], tables.items(), strict=True):
        teachers = table.drop(index=GROUND_TRUTH).dropna(subset=["student_si_sdr"])
        ax.errorbar(teachers["teacher_si_sdr"], teachers["student_si_sdr"],
                    xerr=_errors(teachers, "teacher_si_sdr"),
                    yerr=_errors(teachers, "student_si_sdr"), fmt="o", capsize=3)
        for name, row in teachers.iterrows():
            ax.annotate(name, (row["teacher_si_sdr"], row["student_si_sdr"]),
                        textcoords="offset points", xytext=(5, 5), fontsize=9)
        values = np.concatenate([teachers["teacher_si_sdr"], teachers["student_si_sdr"],
                                 [table.loc[GROUND_TRUTH, "student_si_sdr"]]])
        lo, hi = np.nanmin(values) - 1.0, np.nanmax(values) + 1.0
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="student = teacher")
        ax.axhline(table.loc[GROUND_TRUTH, "student_si_sdr"], color="k", ls=":",
                   label="ground-truth student")
        ax.axhline(table.attrs.get("mixture_si_sdr", np.nan), color="C3", ls="--",
                   label="mixture")
        ax.set(xlim=(lo, hi), ylim=(lo, hi), title=room, xlabel="teacher SI-SDR (dB, mic 1)",
               ylabel="student SI-SDR (dB, single channel)")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
