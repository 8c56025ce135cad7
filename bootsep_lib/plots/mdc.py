"""Figures of the manifold-aware deep clustering study (notebook 06)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["chimera_alpha", "cosine_distributions"]

_NAMES = {"chimera": "Chimera", "mchimera": "M-Chimera", "dc": "DC", "mdc": "M-DC"}


def chimera_alpha(
    table: pd.DataFrame, metric: str = "si_sdr", label: str = "SI-SDR (dB)"
) -> Figure:
    """Score against the head weight alpha for Chimera and M-Chimera (the M-DC paper's Fig. 2).

    Points are means with bootstrap 95% CIs; a dashed line marks the best of each system.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`bootsep_lib.studies.mdc.chimera_table`: ``system``, ``alpha``, ``{metric}``,
        ``{metric}_low``, ``{metric}_high``.
    metric, label : str
        Column and axis label.
    """
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    palette = sns.color_palette(n_colors=2)
    for (system, group), color in zip(table.groupby("system", sort=True), palette, strict=False):
        group = group.sort_values("alpha")
        y = group[metric].to_numpy()
        err = np.vstack([y - group[f"{metric}_low"], group[f"{metric}_high"] - y])
        ax.errorbar(group["alpha"], y, yerr=err, marker="o", capsize=3, color=color,
                    label=_NAMES.get(system, system))
        ax.axhline(y.max(), ls="--", lw=1, color=color)
    ax.set(xlabel=r"$\alpha$ (weight of the DC term)", ylabel=label,
           xticks=sorted(table["alpha"].unique()))
    ax.legend()
    return fig


def cosine_distributions(cosines: pd.DataFrame, bins: int = 60) -> Figure:
    """Distribution of cosines between embeddings of bins of different speakers, DC vs M-DC.

    One panel per number of speakers ``N``; dotted lines at the targets: 0 (DC, 90 degrees)
    and ``-1/(N-1)`` (M-DC, ``arccos(-1/(N-1))``).

    Parameters
    ----------
    cosines : pandas.DataFrame
        Columns ``loss`` ("dc" / "mdc"), ``n_speakers`` and ``cosine``.
    bins : int
        Histogram bins over ``[-1, 1]``.
    """
    counts = sorted(cosines["n_speakers"].unique())
    fig, axes = plt.subplots(1, len(counts), figsize=(4.6 * len(counts), 3.4), squeeze=False,
                             sharey=True)
    palette = dict(zip(("dc", "mdc"), sns.color_palette(n_colors=2), strict=True))
    edges = np.linspace(-1.0, 1.0, bins + 1)
    for ax, n in zip(axes[0], counts, strict=True):
        part = cosines[cosines["n_speakers"] == n]
        for loss, group in part.groupby("loss", sort=True):
            ax.hist(group["cosine"], bins=edges, density=True, histtype="stepfilled", alpha=0.35,
                    color=palette.get(loss), label=_NAMES.get(loss, loss))
        for loss, target in (("dc", 0.0), ("mdc", -1.0 / (n - 1))):
            ax.axvline(target, ls=":", lw=1.5, color=palette[loss])
        ax.set(title=f"{n} speakers", xlabel="cosine between speakers' embeddings",
               xlim=(-1.0, 1.0))
        ax.legend()
    axes[0][0].set_ylabel("density")
    return fig
