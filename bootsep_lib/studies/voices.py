"""The natural-voice study (issue 11, item 4): the bootstrapping results on two speech engines.

For every engine of ``profile.voices`` (Kokoro-82M's natural-sounding voices and eSpeak NG's
formant voices by default) a corpus of the same sizes, rooms and layout (2 speakers, anechoic,
8 kHz; :func:`voice_profile`), and on each: the spatial stage (its SI-SDR on the test split and
the correlation of its mean confidence with SI-SDR on the validation split, as in Fig. 2), and
three deep clustering models of Table 1 sharing architecture, schedule and initial weights:
ground truth (all), and spatial estimates with alpha = 0 and alpha = 1.  All six models train
in one :func:`~bootsep_lib.studies.training.train_many` call.  The table and findings are
:func:`voices_table` and :mod:`bootsep_lib.report.voices`.

Corpus building first synthesizes every distinct utterance of the three splits in parallel
(:func:`prefetch_utterances`; Kokoro's cost is per utterance, about 1 s of CPU per second of
speech, and this way no two workers synthesize the same one), then renders the mixtures with
the ordinary builder.  The measured times go to ``<corpus root>/build_time.json`` when a
corpus is built (not when it is found finished).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..config import Profile
from ..data import build
from ..data.layout import SPLITS, split_dir, split_status
from ..data.mixture import _load_utterance
from ..data.speech import CorpusError, get_engine
from ..engine import TrainResult
from ..util import atomic_write_text
from ..util.parallel import parallel_map
from .bootstrap import GT_ALL, Table1Model, bootstrapped_model
from .evaluation import evaluate_model
from .spatial_stage import spatial_stage
from .training import train_many

__all__ = ["SUBSET", "VoiceResult", "voice_profile", "voices_status", "prefetch_utterances",
           "build_voice_corpora", "voice_models", "run_voices", "correlation_ci"]

#: The study's corpus subset: 2 speakers, anechoic, 8 kHz (the bootstrapping paper's).
SUBSET = (2, "anechoic", 8000)


def voice_profile(profile: Profile, engine: str) -> Profile:
    """``profile`` with its corpus replaced by the natural-voice study's corpus of ``engine``.

    Root ``<data root of profile>/<voices.root>/<engine>`` (absolute, so it stays apart from
    ``$BOOTSEP_DATA``), one subset (:data:`SUBSET`), the sizes of ``profile.voices``; geometry,
    seed and storage of ``profile.data``; ``profile.train`` with ``voices.epochs``.
    """
    v = profile.voices
    root = paths.data_root(profile.data.root) / v.root / engine
    data = replace(profile.data, root=str(root), engine=engine, subsets=(SUBSET,),
                   n_train=v.n_train, n_valid=v.n_valid, n_test=v.n_test, secondary_sizes=None,
                   speakers_train=v.speakers_train, speakers_valid=v.speakers_valid,
                   speakers_test=v.speakers_test, utterances_per_speaker=v.utterances_per_speaker,
                   words_per_utterance=v.words_per_utterance)
    return replace(profile, data=data, train=replace(profile.train, epochs=v.epochs))


def voices_status(profile: Profile) -> str | None:
    """Why the study cannot run with ``profile`` (off, or an engine missing); None if it can."""
    if not profile.voices.enabled:
        return (f"the natural-voice study is off in profile {profile.name!r} "
                "(profile.voices.enabled); run it with --profile laptop-voices")
    for engine in profile.voices.engines:
        try:
            get_engine(engine)
        except CorpusError as exc:
            return str(exc)
    return None


def _synthesize_one(utterance) -> float:
    """Synthesize (or read back) one utterance into the cache; its length in seconds."""
    return len(_load_utterance(utterance, SUBSET[2])) / SUBSET[2]


def _tasks(data, split: str) -> list:
    root = Path(data.root)
    folder = split_dir(root, *SUBSET, split)
    return build._corpus_tasks(data, *SUBSET, split, folder, root / "utterances")


def prefetch_utterances(data, *, jobs: int = 1, progress: bool = True) -> tuple[int, float]:
    """Synthesize every distinct utterance the corpus of ``data`` uses, ``jobs`` at a time.

    Returns
    -------
    (n_utterances, audio_seconds) : tuple of (int, float)
    """
    unique = {}
    for split in SPLITS:
        for task in _tasks(data, split):
            for utt in task.utterances:
                unique.setdefault(utt.cache, utt)
    items = sorted(unique.values(), key=lambda u: u.cache)
    seconds = parallel_map(_synthesize_one, items, jobs=jobs, progress=progress,
                           desc=f"{data.engine} utterances", unit="utt")
    return len(items), float(sum(seconds))


def build_voice_corpora(profile: Profile, *, jobs: int = 1, progress: bool = True) -> dict:
    """Build (or find finished) every engine's corpus; measured build times by engine."""
    times = {}
    for engine in profile.voices.engines:
        data = voice_profile(profile, engine).data
        root = Path(data.root)
        record = root / "build_time.json"
        done = all(split_status(split_dir(root, *SUBSET, s)) == "complete" for s in SPLITS)
        if not done:
            start = time.perf_counter()
            n_utt, audio = prefetch_utterances(data, jobs=jobs, progress=progress)
            synthesized = time.perf_counter() - start
            build.build_all(data, root=root, jobs=jobs, progress=progress)
            atomic_write_text(record, json.dumps({
                "engine": engine, "utterances": n_utt, "audio_seconds": round(audio, 1),
                "synthesis_seconds": round(synthesized, 1), "jobs": jobs,
                "total_seconds": round(time.perf_counter() - start, 1),
                "mixtures": [data.n_train, data.n_valid, data.n_test]}))
        times[engine] = json.loads(record.read_text()) if record.exists() else None
    return times


