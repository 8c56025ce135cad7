"""Learning curves of notebook 06: validation SI-SDR against optimiser steps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["learning_curves"]

#: How far (times the last snapshot's step) the dashed saturating fit is drawn.
EXTRAPOLATE = 1.5


def learning_curves(summary: pd.DataFrame, title: str | None = None) -> Figure:
    """Mean validation SI-SDR per snapshot with its 95% CI, fits dashed, the papers dotted.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`bootsep_lib.studies.curves.curve_summary`: one row per (arm, step) with
        ``si_sdr``, ``si_sdr_low``, ``si_sdr_high``, ``paper_si_sdr`` and the fit
        ``fit_a``, ``fit_b``, ``fit_tau`` (NaN: no fit drawn).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if summary.empty:
        raise ValueError("no curve to draw")
    arms = list(dict.fromkeys(summary["arm"]))
    colors = sns.color_palette("deep", len(arms))
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for arm, color in zip(arms, colors, strict=True):
        rows = summary[summary["arm"] == arm].sort_values("step")
        steps = rows["step"].to_numpy()
        ax.plot(steps, rows["si_sdr"], marker="o", ms=3.5, color=color, label=arm)
        ax.fill_between(steps, rows["si_sdr_low"], rows["si_sdr_high"], color=color, alpha=0.15,
                        linewidth=0)
        first = rows.iloc[0]
        if np.isfinite(first["fit_a"]):
            x = np.linspace(0, EXTRAPOLATE * steps.max(), 200)
            y = first["fit_a"] - first["fit_b"] * np.exp(-x / first["fit_tau"])
            ax.plot(x, y, linestyle="--", color=color, linewidth=1.0,
                    label=f"  fit, extrapolated (plateau {first['fit_a']:.1f} dB)")
        ax.axhline(first["paper_si_sdr"], linestyle=":", color=color, linewidth=1.2,
                   label=f"  paper, final test ({first['paper_si_sdr']:.1f} dB)")
    ax.set(xlabel="optimiser steps", ylabel="validation SI-SDR (dB)",
           title=title or "learning curves (fits: a - b exp(-step / tau), dashed)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    return fig
