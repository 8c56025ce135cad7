"""Manifold-aware deep clustering (the M-DC paper, Tanaka et al., Interspeech 2021), notebook 06.

Four studies, all trained with the profile's ``mdc_model`` / ``mdc_train`` settings unless said:

* **Table 1** -- DC against M-DC on ground-truth labels for 2 and 3 speakers at 8 and 16 kHz,
  the same architecture and initial weights, K-means with ``N`` clusters at test time; SI-SDR,
  SDR, SIR, SAR and STOI with bootstrap 95% CIs and the paper's numbers beside ours.
* **Fig. 2** -- Chimera against M-Chimera (simplex targets on the DC head) over the head weight
  ``alpha`` of ``alpha * DC + (1 - alpha) * MI`` (2 speakers, 8 kHz); separation by the MI head
  for ``alpha < 1`` and by K-means on the DC head at ``alpha = 1``.  Models whose objectives
  coincide are trained once (``alpha = 0``: the same pure-MI objective; ``alpha = 1``: the DC
  objective, the MI head receiving no gradient) -- :func:`same_training` measures that.
* **Embedding geometry** -- cosines between embeddings of bins dominated by different speakers
  (:func:`cross_source_cosines`): DC's targets put them at 90 degrees, M-DC's at
  ``arccos(-1/(N-1))``.
* **Bootstrapped M-DC** (beyond the papers) -- the bootstrapping paper's ``alpha = 1`` model
  (spatial pseudo labels, ``profile.model`` / ``profile.train``, the model of notebook 04)
  against the same with simplex targets; paired per-mixture differences.

Findings are sentences generated from the numbers (:func:`findings`); what differs from the
paper's setup is generated from the profile (:func:`differences_from_paper`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import Subset as ItemSubset
from tqdm.auto import tqdm

from .. import dsp, metrics, targets
from ..config import Profile
from ..engine import train_model
from ..models import load_model
from ..separate import embed
from .evaluation import evaluate_model
from .spatial_stage import Subset, open_split
from .training import ModelJob, TrainingSet, run_config, train_many

__all__ = [
    "PAPER_TABLE1",
    "TABLE_CONFIGS",
    "TABLE_METRICS",
    "CHIMERA_ALPHAS",
    "StudyModel",
    "study_models",
    "train_study",
    "evaluate_study",
    "same_training",
    "shared_model_checks",
    "cross_source_cosines",
    "embedding_cosines",
    "study_cosines",
    "cosine_summary",
    "mdc_table",
    "chimera_table",
    "bootstrap_comparison",
    "findings",
    "differences_from_paper",
    "mdc_table_markdown",
]

#: Table 1 of the M-DC paper (wsj0-2mix / wsj0-3mix, 4x600 BLSTM, D = 40): means over the test
#: set, keyed by ``(n_speakers, sample_rate)``, then ``"dc"`` / ``"mdc"``, then metric (SI-SDR,
#: SDR, SIR, SAR in dB; STOI in [0, 1]).  Fig. 2 (Chimera vs M-Chimera) is printed as a plot
#: only, so no numbers of it are recorded here.
PAPER_TABLE1: dict[tuple[int, int], dict[str, dict[str, float]]] = {
    (2, 8000): {
        "dc": {"si_sdr": 8.863, "sdr": 9.402, "sir": 17.810, "sar": 10.473, "stoi": 0.858},
        "mdc": {"si_sdr": 9.321, "sdr": 9.843, "sir": 18.372, "sar": 10.837, "stoi": 0.870},
    },
    (2, 16000): {
        "dc": {"si_sdr": 6.923, "sdr": 7.417, "sir": 15.923, "sar": 8.548, "stoi": 0.810},
        "mdc": {"si_sdr": 7.347, "sdr": 7.827, "sir": 16.405, "sar": 8.907, "stoi": 0.822},
    },
    (3, 8000): {
        "dc": {"si_sdr": 2.390, "sdr": 3.271, "sir": 10.041, "sar": 5.376, "stoi": 0.675},
        "mdc": {"si_sdr": 2.455, "sdr": 3.331, "sir": 10.121, "sar": 5.423, "stoi": 0.677},
    },
    (3, 16000): {
        "dc": {"si_sdr": 0.889, "sdr": 1.705, "sir": 8.629, "sar": 3.900, "stoi": 0.611},
        "mdc": {"si_sdr": 0.882, "sdr": 1.701, "sir": 8.645, "sar": 3.874, "stoi": 0.611},
    },
}

#: The M-DC paper's STFT (Section 3.1): square-root Hann window of 256 samples, hop 64, at both
#: sampling rates (32 / 8 ms at 8 kHz, 16 / 4 ms at 16 kHz).
PAPER_STFT_SAMPLES = (256, 64)

#: ``(n_speakers, sample_rate)`` of the rows of Table 1, in the paper's order.
TABLE_CONFIGS: tuple[tuple[int, int], ...] = ((2, 8000), (2, 16000), (3, 8000), (3, 16000))

#: Columns of Table 1 (per-mixture means over sources from :func:`evaluate_model`).
TABLE_METRICS = ("si_sdr", "sdr", "sir", "sar", "stoi")

#: Head weights of Fig. 2.
CHIMERA_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)

_LABELS = {"dc": "DC", "mdc": "M-DC", "chimera": "Chimera", "mchimera": "M-Chimera"}
_METRIC_LABELS = {"si_sdr": "SI-SDR", "sdr": "SDR", "sir": "SIR", "sar": "SAR", "stoi": "STOI"}


@dataclass(frozen=True)
class StudyModel:
    """One named model of the study and how it is evaluated.

    Attributes
    ----------
    name : str
        ``"table/<loss>/<N>spk/<rate>"``, ``"chimera/<loss>/<alpha>"`` or
        ``"bootstrap/<loss>"``.
    study : {"table", "chimera", "bootstrap"}
    loss : {"dc", "mdc", "chimera", "mchimera"}
        The objective the row stands for (a shared model may be trained under another name
        whose objective coincides, see ``job.run.loss``).
    n_speakers, sample_rate : int
    alpha : float or None
        Chimera head weight (``None`` outside the Chimera study).
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
    alpha: float | None
    head: str
    job: ModelJob

    @property
    def subset(self) -> Subset:
        """The anechoic corpus subset the model is trained and tested on."""
        return Subset(self.n_speakers, "anechoic", self.sample_rate)


