"""Figures of model training and single-channel separation (notebook 03).

* :func:`loss_curves` -- training and validation loss per epoch (``TrainResult.history``).
* :func:`embeddings_pca` -- the embeddings of a mixture's loud bins, projected on their first
  three principal components and coloured by the dominant source: what deep clustering learns.
* :func:`separation_example` -- spectrograms of a mixture, its references and the estimates,
  with the scores of each estimate.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from ..dsp import stft, stft_params
from ..spatial.features import loud_bins
from . import CMAP

__all__ = ["loss_curves", "embeddings_pca", "separation_example"]


def loss_curves(history: pd.DataFrame, title: str | None = None) -> Figure:
    """Training and validation loss per epoch, the best epoch and learning-rate halvings marked.

    Parameters
    ----------
    history : pandas.DataFrame
        ``TrainResult.history`` (or a run's ``log.csv``): one row per epoch with columns
        ``epoch``, ``train_loss``, ``valid_loss`` and ``lr``.
    title : str, optional
        Axes title (e.g. the run id).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if history.empty:
        raise ValueError("the history holds no finished epoch")
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.plot(history["epoch"], history["train_loss"], marker="o", label="training")
    ax.plot(history["epoch"], history["valid_loss"], marker="s", label="validation")
    best = history.loc[history["valid_loss"].idxmin()]
    ax.scatter([best["epoch"]], [best["valid_loss"]], s=140, facecolors="none",
               edgecolors="black", zorder=3, label=f"best (epoch {int(best['epoch'])})")
    halvings = history["epoch"][history["lr"].diff() < 0]
    for k, epoch in enumerate(halvings):
        ax.axvline(epoch, color="grey", linestyle=":", label="lr halved" if k == 0 else None)
    ax.set(xlabel="epoch", ylabel="loss", title=title or "training curves")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return fig


def embeddings_pca(
    embeddings: np.ndarray,
    mix_stft: np.ndarray,
    labels: np.ndarray,
    *,
    threshold_db: float = -25.0,
    max_points: int = 3000,
    seed: int = 0,
    source_names: list[str] | None = None,
) -> Figure:
    """3-D PCA of the embeddings of a mixture's loud bins, coloured by source.

    The bins are those K-means clusters at test time (within ``-threshold_db`` dB of the
    loudest bin, see :func:`bootsep_lib.separate.kmeans_masks`); a network that separates
    puts each source's bins in its own region of the embedding space.

    Parameters
    ----------
    embeddings : np.ndarray, shape (frames, freqs, D)
        Output of :func:`bootsep_lib.separate.embed` (``D >= 3``).
    mix_stft : np.ndarray, complex, shape (frames, freqs)
        The mixture STFT the embeddings belong to.
    labels : np.ndarray, int, shape (frames, freqs)
        Colour of each bin, e.g. the ground-truth dominant source
        (:func:`bootsep_lib.targets.ground_truth_labels`).
    threshold_db : float
        Loud bins: ``20 log10 |X| >= max + threshold_db``.
    max_points : int
        Plot a random subset of at most this many loud bins (PCA is fit on all of them).
    seed : int
        Seed of that subset.
    source_names : list of str, optional
        Legend entries, one per label value (default ``s1``, ``s2``, ...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if embeddings.ndim != 3 or not embeddings.shape[:2] == mix_stft.shape == labels.shape:
        raise ValueError(
            f"expected embeddings (frames, freqs, D), mix_stft and labels (frames, freqs); got "
            f"{embeddings.shape}, {mix_stft.shape}, {labels.shape}"
        )
    if embeddings.shape[-1] < 3:
        raise ValueError(f"need at least 3 embedding dimensions, got {embeddings.shape[-1]}")
    loud = loud_bins(mix_stft, threshold_db)
    points = embeddings[loud].astype(np.float64)
    colours = np.asarray(labels)[loud]
    pca = PCA(n_components=3, random_state=seed).fit(points)
    projected = pca.transform(points)
    counts = np.bincount(colours, minlength=int(labels.max()) + 1)
    if len(projected) > max_points:
        keep = np.random.default_rng(seed).choice(len(projected), max_points, replace=False)
        projected, colours = projected[keep], colours[keep]
    n_sources = len(counts)
    names = source_names or [f"s{k + 1}" for k in range(n_sources)]
    fig = plt.figure(figsize=(6.0, 5.2))
    ax = fig.add_subplot(projection="3d")
    palette = plt.get_cmap("tab10")
    for k in range(n_sources):
        sel = colours == k
        ax.scatter(*projected[sel].T, s=4, alpha=0.5, color=palette(k),
                   label=f"{names[k]} dominant ({counts[k]} bins)")
    ratio = pca.explained_variance_ratio_
    ax.set(xlabel=f"PC1 ({ratio[0]:.0%})", ylabel=f"PC2 ({ratio[1]:.0%})",
           zlabel=f"PC3 ({ratio[2]:.0%})")
    ax.set_title(f"embeddings of the {loud.sum()} bins above {threshold_db:g} dB "
                 f"({loud.mean():.0%} of all)", pad=24)
    ax.legend(loc="upper left", markerscale=4)
    return fig


def separation_example(
    mixture: np.ndarray,
    estimates: np.ndarray,
    references: np.ndarray,
    sample_rate: int,
    *,
    scores: np.ndarray | None = None,
    window_ms: float = 32.0,
    hop_ms: float = 8.0,
    floor_db: float = -60.0,
) -> Figure:
    """Spectrograms of a mixture (left), its references (top) and the estimates (bottom).

    Parameters
    ----------
    mixture : np.ndarray, shape (samples,)
    estimates, references : np.ndarray, shape (n_sources, samples)
        Estimates in reference order (reorder them with the ``perm`` of
        :func:`bootsep_lib.eval.evaluate_mixture`).
    sample_rate : int
    scores : np.ndarray, shape (n_sources,), optional
        SI-SDR of each estimate (dB), shown in its title.
    window_ms, hop_ms : float
        STFT of the display.
    floor_db : float
        Colour floor relative to the loudest bin of the mixture.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if estimates.shape != references.shape or estimates.ndim != 2:
        raise ValueError(f"expected estimates and references (n_sources, samples), got "
                         f"{estimates.shape} and {references.shape}")
    n = len(references)
    _, hop = stft_params(sample_rate, window_ms, hop_ms)
    specs = stft(np.concatenate([mixture[None], references, estimates]).astype(np.float32),
                 sample_rate, window_ms, hop_ms)
    level = 20 * np.log10(np.maximum(np.abs(specs), 1e-10))
    level -= level[0].max()
    extent = [0.0, specs.shape[1] * hop / sample_rate, 0.0, sample_rate / 2000]
    fig, axes = plt.subplots(2, n + 1, figsize=(3.4 * (n + 1), 5.6), sharex=True, sharey=True)
    panels = [(axes[0, 0], level[0], "mixture")]
    for k in range(n):
        panels.append((axes[0, k + 1], level[1 + k], f"reference s{k + 1}"))
        title = f"estimate s{k + 1}"
        if scores is not None:
            title += f"\nSI-SDR {scores[k]:.1f} dB"
        panels.append((axes[1, k + 1], level[1 + n + k], title))
    for ax, image, title in panels:
        im = ax.imshow(image.T, origin="lower", aspect="auto", cmap=CMAP, vmin=floor_db, vmax=0,
                       extent=extent)
        ax.set_title(title)
        ax.grid(False)
    axes[1, 0].axis("off")
    axes[0, 0].set(ylabel="frequency (kHz)")
    axes[1, 1].set(ylabel="frequency (kHz)")
    for ax in axes[1, 1:]:
        ax.set(xlabel="time (s)")
    fig.colorbar(im, ax=axes.ravel().tolist(), label="dB re. loudest mixture bin")
    return fig
