"""Figures of Table 1 (notebooks 04 and 05): SI-SDR against alpha, and Fig. 3."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import CMAP

__all__ = ["sdr_vs_alpha", "spatial_vs_model"]


def sdr_vs_alpha(
    table: pd.DataFrame,
    references: tuple[str, ...] = (),
    metric: str = "si_sdr",
) -> Figure:
    """Mean score of the bootstrapped models against alpha, with 95% CIs and the paper's values.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~bootsep_lib.studies.bootstrap.alpha_sweep_table`'s output: rows with a
        finite ``alpha`` are plotted against it; ``{metric}``, ``{metric}_low``,
        ``{metric}_high`` and ``paper_{metric}``.
    references : tuple of str
        Other rows (ground truth, the mixture) drawn as horizontal lines with CI bands.
    metric : str
    """
    sweep = table[table["alpha"].notna()].sort_values("alpha")
    x = sweep["alpha"].to_numpy()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(references):
        row = table.loc[name]
        color = colors[(k + 2) % len(colors)]
        ax.axhline(row[metric], color=color, lw=1.2, ls="--", label=name)
        ax.axhspan(row[f"{metric}_low"], row[f"{metric}_high"], color=color, alpha=0.12)
    y = sweep[metric].to_numpy()
    err = np.vstack([y - sweep[f"{metric}_low"].to_numpy(), sweep[f"{metric}_high"].to_numpy() - y])
    ax.errorbar(x, y, yerr=err, marker="o", capsize=4, color=colors[0],
                label="DC w/ estimates (ours, 95% CI)")
    paper = sweep[f"paper_{metric}"].to_numpy()
    if np.isfinite(paper).any():
        ax.plot(x, paper, marker="s", mfc="none", ls=":", color=colors[1], label="paper")
    ax.set(xlabel="confidence exponent α", ylabel=f"{metric.replace('_', '-').upper()} (dB)",
           xticks=x)
    ax.legend(fontsize="small", loc="best")
    return fig


def spatial_vs_model(
    spatial: np.ndarray,
    model: np.ndarray,
    confidence: np.ndarray,
    threshold: float | None = None,
    model_label: str = "bootstrapped model (α = 1)",
) -> Figure:
    """Fig. 3 of the bootstrapping paper: per-mixture SI-SDR of both systems, with y = x.

    Parameters
    ----------
    spatial, model : np.ndarray, shape (n,)
        SI-SDR (dB) of the spatial algorithm and of the model on the same mixtures.
    confidence : np.ndarray, shape (n,)
        Mean confidence of each mixture (colour).
    threshold : float, optional
        The confidence ensemble's switching point: mixtures below it are drawn as crosses.
    model_label : str
    """
    spatial, model, confidence = (np.asarray(a, dtype=np.float64)
                                  for a in (spatial, model, confidence))
    fig, ax = plt.subplots(figsize=(5.4, 4.6))
    low = confidence <= threshold if threshold is not None else np.zeros(spatial.shape, bool)
    norm = plt.Normalize(confidence.min(), confidence.max())
    sc = ax.scatter(spatial[~low], model[~low], c=confidence[~low], cmap=CMAP, norm=norm, s=22,
                    edgecolors="0.4",
                    linewidths=0.3, label="spatial kept" if threshold is not None else None)
    if low.any():
        ax.scatter(spatial[low], model[low], c=confidence[low], cmap=CMAP, norm=norm, s=30,
                   marker="x", label="below threshold: model used")
    lim = [min(spatial.min(), model.min()) - 1, max(spatial.max(), model.max()) + 1]
    ax.plot(lim, lim, color="0.3", lw=1, ls="--", label="y = x")
    ax.set(xlim=lim, ylim=lim, aspect="equal", xlabel="spatial algorithm SI-SDR (dB)",
           ylabel=f"{model_label} SI-SDR (dB)")
    fig.colorbar(sc, ax=ax, label="mean confidence")
    ax.legend(fontsize="small", loc="upper left")
    return fig