def _mdc_job(
    profile: Profile, subset: Subset, loss: str, alpha: float = 1.0, with_sources: bool = False
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
        run_config(profile, train_set, loss=loss, chimera_alpha=alpha),
        model=profile.mdc_model, train=profile.mdc_train,
    )
    return ModelJob(run, train_set, valid_set)


def study_models(
    profile: Profile,
    *,
    alphas: Sequence[float] = CHIMERA_ALPHAS,
    bootstrap: bool = True,
    jobs: int = 1,
) -> list[StudyModel]:
    """Every model of notebook 06, named, with its training job and separation head.

    Sharing (each measured by :func:`shared_model_checks`): Chimera and M-Chimera at
    ``alpha = 0`` are one model (the DC term has weight 0, so the targets never matter), and at
    ``alpha = 1`` they are the Table-1 DC and M-DC models of 2 speakers at 8 kHz (the MI term
    has weight 0, so the MI head never gets a gradient and the trunk and embedding layer train
    exactly as in the DC network; the K-means DC head separates).

    Parameters
    ----------
    profile : Profile
        Must list the anechoic subsets of :data:`TABLE_CONFIGS` in ``profile.data.subsets``.
    alphas : sequence of float
        Chimera head weights, in ``[0, 1]``.
    bootstrap : bool
        Also the bootstrapped DC / M-DC pair (spatial pseudo labels, ``alpha = 1`` weights);
        this runs the spatial stage of the main subset's ``tr`` and ``cv`` splits if needed.
    jobs : int
        Processes for the spatial stage.

    Returns
    -------
    list of StudyModel
    """
    present = {(n, rate) for n, cond, rate in profile.data.subsets if cond == "anechoic"}
    missing = [c for c in TABLE_CONFIGS if c not in present]
    if missing:
        raise ValueError(f"profile {profile.name!r} lacks the anechoic subsets {missing}")
    models: list[StudyModel] = []
    table_jobs: dict[tuple[int, int, str], ModelJob] = {}
    for n, rate in TABLE_CONFIGS:
        for loss in ("dc", "mdc"):
            job = _mdc_job(profile, Subset(n, "anechoic", rate), loss)
            table_jobs[n, rate, loss] = job
            models.append(StudyModel(f"table/{loss}/{n}spk/{rate // 1000}k", "table", loss, n,
                                     rate, None, "dc", job))
    main = Subset(2, "anechoic", 8000)
    shared_mi = _mdc_job(profile, main, "chimera", 0.0, with_sources=True)
    for alpha in alphas:
        for loss, dc_loss in (("chimera", "dc"), ("mchimera", "mdc")):
            if alpha == 1.0:
                job, head = table_jobs[2, 8000, dc_loss], "dc"
            elif alpha == 0.0:
                job, head = shared_mi, "mi"
            else:
                job, head = _mdc_job(profile, main, loss, alpha, with_sources=True), "mi"
            models.append(StudyModel(f"chimera/{loss}/{alpha:g}", "chimera", loss, 2, 8000,
                                     float(alpha), head, job))
    if bootstrap:
        subset = Subset(*profile.data.subsets[0])
        train_set = TrainingSet(profile, "tr", targets="spatial", alpha=1.0, subset=subset,
                                jobs=jobs)
        valid_set = TrainingSet(profile, "cv", targets="spatial", alpha=1.0, subset=subset,
                                jobs=jobs)
        for loss in ("dc", "mdc"):
            job = ModelJob(run_config(profile, train_set, loss=loss), train_set, valid_set)
            models.append(StudyModel(f"bootstrap/{loss}", "bootstrap", loss, subset.n_speakers,
                                     subset.sample_rate, None, "dc", job))
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


