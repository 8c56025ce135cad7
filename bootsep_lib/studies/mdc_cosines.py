"""Embedding geometry of the M-DC study: cosines between embeddings of different speakers.

DC's one-hot targets put the embeddings of bins dominated by different speakers at 90 degrees;
M-DC's simplex targets at ``arccos(-1/(N-1))`` (the M-DC paper, Section 2).  The cosines are
measured on the Table-1 models of :mod:`bootsep_lib.studies.mdc`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import dsp, targets
from ..config import Profile
from ..data.subsets import Subset, open_split
from ..models import load_model
from ..separate import embed
from ..spatial.features import loud_bins
from .mdc import StudyModel

__all__ = ["cross_source_cosines", "embedding_cosines", "study_cosines", "cosine_summary"]


def cross_source_cosines(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    select: np.ndarray | None = None,
    max_pairs: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Cosines between the embeddings of bins dominated by different sources.

    Every unordered pair of selected bins with different labels contributes
    ``<v_i, v_j> / (|v_i| |v_j|)``.  When there are more such pairs than ``max_pairs``, a
    uniform random sample of ``max_pairs`` of them (with replacement) is returned instead.

    Parameters
    ----------
    embeddings : np.ndarray, shape (..., D)
        One embedding per bin, e.g. (frames, freqs, D).
    labels : np.ndarray, int, shape (...)
        Dominant source per bin.
    select : np.ndarray, bool, shape (...), optional
        Bins to use (e.g. the loud ones); default all.
    max_pairs : int, optional
        Cap on the number of cosines (random sample above it); ``None``: all pairs.
    seed : int
        Random state of the sample.

    Returns
    -------
    cosines : np.ndarray, float64, shape (pairs,)
        All pairs grouped by source pair ``(a, b)``, ``a < b``, row-major within each group;
        or the random sample.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    lab = np.asarray(labels)
    if emb.shape[:-1] != lab.shape:
        raise ValueError(f"embeddings {emb.shape} and labels {lab.shape} disagree")
    emb = emb.reshape(-1, emb.shape[-1])
    lab = lab.reshape(-1)
    if select is not None:
        keep = np.asarray(select, dtype=bool).reshape(-1)
        emb, lab = emb[keep], lab[keep]
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms > 0, norms, 1.0)
    sources, counts = np.unique(lab, return_counts=True)
    total = sum(int(counts[i]) * int(counts[j]) for i in range(len(sources))
                for j in range(i + 1, len(sources)))
    if max_pairs is None or total <= max_pairs:
        groups = [emb[lab == a] @ emb[lab == b].T for i, a in enumerate(sources)
                  for b in sources[i + 1:]]
        return np.concatenate([g.ravel() for g in groups]) if groups else np.zeros(0)
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    need = max_pairs
    while need > 0:
        i = rng.integers(0, len(lab), size=2 * need + 16)
        j = rng.integers(0, len(lab), size=i.size)
        differ = lab[i] != lab[j]
        found.append(np.einsum("kd,kd->k", emb[i[differ]], emb[j[differ]])[:need])
        need -= found[-1].size
    return np.concatenate(found)


def embedding_cosines(
    profile: Profile,
    run_dir: str | os.PathLike,
    subset: Subset,
    *,
    split: str = "tt",
    n_mixtures: int = 20,
    threshold_db: float = -25.0,
    max_pairs: int = 2000,
) -> np.ndarray:
    """Cosines between embeddings of bins dominated by different speakers, pooled over mixtures.

    Channel 0 of the first ``n_mixtures`` mixtures of a split is embedded by the model; bins
    within ``threshold_db`` of the loudest bin (those K-means is fit on) are labelled by the
    dominant reference-channel source and :func:`cross_source_cosines` samples at most
    ``max_pairs`` pairs per mixture.

    Returns
    -------
    np.ndarray, shape (pairs,)
    """
    model, _ = load_model(run_dir, device="cpu")
    ds = open_split(profile, split, subset=subset)
    window, hop = profile.spatial.window_ms, profile.spatial.hop_ms
    out = []
    for index in range(min(n_mixtures, len(ds))):
        item = ds[index]
        emb, mix_stft = embed(model, item["mix"][0].numpy(), subset.sample_rate, window, hop)
        refs = dsp.stft(item["sources"][:, 0].numpy(), subset.sample_rate, window, hop)
        out.append(cross_source_cosines(
            emb, targets.ground_truth_labels(refs), select=loud_bins(mix_stft, threshold_db),
            max_pairs=max_pairs, seed=index,
        ))
    return np.concatenate(out)


def study_cosines(
    profile: Profile,
    models: Sequence[StudyModel],
    run_dirs: Mapping[str, Path],
    *,
    sample_rate: int = 8000,
    n_mixtures: int = 20,
    max_pairs: int = 2000,
) -> pd.DataFrame:
    """:func:`embedding_cosines` of the Table-1 DC and M-DC models at one sampling rate.

    Returns
    -------
    pandas.DataFrame
        Columns ``loss``, ``n_speakers`` and ``cosine`` (one row per sampled pair).
    """
    parts = []
    for m in models:
        if m.study != "table" or m.sample_rate != sample_rate:
            continue
        c = embedding_cosines(profile, run_dirs[m.name], m.subset, n_mixtures=n_mixtures,
                              max_pairs=max_pairs)
        parts.append(pd.DataFrame({"loss": m.loss, "n_speakers": m.n_speakers, "cosine": c}))
    return pd.concat(parts, ignore_index=True)


def cosine_summary(cosines: pd.DataFrame) -> pd.DataFrame:
    """Median cosine and angle per model against the targets of DC and M-DC.

    Parameters
    ----------
    cosines : pandas.DataFrame
        Columns ``loss`` ("dc" / "mdc"), ``n_speakers`` and ``cosine``.

    Returns
    -------
    pandas.DataFrame
        One row per ``(loss, n_speakers)``: ``median``, ``mean``, ``median_angle`` (degrees),
        ``target`` (the target cosine: 0 for DC, ``-1/(N-1)`` for M-DC), ``target_angle`` and
        ``share_obtuse`` (fraction of cosines below 0, i.e. angles beyond 90 degrees).
    """
    rows = []
    for (loss, n), group in cosines.groupby(["loss", "n_speakers"], sort=True):
        c = group["cosine"].to_numpy()
        target = -1.0 / (n - 1) if loss == "mdc" else 0.0
        rows.append({
            "loss": loss, "n_speakers": int(n), "median": float(np.median(c)),
            "mean": float(c.mean()),
            "median_angle": float(np.degrees(np.arccos(np.clip(np.median(c), -1, 1)))),
            "target": target, "target_angle": float(np.degrees(np.arccos(target))),
            "share_obtuse": float((c < 0).mean()), "pairs": int(c.size),
        })
    return pd.DataFrame(rows)
