"""Manifold-aware deep clustering (the M-DC paper, Tanaka et al., Interspeech 2021) as numbers.

The runs behind notebook 06.  Four studies, all trained with the profile's ``mdc_model`` /
``mdc_train`` settings unless said:

* **Table 1** -- DC against M-DC on ground-truth labels for 2 and 3 speakers at 8 and 16 kHz,
  the same architecture and initial weights, K-means with ``N`` clusters at test time; SI-SDR,
  SDR, SIR, SAR and STOI with bootstrap 95% CIs and the paper's numbers beside ours.
* **Fig. 2** -- Chimera against M-Chimera (simplex targets on the DC head) over the head weight
  ``w`` of ``w * DC + (1 - w) * MI`` (2 speakers, 8 kHz; ``chimera_weight`` here, the column
  ``alpha`` of :func:`chimera_table` and ``RunConfig.chimera_alpha``); separation by the MI head
  for ``w < 1`` and by K-means on the DC head at ``w = 1``.  Models whose objectives coincide
  are trained once (``w = 0``: the same pure-MI objective; ``w = 1``: the DC objective, the MI
  head receiving no gradient) -- :func:`~bootsep_lib.studies.mdc_checks.same_training`
  measures that.
* **Embedding geometry** -- :mod:`bootsep_lib.studies.mdc_cosines`.
* **Bootstrapped M-DC** (beyond the papers) -- the bootstrapping paper's ``alpha = 1`` model
  (spatial pseudo labels, ``profile.model`` / ``profile.train``, the model of notebook 04)
  against the same with simplex targets; paired per-mixture differences.

The findings and the readable table are written by :mod:`bootsep_lib.report.mdc`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import Profile
from ..data.subsets import Subset
from ..data.training_set import TrainingSet
from ..engine import TrainResult
from ..eval.stats import bootstrap_ci, paired_scores
from ..report.published import MDC_TABLE1
from ..studies.evaluation import evaluate_model
from ..studies.seeds import run_steps
from ..studies.training import ModelJob, run_config, train_many

__all__ = [
    "TABLE_CONFIGS",
    "TABLE_METRICS",
    "CHIMERA_WEIGHTS",
    "StudyModel",
    "study_models",
    "train_study",
    "evaluate_study",
    "mdc_table",
    "chimera_table",
    "bootstrap_comparison",
]

#: ``(n_speakers, sample_rate)`` of the rows of Table 1, in the paper's order.
TABLE_CONFIGS: tuple[tuple[int, int], ...] = ((2, 8000), (2, 16000), (3, 8000), (3, 16000))

#: Columns of Table 1 (per-mixture means over sources from :func:`evaluate_model`).
TABLE_METRICS = ("si_sdr", "sdr", "sir", "sar", "stoi")

#: Chimera head weights of Fig. 2 (the weight of the DC term).
CHIMERA_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class StudyModel:
    """One named model of the study and how it is evaluated.

    Attributes
    ----------
    name : str
        ``"table/<loss>/<N>spk/<rate>"``, ``"chimera/<loss>/<weight>"`` or
        ``"bootstrap/<loss>"``.
    study : {"table", "chimera", "bootstrap"}
    loss : {"dc", "mdc", "chimera", "mchimera"}
        The objective the row stands for (a shared model may be trained under another name
        whose objective coincides, see ``job.run.loss``).
    n_speakers, sample_rate : int
    chimera_weight : float or None
        Chimera head weight ``w`` of ``w * DC + (1 - w) * MI`` (``None`` outside the Chimera
        study).
    head : {"dc", "mi"}
        Separation head: K-means on the embeddings, or the mask-inference head.
    job : ModelJob
        What is trained; models with the same ``job.run.run_id`` are trained once.
    """

    name: str
    study: str
    loss: str
    n_speakers: int
    sample_rate: int
    chimera_weight: float | None
    head: str
    job: ModelJob

    @property
    def subset(self) -> Subset:
        """The anechoic corpus subset the model is trained and tested on."""
        return Subset(self.n_speakers, "anechoic", self.sample_rate)


#: The subset of the Chimera sweep and of the shared-model checks.
_MAIN = Subset(2, "anechoic", 8000)


def _mdc_job(
    profile: Profile, subset: Subset, loss: str, chimera_weight: float = 1.0,
    with_sources: bool = False,
) -> ModelJob:
    """A ground-truth-label job with the M-DC paper's model and schedule of the profile.

    Every model of the study trains on the same amount of data: when the profile has
    ``secondary_sizes`` (the sizes of its 3-speaker and 16-kHz subsets), the main subset's
    training and validation splits are cut to them too.
    """
    sizes = profile.data.secondary_sizes
    n_train, n_valid = (sizes[0], sizes[1]) if sizes else (None, None)
    train_set = TrainingSet(profile, "tr", subset=subset, with_sources=with_sources,
                            limit=n_train)
    valid_set = TrainingSet(profile, "cv", subset=subset, with_sources=with_sources,
                            limit=n_valid)
    run = dataclasses.replace(
        run_config(profile, train_set, loss=loss, chimera_alpha=chimera_weight),
        model=profile.mdc_model, train=profile.mdc_train,
    )
    return ModelJob(run, train_set, valid_set)


def _table_models(profile: Profile) -> list[StudyModel]:
    """DC and M-DC for every configuration of :data:`TABLE_CONFIGS` (ground-truth labels)."""
    present = {(n, rate) for n, cond, rate in profile.data.subsets if cond == "anechoic"}
    missing = [c for c in TABLE_CONFIGS if c not in present]
    if missing:
        raise ValueError(f"profile {profile.name!r} lacks the anechoic subsets {missing}")
    return [StudyModel(f"table/{loss}/{n}spk/{rate // 1000}k", "table", loss, n, rate, None,
                       "dc", _mdc_job(profile, Subset(n, "anechoic", rate), loss))
            for n, rate in TABLE_CONFIGS for loss in ("dc", "mdc")]


def _chimera_models(
    profile: Profile, weights: Sequence[float], table: Sequence[StudyModel]
) -> list[StudyModel]:
    """Chimera and M-Chimera per head weight; ``w = 0`` shared, ``w = 1`` the Table-1 models."""
    dc_jobs = {m.loss: m.job for m in table if (m.n_speakers, m.sample_rate) == (2, 8000)}
    shared_mi = _mdc_job(profile, _MAIN, "chimera", 0.0, with_sources=True)
    models = []
    for weight in weights:
        for loss, dc_loss in (("chimera", "dc"), ("mchimera", "mdc")):
            if weight == 1.0:
                job, head = dc_jobs[dc_loss], "dc"
            elif weight == 0.0:
                job, head = shared_mi, "mi"
            else:
                job, head = _mdc_job(profile, _MAIN, loss, weight, with_sources=True), "mi"
            models.append(StudyModel(f"chimera/{loss}/{weight:g}", "chimera", loss, 2, 8000,
                                     float(weight), head, job))
    return models


def _bootstrapped_models(profile: Profile, jobs: int) -> list[StudyModel]:
    """DC and M-DC on the spatial stage's pseudo labels with ``w(alpha = 1)`` weights."""
    subset = Subset(*profile.data.subsets[0])
    train_set = TrainingSet(profile, "tr", targets="spatial", alpha=1.0, subset=subset,
                            jobs=jobs)
    valid_set = TrainingSet(profile, "cv", targets="spatial", alpha=1.0, subset=subset,
                            jobs=jobs)
    return [StudyModel(f"bootstrap/{loss}", "bootstrap", loss, subset.n_speakers,
                       subset.sample_rate, None, "dc",
                       ModelJob(run_config(profile, train_set, loss=loss), train_set, valid_set))
            for loss in ("dc", "mdc")]