# --------------------------------------------------------------------------- shared models


def same_training(
    job_a: ModelJob, job_b: ModelJob, *, items: int = 32, epochs: int = 1
) -> dict[str, float]:
    """Train two jobs side by side from scratch (in a throwaway folder) and compare them.

    Both are trained for ``epochs`` epochs on the first ``items`` mixtures of their training
    and validation sets; parameters present in both networks (by name: the trunk and the
    embedding layer, and the MI head when both have one) are compared.

    Returns
    -------
    dict
        ``train_loss_a``, ``train_loss_b``, ``valid_loss_a``, ``valid_loss_b`` (last epoch),
        ``max_weight_diff`` (largest absolute difference over shared parameters; 0.0 means
        bit-identical training) and ``shared_parameters`` (number of tensors compared).
    """
    out: dict[str, float] = {}
    states = []
    with tempfile.TemporaryDirectory(prefix="bootsep-same-") as tmp:
        for tag, job in (("a", job_a), ("b", job_b)):
            n_train = min(items, len(job.train_set))
            n_valid = min(items, len(job.valid_set))
            run = dataclasses.replace(job.run, train=dataclasses.replace(job.run.train,
                                                                         epochs=epochs))
            result = train_model(run, ItemSubset(job.train_set, range(n_train)),
                                 ItemSubset(job.valid_set, range(n_valid)),
                                 cache_dir=Path(tmp) / tag, progress=False)
            last = result.history.iloc[-1]
            out[f"train_loss_{tag}"] = float(last["train_loss"])
            out[f"valid_loss_{tag}"] = float(last["valid_loss"])
            states.append(load_model(result.last_checkpoint, device="cpu")[0].state_dict())
    shared = sorted(set(states[0]) & set(states[1]))
    diffs = [float((states[0][k].double() - states[1][k].double()).abs().max()) for k in shared]
    out["max_weight_diff"] = max(diffs) if diffs else math.nan
    out["shared_parameters"] = float(len(shared))
    return out