def voice_models() -> list[Table1Model]:
    """The study's models: ground truth (all), spatial estimates at alpha = 0 and alpha = 1."""
    return [Table1Model(GT_ALL, "ground_truth"), bootstrapped_model(0.0), bootstrapped_model(1.0)]


@dataclass
class VoiceResult:
    """One engine's results: spatial stage (cv, tt tables), per-model test scores, training."""

    engine: str
    spatial_valid: pd.DataFrame
    spatial_test: pd.DataFrame
    scores: dict[str, pd.DataFrame]
    training: dict[str, TrainResult]


def run_voices(profile: Profile, *, jobs: int = 1, progress: bool = True
               ) -> tuple[dict[str, VoiceResult], dict]:
    """Build the corpora, run the spatial stages, train and evaluate every model (cached).

    Returns
    -------
    (results by engine, build times by engine)
    """
    reason = voices_status(profile)
    if reason is not None:
        raise CorpusError(reason)
    times = build_voice_corpora(profile, jobs=jobs, progress=progress)
    profiles = {e: voice_profile(profile, e) for e in profile.voices.engines}
    stages = {e: {s: spatial_stage(p, s, jobs=jobs, progress=progress) for s in ("cv", "tt")}
              for e, p in profiles.items()}
    models = voice_models()
    keys = [(e, m) for e in profiles for m in models]
    trained = train_many([m.job(profiles[e], jobs=jobs) for e, m in keys], jobs=jobs,
                         progress=progress)
    results = {}
    for e, p in profiles.items():
        runs = {m.name: r for (e2, m), r in zip(keys, trained, strict=True) if e2 == e}
        scores = {name: evaluate_model(p, r.run_dir, split="tt", jobs=jobs, progress=progress)
                  for name, r in runs.items()}
        results[e] = VoiceResult(e, stages[e]["cv"].table, stages[e]["tt"].table, scores, runs)
    return results, times


def correlation_ci(x: np.ndarray, y: np.ndarray, *, n_boot: int = 10_000, ci: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """Pearson r of ``x`` and ``y`` with a percentile-bootstrap CI (pairs resampled together).

    Parameters
    ----------
    x, y : array-like, shape (n,)
    n_boot, ci, seed
        As in :func:`bootsep_lib.eval.stats.bootstrap_ci`.

    Returns
    -------
    (r, low, high) : tuple of float
        Resamples with a constant column (r undefined) are dropped.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.size < 3:
        raise ValueError("x and y must be paired samples of at least 3 values")
    idx = np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))
    xs, ys = x[idx], y[idx]
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    denom = np.sqrt((xs**2).sum(axis=1) * (ys**2).sum(axis=1))
    ok = denom > 0
    rs = (xs * ys).sum(axis=1)[ok] / denom[ok]
    low, high = np.quantile(rs, [(1 - ci) / 2, (1 + ci) / 2])
    return float(np.corrcoef(x, y)[0, 1]), float(low), float(high)