def study_models(
    profile: Profile,
    *,
    chimera_weights: Sequence[float] = CHIMERA_WEIGHTS,
    bootstrap: bool = True,
    jobs: int = 1,
) -> list[StudyModel]:
    """Every model of notebook 06, named, with its training job and separation head.

    Sharing (each measured by :func:`~bootsep_lib.studies.mdc_checks.shared_model_checks`):
    Chimera and M-Chimera at ``w = 0`` are one model (the DC term has weight 0, so the targets
    never matter), and at ``w = 1`` they are the Table-1 DC and M-DC models of 2 speakers at
    8 kHz (the MI term has weight 0, so the MI head never gets a gradient and the trunk and
    embedding layer train exactly as in the DC network; the K-means DC head separates).

    Parameters
    ----------
    profile : Profile
        Must list the anechoic subsets of :data:`TABLE_CONFIGS` in ``profile.data.subsets``.
    chimera_weights : sequence of float
        Chimera head weights ``w``, in ``[0, 1]``.
    bootstrap : bool
        Also the bootstrapped DC / M-DC pair (spatial pseudo labels, ``alpha = 1`` weights);
        this runs the spatial stage of the main subset's ``tr`` and ``cv`` splits if needed.
    jobs : int
        Processes for the spatial stage.

    Returns
    -------
    list of StudyModel
    """
    models = _table_models(profile)
    models += _chimera_models(profile, chimera_weights, models)
    if bootstrap:
        models += _bootstrapped_models(profile, jobs)
    return models