def shared_model_checks(profile: Profile, *, items: int = 32, epochs: int = 1) -> pd.DataFrame:
    """Measure the sharing of :func:`study_models` on the profile's 2-speaker 8 kHz data.

    Rows: DC against itself (the reproducibility floor: 0 on CPU, where training is bitwise
    reproducible; cuDNN kernels are not); Chimera vs M-Chimera at ``alpha = 0``; Chimera at
    ``alpha = 1`` vs DC; M-Chimera at ``alpha = 1`` vs M-DC -- each pair trained side by side
    by :func:`same_training`.
    """
    main = Subset(2, "anechoic", 8000)
    pairs = {
        "DC vs DC (the same run twice)": (
            _mdc_job(profile, main, "dc"), _mdc_job(profile, main, "dc")),
        "Chimera vs M-Chimera, alpha = 0": (
            _mdc_job(profile, main, "chimera", 0.0, with_sources=True),
            _mdc_job(profile, main, "mchimera", 0.0, with_sources=True)),
        "Chimera alpha = 1 vs DC": (
            _mdc_job(profile, main, "chimera", 1.0, with_sources=True),
            _mdc_job(profile, main, "dc")),
        "M-Chimera alpha = 1 vs M-DC": (
            _mdc_job(profile, main, "mchimera", 1.0, with_sources=True),
            _mdc_job(profile, main, "mdc")),
    }
    rows = {name: same_training(a, b, items=items, epochs=epochs)
            for name, (a, b) in tqdm(pairs.items(), desc="shared-model checks")}
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- geometry


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
        level = dsp.magnitude_db(mix_stft)
        out.append(cross_source_cosines(
            emb, targets.ground_truth_labels(refs), select=level >= level.max() + threshold_db,
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


# --------------------------------------------------------------------------- tables


def _paired(a: pd.DataFrame, b: pd.DataFrame, column: str, n_boot: int, seed: int):
    """Paired bootstrap of ``a - b`` on the mixtures both tables hold (matched by id)."""
    merged = a[["id", column]].merge(b[["id", column]], on="id", suffixes=("_a", "_b"))
    if merged.empty:
        raise ValueError("the two score tables share no mixture id")
    return metrics.paired_difference_ci(merged[f"{column}_a"], merged[f"{column}_b"],
                                        n_boot=n_boot, seed=seed)


def mdc_table(
    models: Sequence[StudyModel],
    scores: Mapping[str, pd.DataFrame],
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Our Table 1: DC and M-DC means with bootstrap 95% CIs, M-DC - DC, and the paper's.

    Returns
    -------
    pandas.DataFrame
        One row per ``(n_speakers, sample_rate, metric)`` in the paper's order, columns
        ``dc``, ``dc_low``, ``dc_high``, ``mdc``, ``mdc_low``, ``mdc_high``, ``diff``,
        ``diff_low``, ``diff_high`` (paired, per mixture), ``paper_dc``, ``paper_mdc``,
        ``paper_diff`` and ``n`` (test mixtures).
    """
    by_key = {(m.n_speakers, m.sample_rate, m.loss): scores[m.name]
              for m in models if m.study == "table"}
    rows = []
    for n, rate in TABLE_CONFIGS:
        if (n, rate, "dc") not in by_key or (n, rate, "mdc") not in by_key:
            continue
        dc, mdc = by_key[n, rate, "dc"], by_key[n, rate, "mdc"]
        for metric in TABLE_METRICS:
            row: dict[str, float | int | str] = {"n_speakers": n, "sample_rate": rate,
                                                 "metric": metric, "n": len(dc)}
            for name, table in (("dc", dc), ("mdc", mdc)):
                mean, low, high = metrics.bootstrap_ci(table[metric].to_numpy(), n_boot=n_boot,
                                                       seed=seed)
                row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
            row["diff"], row["diff_low"], row["diff_high"] = _paired(mdc, dc, metric, n_boot,
                                                                     seed)
            paper = PAPER_TABLE1.get((n, rate))
            row["paper_dc"] = paper["dc"][metric] if paper else math.nan
            row["paper_mdc"] = paper["mdc"][metric] if paper else math.nan
            row["paper_diff"] = row["paper_mdc"] - row["paper_dc"]
            rows.append(row)
    return pd.DataFrame(rows)


def chimera_table(
    models: Sequence[StudyModel],
    scores: Mapping[str, pd.DataFrame],
    *,
    metric: str = "si_sdr",
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fig. 2's numbers: one row per (system, alpha) with mean, bootstrap CI and head.

    Columns ``system`` ("chimera" / "mchimera"), ``alpha``, ``head``, ``run_id`` (shared
    models have the same one), ``{metric}``, ``{metric}_low``, ``{metric}_high`` and ``n``.
    """
    rows = []
    for m in models:
        if m.study != "chimera":
            continue
        mean, low, high = metrics.bootstrap_ci(scores[m.name][metric].to_numpy(), n_boot=n_boot,
                                               seed=seed)
        rows.append({"system": m.loss, "alpha": m.alpha, "head": m.head,
                     "run_id": m.job.run.run_id, metric: mean, f"{metric}_low": low,
                     f"{metric}_high": high, "n": len(scores[m.name])})
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
        rows[loss] = (*metrics.bootstrap_ci(values, n_boot=n_boot, seed=seed), len(values))
    diff = _paired(by_loss["mdc"], by_loss["dc"], metric, n_boot, seed)
    rows["mdc - dc"] = (*diff, len(by_loss["dc"]))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "low", "high", "n"])


# --------------------------------------------------------------------------- text


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no significant difference"


def _ci(mean: float, low: float, high: float, digits: int = 2) -> str:
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def findings(
    table: pd.DataFrame | None = None,
    chimera: pd.DataFrame | None = None,
    boot: pd.DataFrame | None = None,
    geometry: pd.DataFrame | None = None,
    checks: pd.DataFrame | None = None,
    *,
    metric: str = "si_sdr",
) -> list[str]:
    """Sentences stating what the numbers show (every number read from the tables).

    Parameters
    ----------
    table : output of :func:`mdc_table`, optional
    chimera : output of :func:`chimera_table` for ``metric``, optional
    boot : output of :func:`bootstrap_comparison`, optional
    geometry : output of :func:`cosine_summary`, optional
    checks : output of :func:`shared_model_checks`, optional
    metric : str
        The column of ``chimera``.

    Returns
    -------
    list of str
        One finding per line (Markdown-ready).
    """
    lines: list[str] = []
    if checks is not None and not checks.empty:
        for name, row in checks.iterrows():
            same_loss = (row["train_loss_a"] == row["train_loss_b"]
                         and row["valid_loss_a"] == row["valid_loss_b"])
            lines.append(
                f"{name}: trained side by side, training and validation losses "
                f"{'identical' if same_loss else 'differ'}, shared weights differ by at most "
                f"{row['max_weight_diff']:.3g}."
            )
    if table is not None and not table.empty:
        si = table[table["metric"] == "si_sdr"]
        for row in si.itertuples():
            lines.append(
                f"{row.n_speakers} speakers, {row.sample_rate // 1000} kHz: M-DC - DC SI-SDR "
                f"= {_ci(row.diff, row.diff_low, row.diff_high)} dB over {row.n} test mixtures "
                f"({_verdict(row.diff_low, row.diff_high)}; paper {row.paper_diff:+.2f} dB; "
                f"ours DC {row.dc:.2f} / M-DC {row.mdc:.2f} dB, paper {row.paper_dc:.2f} / "
                f"{row.paper_mdc:.2f})."
            )
        wins = table[table["diff_low"] > 0]
        losses = table[table["diff_high"] < 0]
        lines.append(
            f"Across {len(table)} (configuration, metric) cells M-DC is significantly better in "
            f"{len(wins)}, significantly worse in {len(losses)}; the paper reports M-DC higher "
            f"in {int((table['paper_diff'] > 0).sum())} of them."
        )
        by_n = si.groupby("n_speakers")["diff"].mean()
        if {2, 3} <= set(by_n.index):
            smaller = "smaller" if by_n[3] < by_n[2] else "not smaller"
            lines.append(
                f"Mean SI-SDR gain of M-DC: {by_n[2]:+.2f} dB with 2 speakers, {by_n[3]:+.2f} dB "
                f"with 3 -- {smaller} with 3 speakers (the paper's Eq. 6-8 predict a smaller "
                f"gain as N grows)."
            )
    if chimera is not None and not chimera.empty:
        best = {}
        for system, group in chimera.groupby("system"):
            top = group.loc[group[metric].idxmax()]
            best[system] = top
            lines.append(
                f"{_LABELS[system]}: best alpha = {top['alpha']:g} with {top[metric]:.2f} dB "
                f"[{top[f'{metric}_low']:.2f}, {top[f'{metric}_high']:.2f}] "
                f"({'K-means on the DC head' if top['head'] == 'dc' else 'MI head'})."
            )
        if {"chimera", "mchimera"} <= set(best):
            gap = best["mchimera"][metric] - best["chimera"][metric]
            overlap = (best["mchimera"][f"{metric}_low"] <= best["chimera"][f"{metric}_high"]
                       and best["chimera"][f"{metric}_low"] <= best["mchimera"][f"{metric}_high"])
            same = best["mchimera"]["run_id"] == best["chimera"]["run_id"]
            lines.append(
                f"Best M-Chimera - best Chimera = {gap:+.2f} dB"
                + (" (the same shared model)" if same else
                   f" ({'overlapping' if overlap else 'disjoint'} CIs)")
                + "; the paper reports M-Chimera's best above Chimera's best."
            )
    if boot is not None:
        d = boot.loc["mdc - dc"]
        lines.append(
            f"Bootstrapped (spatial pseudo labels, alpha = 1 weights): M-DC - DC SI-SDR = "
            f"{_ci(d['mean'], d['low'], d['high'])} dB over {int(d['n'])} mixtures "
            f"({_verdict(d['low'], d['high'])}); DC {boot.loc['dc', 'mean']:.2f} dB, "
            f"M-DC {boot.loc['mdc', 'mean']:.2f} dB."
        )
    if geometry is not None and not geometry.empty:
        for row in geometry.itertuples():
            lines.append(
                f"{_LABELS[row.loss]}, {row.n_speakers} speakers: median angle between "
                f"embeddings of different speakers {row.median_angle:.0f} deg (target "
                f"{row.target_angle:.0f} deg); {100 * row.share_obtuse:.0f}% of the pairs "
                f"beyond 90 deg."
            )
    return lines


def differences_from_paper(profile: Profile) -> list[str]:
    """How this run's setup differs from the M-DC paper's (Section 3), read from the profile."""
    data, model, train = profile.data, profile.mdc_model, profile.mdc_train
    secondary = data.secondary_sizes or (data.n_train, data.n_valid, data.n_test)
    window, hop = profile.spatial.window_ms, profile.spatial.hop_ms
    sizes = [(rate, *dsp.stft_params(rate, window, hop)) for rate in (8000, 16000)]
    stft = ", ".join(f"{n} / {h} samples at {rate // 1000} kHz" for rate, n, h in sizes)
    paper_window, paper_hop = PAPER_STFT_SAMPLES
    return [
        f"Speech: synthetic {data.engine} voices ({data.speakers_train} training speakers), "
        "not WSJ0 read speech.",
        f"Data: {secondary[0]} / {secondary[1]} training / validation mixtures for every "
        f"model of the study; tested on {data.n_test} mixtures for 2 speakers at 8 kHz and "
        f"{secondary[2]} for the other three configurations; the paper: wsj0-2mix / "
        "wsj0-3mix, 30 h / 10 h / 5 h.",
        f"Network: {model.layers} x {model.units} BLSTM, D = {model.embedding_dim}; the paper: "
        "4 x 600, D = 40.",
        f"Training: {train.optimizer} at lr {train.lr:g}, batch {train.batch_size} x "
        f"{train.crop_frames} frames, at most {train.epochs} epochs (early stop after "
        f"{train.early_stop_patience} stalls); the paper: RMSprop at 1e-4, batch 32, lr halved "
        "after 5 stalls, stopped after 30 stalls.",
        f"STFT: periodic Hann window of {window:g} ms and hop {hop:g} ms at every rate, i.e. "
        f"{stft}; the paper: square-root Hann, {paper_window} / {paper_hop} samples at both "
        f"rates (so 16 / 4 ms at 16 kHz: our 16 kHz models see twice the frequency "
        "resolution and half the time resolution of the paper's).",
        "Training weights: magnitude weights |X| / sum |X| on every bin (the bootstrapping "
        "paper's Eq. 8 with C = 1); one seed per model.",
    ]


# --------------------------------------------------------------------------- writing


def mdc_table_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`mdc_table` formatted for reading: ``mean [low, high]`` cells, the paper beside."""

    def cell(mean: float, low: float, high: float, digits: int, sign: bool = False) -> str:
        fmt = f"{'+' if sign else ''}.{digits}f"
        return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"

    rows = []
    for r in table.itertuples():
        d = 3 if r.metric == "stoi" else 2
        rows.append({
            "configuration": f"{r.n_speakers} speakers, {r.sample_rate // 1000} kHz",
            "metric": _METRIC_LABELS.get(r.metric, r.metric),
            "DC": cell(r.dc, r.dc_low, r.dc_high, d),
            "M-DC": cell(r.mdc, r.mdc_low, r.mdc_high, d),
            "M-DC - DC": cell(r.diff, r.diff_low, r.diff_high, d, sign=True),
            "paper DC": f"{r.paper_dc:.3f}",
            "paper M-DC": f"{r.paper_mdc:.3f}",
        })
    return pd.DataFrame(rows)
