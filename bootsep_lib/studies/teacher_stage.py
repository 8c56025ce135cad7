"""Any registered teacher on every mixture of a split: its scores and its label bank.

The generalisation of :func:`~bootsep_lib.studies.spatial_stage.spatial_stage` to the teachers
of :mod:`bootsep_lib.spatial.teachers`: for each of the first ``n`` mixtures of a split, the
teacher sees the mixture's first :data:`TEACHER_CHANNELS` microphones (never its sources),
returns masks and a per-bin confidence at mic 1, and the stage keeps

* a table row: SI-SDR / SI-SIR / SI-SAR of the masks applied to mic 1 against the source
  images at mic 1 (for a reverberant room: the reverberant images, as spatialized wsj0-2mix
  distributes them), the mean confidence, the label balance ``C_cl`` (Eq. 4), label
  accuracy and the teacher's run time;
* the label bank: pseudo labels (argmax of the masks), the per-bin confidence as ``post``
  (the whole of the teacher's confidence: the table's ``conf_cl`` and ``conf_jsd`` are 1, so
  :func:`bootsep_lib.targets.bootstrap_weights` gives ``w = C(t, f)^alpha |X| / sum |X|``)
  and the ground-truth labels (scoring only).

Cached by corpus fingerprint, split, ``n``, teacher name, its options and a version constant.
"""

from __future__ import annotations

import inspect
import time
import warnings
from dataclasses import asdict

import numpy as np
import pandas as pd

from .. import dsp, targets
from ..config import Profile
from ..data.fingerprint import split_fingerprint
from ..data.subsets import Subset, open_split
from ..eval import evaluate_mixture, label_accuracy
from ..spatial import SpatialWarning, get_teacher
from ..spatial.confidence import cluster_size_confidence
from ..util.atomic import sweep_temp_files
from ..util.cache import cache_entry, stage_key
from ..util.parallel import parallel_map, strided
from .spatial_stage import SpatialStage, _bank, _read_stage, _write_stage

__all__ = ["TEACHER_CHANNELS", "TEACHER_STAGE_VERSION", "teacher_mixture", "teacher_options",
           "teacher_stage"]

#: Bump when the stage's outputs change meaning for the same inputs.
TEACHER_STAGE_VERSION = 2

#: Microphones handed to every teacher (mics 1-4; a stereo teacher uses the first two).
TEACHER_CHANNELS = (0, 1, 2, 3)


def teacher_options(name: str, profile: Profile) -> dict:
    """The profile's teacher options (``n_iter``, ``window_ms``) that teacher ``name`` takes.

    Options a teacher does not declare are not passed (and do not enter its cache key), so
    the paper's ``ipd-gmm`` is unaffected by the BSS iteration count.
    """
    cfg = profile.teachers
    wanted = {"n_iter": cfg.n_iter, "window_ms": cfg.window_ms}
    params = inspect.signature(get_teacher(name)).parameters
    return {k: v for k, v in wanted.items() if k in params and v is not None}