def train_study(
    models: Sequence[StudyModel], *, jobs: int = 1, cache_dir: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Train every distinct model once (``jobs`` at a time); run folder per model name."""
    unique: dict[str, ModelJob] = {}
    for m in models:
        unique.setdefault(m.job.run.run_id, m.job)
    results = train_many(list(unique.values()), jobs=jobs, cache_dir=cache_dir)
    folders = {run_id: r.run_dir for run_id, r in zip(unique, results, strict=True)}
    return {m.name: folders[m.job.run.run_id] for m in models}


def evaluate_study(
    profile: Profile,
    models: Sequence[StudyModel],
    run_dirs: Mapping[str, Path],
    *,
    jobs: int = 1,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Per-mixture test scores of every model (cached by :func:`evaluate_model`).

    Table-1 models get BSS-eval and STOI too (the paper's Table 1 reports them); the Chimera
    sweep (the paper's Fig. 2 is SI-SDR) and the bootstrapped pair get the SI measures only:
    BSS-eval with 512-tap filters and STOI cost about 0.6 s per mixture (measured), which for
    the sweep's ten models alone would be ~20 minutes of the laptop profile's hour.  The
    mixture itself is scored with the SI measures only (the table reports no BSS-eval or STOI
    of the unprocessed mixture; scoring it would double the cost).
    """
    scores = {}
    for m in models:
        full = m.study == "table"
        scores[m.name] = evaluate_model(
            profile, run_dirs[m.name], split="tt", subset=m.subset, head=m.head, bss=full,
            stoi=full, mixture_baselines=False, jobs=jobs, progress=progress,
        )
    return scores


# --------------------------------------------------------------------------- tables


def _mean_ci(name: str, values: pd.Series, n_boot: int, seed: int) -> dict[str, float]:
    """``{name: mean, name_low: low, name_high: high}``: a bootstrap 95% CI of the mean."""
    mean, low, high = bootstrap_ci(values.to_numpy(), n_boot=n_boot, seed=seed)
    return {name: mean, f"{name}_low": low, f"{name}_high": high}


def _mdc_rows(
    n: int, rate: int, dc: pd.DataFrame, mdc: pd.DataFrame, n_boot: int, seed: int
) -> list[dict[str, float | int | str]]:
    """The rows of :func:`mdc_table` of one configuration, one per metric."""
    paper = MDC_TABLE1.get((n, rate))
    rows = []
    for metric in TABLE_METRICS:
        row: dict[str, float | int | str] = {"n_speakers": n, "sample_rate": rate,
                                             "metric": metric, "n": len(dc)}
        row.update(_mean_ci("dc", dc[metric], n_boot, seed))
        row.update(_mean_ci("mdc", mdc[metric], n_boot, seed))
        row["diff"], row["diff_low"], row["diff_high"] = paired_scores(
            mdc, dc, metric, n_boot=n_boot, seed=seed)
        row["paper_dc"] = paper["dc"][metric] if paper else math.nan
        row["paper_mdc"] = paper["mdc"][metric] if paper else math.nan
        row["paper_diff"] = row["paper_mdc"] - row["paper_dc"]
        rows.append(row)
    return rows


def mdc_table(
    models: Sequence[StudyModel],
    scores: Mapping[str, pd.DataFrame],
    *,
    training: Mapping[str, TrainResult] | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Our Table 1: DC and M-DC means with bootstrap 95% CIs, M-DC - DC, and the paper's.

    One seed per model (the 2-speaker 8-kHz pair under several seeds:
    :func:`~bootsep_lib.studies.mdc_seeds.pair_table`); ``training`` (name -> TrainResult)
    adds ``dc_steps``, ``dc_stop_reason``, ``mdc_steps`` and ``mdc_stop_reason``.

    Returns
    -------
    pandas.DataFrame
        One row per ``(n_speakers, sample_rate, metric)`` in the paper's order, columns
        ``dc``, ``dc_low``, ``dc_high``, ``mdc``, ``mdc_low``, ``mdc_high``, ``diff``,
        ``diff_low``, ``diff_high`` (paired, per mixture:
        :func:`~bootsep_lib.eval.stats.paired_scores`), ``paper_dc``, ``paper_mdc``,
        ``paper_diff`` and ``n`` (test mixtures).
    """
    by_key = {(m.n_speakers, m.sample_rate, m.loss): m for m in models if m.study == "table"}
    rows = []
    for n, rate in TABLE_CONFIGS:
        if (n, rate, "dc") in by_key and (n, rate, "mdc") in by_key:
            dc, mdc = by_key[n, rate, "dc"], by_key[n, rate, "mdc"]
            extra = {} if training is None else {
                **_steps(training[dc.name], "dc"), **_steps(training[mdc.name], "mdc")}
            rows += [{**row, **extra} for row in _mdc_rows(
                n, rate, scores[dc.name], scores[mdc.name], n_boot, seed)]
    return pd.DataFrame(rows)


def _steps(result: TrainResult, prefix: str) -> dict[str, object]:
    """``{prefix}_steps`` (optimiser steps of the run) and ``{prefix}_stop_reason``."""
    return {f"{prefix}_steps": run_steps(result), f"{prefix}_stop_reason": result.stop_reason}


def chimera_table(
    models: Sequence[StudyModel],
    scores: Mapping[str, pd.DataFrame],
    *,
    metric: str = "si_sdr",
    training: Mapping[str, TrainResult] | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fig. 2's numbers: one row per (system, head weight) with mean, bootstrap CI and head.

    Columns ``system`` ("chimera" / "mchimera"), ``alpha`` (the head weight, named as in the
    paper's figure), ``head``, ``run_id`` (shared models have the same one), ``{metric}``,
    ``{metric}_low``, ``{metric}_high`` and ``n``; with ``training`` (name -> TrainResult)
    also ``steps`` and ``stop_reason``.  One seed per model.
    """
    rows = []
    for m in models:
        if m.study != "chimera":
            continue
        extra = {} if training is None else {
            k.removeprefix("_"): v for k, v in _steps(training[m.name], "").items()}
        rows.append({"system": m.loss, "alpha": m.chimera_weight, "head": m.head,
                     "run_id": m.job.run.run_id,
                     **_mean_ci(metric, scores[m.name][metric], n_boot, seed),
                     "n": len(scores[m.name]), **extra})
    return pd.DataFrame(rows).sort_values(["system", "alpha"], ignore_index=True)


def bootstrap_comparison(
    models: Sequence[StudyModel],
    scores: Mapping[str, pd.DataFrame],
    *,
    metric: str = "si_sdr",
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Bootstrapped DC against bootstrapped M-DC: means with CIs and the paired difference.

    "Bootstrapped" is the bootstrapping paper's method (spatial pseudo labels); the CIs are
    resampling bootstraps (:mod:`bootsep_lib.eval.stats`).

    Returns
    -------
    pandas.DataFrame
        Rows ``dc``, ``mdc`` and ``mdc - dc``; columns ``mean``, ``low``, ``high``, ``n``.
    """
    by_loss = {m.loss: scores[m.name] for m in models if m.study == "bootstrap"}
    if set(by_loss) != {"dc", "mdc"}:
        raise ValueError("need the bootstrapped 'dc' and 'mdc' models")
    rows = {}
    for loss in ("dc", "mdc"):
        values = by_loss[loss][metric].to_numpy()
        rows[loss] = (*bootstrap_ci(values, n_boot=n_boot, seed=seed), len(values))
    diff = paired_scores(by_loss["mdc"], by_loss["dc"], metric, n_boot=n_boot, seed=seed)
    rows["mdc - dc"] = (*diff, len(by_loss["dc"]))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "low", "high", "n"])
