"""Export the models behind the committed tables as shipped models with model cards.

:data:`SHIPPED` lists what is shipped, as data: the bootstrapped ``alpha = 1`` DC model
(notebooks 03-05), the ground-truth DC model (Table 1) and the 2-speaker 8-kHz M-DC model
(notebook 06), each named ``<profile>-<suffix>``.  :func:`export_models` takes each from the
cache of the run that made the tables (the same training jobs the notebooks build, so the same
config ids), scores it on the test split (the notebooks' cached evaluation), measures what
float16 storage does to its test SI-SDR (:func:`precision_check`: kept only when the mean moves
by at most :data:`HALF_LIMIT_DB`), and writes ``<name>.pt``, ``<name>.json`` and ``<name>.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import paths
from ..config import Profile
from ..data.subsets import Subset, default_subset
from ..models.loading import read_checkpoint
from ..studies import bootstrap, ensembles, mdc
from ..studies.evaluation import evaluate_model, summarize
from ..studies.spatial_stage import spatial_stage
from ..studies.training import ModelJob
from ..util import atomic_write_text
from .cards import CARD_FORMAT, CARD_METRICS, render_card

__all__ = ["HALF_LIMIT_DB", "ShippedSpec", "SHIPPED", "precision_check", "export_models",
           "shipped_job"]

#: float16 weights are shipped only if they move the mean test SI-SDR by at most this (dB).
HALF_LIMIT_DB = 0.05



@dataclass(frozen=True)
class ShippedSpec:
    """One shipped model: how to rebuild its training job and evaluation, and its words.

    ``job(profile, jobs)`` returns the training job and the keyword arguments of
    :func:`evaluate_model` the notebooks score it with (so the evaluation is a cache hit).
    """

    suffix: str
    description: str
    labels: str
    alpha: float | None
    table: str
    retrain: str
    job: Callable[[Profile, int], tuple[ModelJob, dict[str, Any]]]


def _alpha1(profile: Profile, jobs: int) -> tuple[ModelJob, dict[str, Any]]:
    return bootstrap.bootstrapped_model(1.0).job(profile, jobs=jobs), {}


def _ground_truth(profile: Profile, jobs: int) -> tuple[ModelJob, dict[str, Any]]:
    return bootstrap.Table1Model(bootstrap.GT_ALL, "ground_truth").job(profile, jobs=jobs), {}


def _mdc_2spk_8k(profile: Profile, jobs: int) -> tuple[ModelJob, dict[str, Any]]:
    models = mdc.study_models(profile, chimera_weights=(), bootstrap=False, jobs=jobs)
    (model,) = [m for m in models if m.name == "table/mdc/2spk/8k"]
    return model.job, {"subset": model.subset, "head": model.head, "bss": True, "stoi": True,
                       "mixture_baselines": False}


SHIPPED: tuple[ShippedSpec, ...] = (
    ShippedSpec("alpha1", "Deep clustering trained on the spatial stage's pseudo labels with "
                "confidence weights w(alpha = 1): the bootstrapping paper's method.",
                "spatial clustering pseudo labels (no ground truth)", 1.0,
                "Table 1 (alpha sweep, notebook 04) and the ensembles (notebook 05)",
                "bootsep train --profile {profile} --targets spatial --alpha 1", _alpha1),
    ShippedSpec("groundtruth", "Deep clustering trained on ground-truth labels of every "
                "training mixture: the paper's upper reference.", "ground truth", None,
                "Table 1 (alpha sweep, notebook 04), row 'DC w/ ground truth (all)'",
                "bootsep train --profile {profile} --targets ground_truth", _ground_truth),
    ShippedSpec("mdc-2spk8k", "Manifold-aware deep clustering (regular-simplex targets) on "
                "ground-truth labels, 2 speakers at 8 kHz.", "ground truth", None,
                "the M-DC table (notebook 06), row 2 speakers / 8 kHz",
                "./run_all.sh --profile {profile} --only 06", _mdc_2spk_8k),
)


def shipped_job(spec: ShippedSpec, profile: Profile, jobs: int = 1
                ) -> tuple[ModelJob, dict[str, Any]]:
    """The training job of ``spec`` under ``profile`` and its evaluation arguments."""
    return spec.job(profile, jobs)


def _shipped_checkpoint(run_dir: Path, dtype: torch.dtype, name: str) -> dict[str, Any]:
    """``best.pt`` reduced to what inference needs, weights cast to ``dtype``."""
    ckpt = read_checkpoint(run_dir / "best.pt")
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    return {"format": ckpt["format"], "run_id": ckpt["run_id"], "run": ckpt["run"],
            "signal": ckpt.get("signal"), "model": state, "epoch": ckpt.get("epoch"),
            "valid_loss": ckpt.get("valid_loss"),
            "shipped": {"name": name, "dtype": str(dtype).removeprefix("torch.")}}


def precision_check(full: pd.DataFrame, half: pd.DataFrame, limit_db: float = HALF_LIMIT_DB
                    ) -> dict[str, Any]:
    """How float16 weights move the test SI-SDR (per-mixture tables of both, same ids).

    Returns
    -------
    dict
        ``mean_si_sdr_change`` (half minus full, dB), ``max_abs_change`` (largest per-mixture
        change), ``limit_db`` and ``half_ok`` (``|mean change| <= limit_db``).
    """
    merged = full[["id", "si_sdr"]].merge(half[["id", "si_sdr"]], on="id", suffixes=("", "_h"),
                                          validate="one_to_one")
    if len(merged) != len(full) or len(merged) != len(half):
        raise ValueError("the float32 and float16 evaluations hold different mixtures")
    diff = merged["si_sdr_h"].to_numpy() - merged["si_sdr"].to_numpy()
    change = float(np.mean(diff))
    return {"mean_si_sdr_change": change, "max_abs_change": float(np.max(np.abs(diff))),
            "limit_db": float(limit_db), "half_ok": bool(abs(change) <= limit_db)}


def _scores(table: pd.DataFrame, seed: int) -> dict[str, dict[str, float]]:
    columns = tuple(c for c in CARD_METRICS if c in table.columns)
    row = summarize({"m": table}, columns, seed=seed).loc["m"]
    return {c: {"mean": float(row[c]), "low": float(row[f"{c}_low"]),
                "high": float(row[f"{c}_high"])} for c in columns}


def _trained_commit(figures: Path, profile: Profile) -> str:
    """The commit(s) that ``profile``'s run recorded in ``figures/manifest.json``."""
    manifest = figures / "manifest.json"
    if not manifest.exists():
        return "unknown"
    commits = {e.get("git_commit", "unknown")
               for e in json.loads(manifest.read_text()).get("notebooks", {}).values()
               if e.get("profile") == profile.name}
    return ", ".join(sorted(commits)) or "unknown"