def teacher_mixture(mix: np.ndarray, refs: np.ndarray, sample_rate: int, profile: Profile,
                    name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Run teacher ``name`` on one mixture and score it.

    Parameters
    ----------
    mix : np.ndarray, shape (mics, samples)
        Mic 1 first; the only input the teacher gets.
    refs : np.ndarray, shape (sources, samples)
        Source images at mic 1, for the scores and ground-truth labels only.

    Returns
    -------
    row : dict
        ``si_sdr``, ``si_sir``, ``si_sar``, ``si_sdr_mix`` (means over sources; masks on
        mic 1), ``si_sdr_signal`` (the teacher's own separated signals, NaN if it has none),
        ``confidence`` (mean over bins), ``label_balance`` (Eq. 4 on the labels),
        ``label_accuracy``, ``conf_cl`` = ``conf_jsd`` = 1, ``degenerate``, ``seconds``.
    arrays : dict
        ``labels`` (int8), ``post`` (the confidence, float16), ``truth`` (int8), each
        (frames, freqs).
    """
    cfg = profile.spatial
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialWarning)
        out = get_teacher(name)(mix, sample_rate, cfg, seed=profile.data.seed,
                                **teacher_options(name, profile))
    seconds = time.perf_counter() - start
    spec = dsp.stft(mix[0], sample_rate, cfg.window_ms, cfg.hop_ms)
    estimates = dsp.istft(out.masks * spec, sample_rate, mix.shape[-1], cfg.window_ms,
                          cfg.hop_ms)
    scores = evaluate_mixture(estimates, refs, mix[0], sample_rate)
    signal = (evaluate_mixture(out.images, refs, mix[0], sample_rate)["si_sdr"].mean()
              if out.images is not None else np.nan)
    labels = np.argmax(out.masks, axis=0)
    truth = targets.ground_truth_labels(dsp.stft(refs, sample_rate, cfg.window_ms, cfg.hop_ms))
    row = {
        "si_sdr": float(scores["si_sdr"].mean()), "si_sir": float(scores["si_sir"].mean()),
        "si_sar": float(scores["si_sar"].mean()),
        "si_sdr_mix": float(scores["si_sdr_mix"].mean()), "si_sdr_signal": float(signal),
        "confidence": float(out.confidence.mean()),
        "label_balance": cluster_size_confidence(labels, cfg.n_sources),
        "label_accuracy": label_accuracy(truth, labels, np.abs(spec), cfg.n_sources),
        "conf_cl": 1.0, "conf_jsd": 1.0, "degenerate": bool(out.degenerate),
        "seconds": seconds,
    }
    arrays = {"labels": labels.astype(np.int8), "post": out.confidence.astype(np.float16),
              "truth": truth.astype(np.int8)}
    return row, arrays


def _worker(args: tuple) -> list[tuple[int, dict, dict]]:
    profile, split, subset, name, indices = args
    ds = open_split(profile, split, subset=subset, channels=TEACHER_CHANNELS)
    out = []
    for i in indices:
        item = ds[i]
        mix = item["mix"].numpy().astype(np.float64)
        refs = item["sources"].numpy()[:, 0].astype(np.float64)
        row, arrays = teacher_mixture(mix, refs, subset.sample_rate, profile, name)
        out.append((i, {"id": item["id"], **row}, arrays))
    return out


def teacher_stage(
    profile: Profile,
    split: str,
    subset: Subset,
    teacher: str,
    n: int,
    *,
    jobs: int = 1,
    progress: bool = True,
) -> SpatialStage:
    """Run (or read back) ``teacher`` on the first ``n`` mixtures of a split.

    Returns
    -------
    SpatialStage
        ``table`` (one row per mixture: ``id`` and :func:`teacher_mixture`'s columns),
        ``bank`` (labels / post / truth / offsets) and the cache ``folder``.
    """
    ds = open_split(profile, split, subset=subset, return_sources=False)
    n = min(int(n), len(ds))
    key = stage_key("teacher", TEACHER_STAGE_VERSION, {
        "corpus": split_fingerprint(ds.folder), "seed": profile.data.seed,
        "subset": asdict(subset), "spatial": asdict(profile.spatial), "split": split, "n": n,
        "teacher": teacher, "options": teacher_options(teacher, profile),
        "channels": TEACHER_CHANNELS,
    })
    folder = cache_entry("teachers", key)
    stage = _read_stage(folder, split)
    if stage is not None:
        return stage
    sweep_temp_files(folder)
    jobs = max(1, min(jobs, n))
    tasks = [(profile, split, subset, teacher, chunk) for chunk in strided(n, jobs * 4)]
    parts = parallel_map(_worker, tasks, jobs=jobs, progress=progress,
                         desc=f"{teacher} {subset.condition} {split}",
                         weight=lambda task: len(task[-1]))
    results = sorted((r for part in parts for r in part), key=lambda r: r[0])
    table = pd.DataFrame([r[1] for r in results])
    bank = _bank(results)
    _write_stage(folder, profile, split, subset, n, table, bank)
    return SpatialStage(table, bank, folder)
