"""Figures of the spatial stage (notebooks 01 and 02)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..report.published import FIG2_R
from ..spatial import SpatialResult

__all__ = [
    "spectrograms",
    "ipd_map",
    "feature_cloud",
    "gmm_histogram",
    "masks",
    "confidence_vs_sdr",
    "variant_bars",
    "pair_spacing",
]

from . import CMAP


def _extent(n_frames: int, n_freqs: int, sample_rate: int, hop: int) -> list[float]:
    return [0.0, n_frames * hop / sample_rate, 0.0, sample_rate / 2 / 1000]


def spectrograms(
    specs: np.ndarray, sample_rate: int, hop: int, titles: list[str], floor_db: float = -60.0
) -> Figure:
    """Log-magnitude spectrograms side by side.

    Parameters
    ----------
    specs : np.ndarray, complex, shape (n, frames, freqs)
    sample_rate, hop : int
    titles : list of str, length n
    floor_db : float
        Display floor relative to the loudest bin of all panels.
    """
    mag_db = 20 * np.log10(np.maximum(np.abs(specs), 1e-10))
    top = mag_db.max()
    fig, axes = plt.subplots(1, len(specs), figsize=(4.2 * len(specs), 3.2), squeeze=False)
    for ax, s, title in zip(axes[0], mag_db, titles, strict=True):
        im = ax.imshow(s.T - top, origin="lower", aspect="auto", cmap=CMAP, vmin=floor_db, vmax=0,
                       extent=_extent(*s.shape, sample_rate, hop))
        ax.set(title=title, xlabel="time (s)", ylabel="frequency (kHz)")
        ax.grid(False)
    fig.colorbar(im, ax=axes[0].tolist(), label="dB re. loudest bin")
    return fig


def ipd_map(theta: np.ndarray, fit_bins: np.ndarray, sample_rate: int, hop: int) -> Figure:
    """The inter-channel phase difference (Eq. 1) with the fitted bins (Eq. 2) beside it.

    Parameters
    ----------
    theta : np.ndarray, shape (frames, freqs)
    fit_bins : np.ndarray, bool, shape (frames, freqs)
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    ext = _extent(*theta.shape, sample_rate, hop)
    im = axes[0].imshow(theta.T, origin="lower", aspect="auto", cmap="twilight",
                        vmin=-np.pi, vmax=np.pi, extent=ext)
    fig.colorbar(im, ax=axes[0], label="IPD (rad)")
    axes[0].set(title="inter-channel phase difference", xlabel="time (s)",
                ylabel="frequency (kHz)")
    axes[1].imshow(fit_bins.T, origin="lower", aspect="auto", cmap="Greys", extent=ext)
    axes[1].set(title=f"bins above tau ({fit_bins.mean():.1%})", xlabel="time (s)")
    for ax in axes:
        ax.grid(False)
    return fig


def feature_cloud(theta: np.ndarray, fit_bins: np.ndarray, labels: np.ndarray,
                  max_points: int = 4000, seed: int = 0) -> Figure:
    """The (cos, sin) features of the fitted bins coloured by GMM label, on the unit circle.

    Parameters
    ----------
    theta : np.ndarray, shape (frames, freqs)
    fit_bins : np.ndarray, bool, shape (frames, freqs)
    labels : np.ndarray, int, shape (frames, freqs)
    """
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(fit_bins)
    if idx.size > max_points:
        idx = rng.choice(idx, max_points, replace=False)
    t, lab = theta.ravel()[idx], labels.ravel()[idx]
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    for k in np.unique(lab):
        ax.scatter(np.cos(t[lab == k]), np.sin(t[lab == k]), s=6, alpha=0.4, label=f"cluster {k}")
    ax.set(xlabel="cos IPD", ylabel="sin IPD", xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), aspect="equal",
           title="spatial features of the fitted bins")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def gmm_histogram(result: SpatialResult, bins: int = 80) -> Figure:
    """Histogram of the 1-D PCA feature of the fitted bins with the fitted GMM over it."""
    phi = result.features[result.fit_bins]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.hist(phi, bins=bins, density=True, color="0.75", label="fitted bins")
    x = np.linspace(phi.min() - 0.2, phi.max() + 0.2, 600) if phi.size else np.linspace(-2, 2, 600)
    comp = np.exp(result.gmm.component_log_pdf(x))  # (n_components, points), weighted
    for k, c in enumerate(comp):
        ax.plot(x, c, lw=1.5, label=f"component {k}")
    ax.plot(x, comp.sum(axis=0), "k--", lw=1.2, label="mixture")
    ax.set(xlabel="phi (1-D PCA of cos/sin IPD)", ylabel="density",
           title="GMM fit on the loud bins (Eq. 3)")
    ax.legend(fontsize="small")
    return fig