def _card(spec: ShippedSpec, profile: Profile, job: ModelJob, subset: Subset, run_dir: Path,
          extra: dict[str, Any]) -> dict[str, Any]:
    done = json.loads((run_dir / "done").read_text())
    history = pd.read_csv(run_dir / "log.csv")
    sizes = (len(job.train_set), len(job.valid_set))
    return {
        "format": CARD_FORMAT, "name": f"{profile.name}-{spec.suffix}",
        "description": spec.description, "profile": profile.name,
        "corpus": {"subset": f"{subset.n_speakers}speakers_{subset.condition}/"
                             f"wav{subset.sample_rate // 1000}k", "engine": profile.data.engine,
                   "n_train": sizes[0], "n_valid": sizes[1], "seed": profile.data.seed},
        "labels": spec.labels, "alpha": spec.alpha, "loss": job.run.loss,
        "config_id": job.run.run_id, "data_tag": job.run.data_tag,
        "steps": int(done["steps"]), "epochs": int(done["epochs"]),
        "stop_reason": done.get("stop_reason", ""),
        "best_valid_loss": float(done["best_valid_loss"]),
        "history": {c: history[c].tolist() for c in history.columns},
        "sample_rate": subset.sample_rate, "n_sources": subset.n_speakers, "table": spec.table,
        "spatial": dataclasses.asdict(profile.spatial),
        "retrain": spec.retrain.format(profile=profile.name), **extra,
    }


def _export_one(spec: ShippedSpec, profile: Profile, out_dir: Path, cache: Path, jobs: int,
                figures: Path) -> Path:
    job, eval_kwargs = shipped_job(spec, profile, jobs)
    run_dir = cache / "models" / job.run.run_id
    if not (run_dir / "done").exists():
        raise FileNotFoundError(
            f"{spec.suffix}: no finished model {job.run.run_id} in {cache / 'models'}; run "
            f"`./run_all.sh --profile {profile.name}` first (it trains and caches it)")
    subset = eval_kwargs.get("subset") or default_subset(profile)
    name = f"{profile.name}-{spec.suffix}"
    full = evaluate_model(profile, run_dir, split="tt", jobs=jobs, progress=False, **eval_kwargs)
    half_path = out_dir / f".{name}.float16.pt"
    torch.save(_shipped_checkpoint(run_dir, torch.float16, name), half_path)
    try:
        half = evaluate_model(profile, run_dir, split="tt", jobs=jobs, progress=False,
                              checkpoint=half_path, **eval_kwargs)
        precision = precision_check(full, half)
    finally:
        half_path.unlink(missing_ok=True)
    dtype = torch.float16 if precision["half_ok"] else torch.float32
    precision["dtype"] = str(dtype).removeprefix("torch.")
    threshold = ensembles.confidence_threshold(
        spatial_stage(profile, "cv", subset=subset, jobs=jobs, progress=False).table)
    card = _card(spec, profile, job, subset, run_dir, {
        "commit": _trained_commit(figures, profile),
        "test_scores": _scores(full, profile.train.seed),
        "n_test": len(full), "confidence_threshold": threshold, "precision": precision,
    })
    torch.save(_shipped_checkpoint(run_dir, dtype, name), out_dir / f"{name}.pt")
    atomic_write_text(out_dir / f"{name}.json", json.dumps(card, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out_dir / f"{name}.md", render_card(card))
    return out_dir / f"{name}.pt"


def export_models(
    profile: Profile,
    out_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    figures: str | os.PathLike | None = None,
    jobs: int = 1,
    specs: tuple[ShippedSpec, ...] = SHIPPED,
) -> list[Path]:
    """Write every model of ``specs`` as ``<profile>-<suffix>.{pt,json,md}`` into ``out_dir``.

    Parameters
    ----------
    profile : Profile
        The profile of the run whose cached models and tables are exported.
    out_dir : path-like, optional
        Default: the models folder (:func:`bootsep_lib.paths.models_dir`).
    cache_dir, figures : path-like, optional
        The run's cache and figures folder (defaults: :mod:`bootsep_lib.paths`).
    jobs : int
        Processes for evaluations that are not cached.

    Returns
    -------
    list of Path
        The written checkpoints.

    Raises
    ------
    FileNotFoundError
        A model is not in the cache (the message names the command that trains it).
    """
    out = Path(out_dir) if out_dir is not None else paths.models_dir()
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    figs = Path(figures) if figures is not None else paths.figures_dir()
    return [_export_one(spec, profile, out, cache, jobs, figs) for spec in specs]
