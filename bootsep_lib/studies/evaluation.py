"""Single-channel evaluation of trained models on a test split, and summary tables with CIs.

:func:`evaluate_model` separates channel 0 of every mixture of a split with a trained model
(K-means on the embeddings, or a Chimera network's mask-inference head) and scores the
estimates against the reference-channel source images; results are cached per model, split
and metric set.  :func:`summarize` turns per-mixture tables into mean and bootstrap 95% CIs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Profile, config_hash
from ..data.subsets import Subset, default_subset, open_split
from ..eval import evaluate_mixture
from ..eval.stats import bootstrap_ci
from ..models import load_model
from ..separate import separate
from ..util.cache import cache_entry, cached_table
from ..util.parallel import parallel_map, strided

__all__ = ["evaluate_model", "summarize", "METRIC_COLUMNS"]

#: Per-mixture columns of :func:`evaluate_model` (means over sources), always present.
METRIC_COLUMNS = ("si_sdr", "si_sir", "si_sar", "si_sdr_mix", "si_sdri")


def _eval_worker(args: tuple) -> list[dict]:
    profile, split, subset, checkpoint, head, bss, stoi, baselines, indices = args
    model, run = load_model(checkpoint, device="cpu")
    ds = open_split(profile, split, subset=subset)
    rows = []
    for i in indices:
        item = ds[i]
        mix = item["mix"][0].numpy()
        refs = item["sources"][:, 0].numpy()
        est = separate(model, mix, subset.sample_rate, n_sources=subset.n_speakers, head=head,
                       window_ms=profile.spatial.window_ms, hop_ms=profile.spatial.hop_ms,
                       seed=profile.train.seed)
        scores = evaluate_mixture(est, refs, mix, subset.sample_rate, stoi=stoi, bss=bss,
                                          mixture_baselines=baselines)
        row = {"id": item["id"]}
        for key, value in scores.items():
            if key.endswith("perm"):
                continue
            row[key] = float(np.mean(value))
        rows.append(row)
    return rows


def evaluate_model(
    profile: Profile,
    run_dir: str | os.PathLike,
    *,
    split: str = "tt",
    subset: Subset | None = None,
    head: str = "dc",
    bss: bool = False,
    stoi: bool = False,
    mixture_baselines: bool = True,
    jobs: int = 1,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Per-mixture scores of a trained model on channel 0 of a split (cached).

    Parameters
    ----------
    profile : Profile
    run_dir : path-like
        A finished run (``TrainResult.run_dir``); its ``best.pt`` is evaluated.
    split : {"tr", "cv", "tt"}
    subset : Subset, optional
        Default: the profile's first subset.
    head : {"dc", "mi"}
        K-means on embeddings, or Chimera's mask-inference head.
    bss, stoi : bool
        Also BSS-eval SDR/SIR/SAR (fast_bss_eval) and STOI (pystoi).
    mixture_baselines : bool
        Also score the unprocessed mixture with those (``sdr_mix``, ``stoi_mix``, ...); the SI
        baselines (``si_sdr_mix``) are always there.
    jobs : int
        Worker processes.
    checkpoint : path-like, optional
        Evaluate this checkpoint file instead of ``run_dir/best.pt`` (e.g. ``last.pt``); it is
        part of the cache key.
    limit : int, optional
        Only the first ``limit`` mixtures of the split (part of the cache key when given).

    Returns
    -------
    pandas.DataFrame
        One row per mixture: ``id`` and the means over sources of
        :func:`bootsep_lib.eval.evaluate_mixture`'s outputs.
    """
    subset = subset or default_subset(profile)
    run_dir = Path(run_dir)
    default = run_dir / "best.pt"
    checkpoint = default if checkpoint is None else Path(checkpoint)
    # best.pt keeps the key it always had (no cache is invalidated); another file adds its path
    named = {} if checkpoint == default else {"checkpoint": str(checkpoint.resolve())}
    if limit is not None:
        named["limit"] = int(limit)
    key = config_hash({
        "run": run_dir.name, "data": profile.data, "spatial": profile.spatial, "split": split,
        "subset": subset, "head": head, "bss": bss, "stoi": stoi,
        "mixture_baselines": mixture_baselines,
        "checkpoint_mtime": checkpoint.stat().st_mtime_ns, **named,
    })
    path = cache_entry("evaluations", key, ".csv")

    def compute() -> pd.DataFrame:
        n = len(open_split(profile, split, subset=subset, return_sources=False))
        n = n if limit is None else min(n, int(limit))
        tasks = [(profile, split, subset, str(checkpoint), head, bss, stoi, mixture_baselines,
                  chunk) for chunk in strided(n, max(1, min(jobs, n)))]
        parts = parallel_map(_eval_worker, tasks, jobs=jobs, progress=progress,
                             desc=f"evaluate {run_dir.name} ({head})",
                             weight=lambda task: len(task[-1]))
        rows = [row for part in parts for row in part]
        return pd.DataFrame(rows).sort_values("id", ignore_index=True)

    return cached_table(path, compute)


def summarize(
    tables: dict[str, pd.DataFrame],
    columns: tuple[str, ...] = ("si_sdr", "si_sir", "si_sar"),
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and bootstrap 95% CI of each column for each system.

    Parameters
    ----------
    tables : dict of name -> per-mixture DataFrame
    columns : tuple of str

    Returns
    -------
    pandas.DataFrame
        Index: system names; columns ``{col}``, ``{col}_low``, ``{col}_high`` and ``n``.
    """
    out = {}
    for name, table in tables.items():
        row: dict[str, float] = {"n": len(table)}
        for col in columns:
            mean, low, high = bootstrap_ci(table[col].to_numpy(), n_boot=n_boot, seed=seed)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index")