def masks(mask_array: np.ndarray, sample_rate: int, hop: int, title: str = "mask") -> Figure:
    """Soft masks, one panel per source.  ``mask_array``: (n_sources, frames, freqs)."""
    n = mask_array.shape[0]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
    for k, (ax, m) in enumerate(zip(axes[0], mask_array, strict=True)):
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       extent=_extent(*m.shape, sample_rate, hop))
        ax.set(title=f"{title} {k}", xlabel="time (s)", ylabel="frequency (kHz)")
        ax.grid(False)
    fig.colorbar(im, ax=axes[0].tolist())
    return fig


def confidence_vs_sdr(table: pd.DataFrame, r: float, p: float, paper_r: float = FIG2_R,
                      x: str = "confidence", y: str = "si_sdr") -> Figure:
    """Fig. 2 of the bootstrapping paper: log mean confidence vs SI-SDR per mixture."""
    data = table.assign(log_conf=np.log(np.maximum(table[x], 1e-12)))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sns.scatterplot(data=data, x="log_conf", y=y, s=18, alpha=0.7, ax=ax, edgecolor="none")
    sns.regplot(data=data, x="log_conf", y=y, scatter=False, ax=ax, color="k", seed=0,
                line_kws={"lw": 1, "ls": "--"})
    ax.set(xlabel="log mean confidence", ylabel="SI-SDR (dB)",
           title=f"r = {r:.2f} (p = {p:.1e}, n = {len(table)}); paper r = {paper_r:.2f}")
    return fig


def variant_bars(
    summary: pd.DataFrame, value: str = "si_sdr", paper: float | None = None
) -> Figure:
    """Mean and CI of a metric per spatial-stage variant (rows: ``variant``, ``mean``,
    ``low``, ``high``)."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(summary) + 1.2))
    ypos = np.arange(len(summary))
    ax.barh(ypos, summary["mean"], color="C0", alpha=0.8)
    ax.errorbar(summary["mean"], ypos, xerr=[summary["mean"] - summary["low"],
                                            summary["high"] - summary["mean"]],
                fmt="none", ecolor="k", capsize=3)
    ax.set_yticks(ypos, summary["variant"])
    ax.invert_yaxis()
    if paper is not None:
        ax.axvline(paper, color="C3", ls="--", label=f"paper ({paper} dB)")
        ax.legend(loc="lower right")
    ax.set(xlabel=f"mean {value} (dB), 95% CI")
    return fig


def pair_spacing(pairs: pd.DataFrame) -> Figure:
    """Spatial-stage SI-SDR against mic spacing and against the sources' TDOA gap.

    ``pairs``: the table of :func:`bootsep_lib.studies.pair_study` (one row per mixture
    and mic pair, with ``distance`` in metres and ``tdoa_gap`` in samples).
    """
    spacing = pd.cut(pairs["distance"] * 100, [0, 3, 5, 7, 10, 15, 20, 30])
    gap = pd.cut(pairs["tdoa_gap"], [0, 0.25, 0.5, 1, 2, 4, 100])
    data = pairs.assign(spacing_cm=spacing.astype(str), tdoa_gap_samples=gap.astype(str))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, col, cats, xlabel, title in (
        (axes[0], "spacing_cm", spacing, "mic spacing (cm)",
         "spatial stage vs spacing (all mic pairs)"),
        (axes[1], "tdoa_gap_samples", gap, "|TDOA(s1) - TDOA(s2)| (samples)",
         "... vs how far apart the talkers are in delay"),
    ):
        order = [str(c) for c in cats.cat.categories if (cats == c).any()]
        sns.pointplot(data=data, x=col, y="si_sdr", order=order, errorbar=("ci", 95), ax=ax,
                      linestyle="none", seed=0)  # seeded bootstrap: a rerun draws the same
        ax.set(xlabel=xlabel, ylabel="SI-SDR (dB)", title=title)
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    return fig
