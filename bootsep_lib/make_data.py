"""Write spatialized corpora in exactly the spatialized wsj0-2mix layout.

Layout (one *subset* per ``(n_speakers, condition, sample_rate)``)::

    <root>/{n}speakers_{anechoic|reverb}/wav{8k|16k}/min/{tr,cv,tt}/
        mix/<id>.wav  s1/<id>.wav  s2/<id>.wav  [s3/<id>.wav]   8-channel float32 WAV
        sidecars/<id>.json     one record per finished mixture (ours only)
        metadata.csv           assembled from the sidecars at the end of a split
        .complete              written last: the split is finished
    <root>/utterances/<engine>_wav{8k|16k}/<speaker>-<hash>/<k>.wav   synthesized mono cache

Determinism
-----------
Mixture ``i`` of split ``s`` draws everything from ``SeedSequence((data.seed, n_speakers,
s, i))``: which speakers and utterances (spawn key 0, drawn in the parent), the room, array,
speaker positions, T60 and levels (spawn key 1, drawn in the worker).  Neither the condition nor
the sample rate enters the seed, so -- as in spatialized wsj0-2mix -- the anechoic and
reverberant subsets, at 8 and 16 kHz, hold the same mixtures.  Results do not depend on
``jobs`` nor on the order in which mixtures are made, and the same seed gives the same bytes.

Resuming
--------
Each worker writes the sources, then the mixture, then the mixture's JSON sidecar (every write
atomic), so a mixture counts as done only when its sidecar exists (with the same plan hash) and
all its WAVs exist.  A killed run leaves at most stray ``.*.tmp`` files, which the next run
removes; it then makes only the missing mixtures, rewrites ``metadata.csv`` and finally writes
``.complete``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import corpus, paths
from .config import DataConfig, Geometry, config_hash
from .corpus import Speaker
from .datasets import COMPLETE, JSON_COLUMNS, METADATA, SIDECARS, SPLITS, subset_dir
from .dsp import AudioError, read_audio, write_audio
from .spatialize import draw_levels, mix_sources, sample_scene, simulate
from .util.threads import worker_pool

__all__ = [
    "split_dir",
    "build_subset",
    "build_all",
    "spatialize_folder",
]

def split_dir(root: str | os.PathLike, n_speakers: int, condition: str, sample_rate: int,
              split: str) -> Path:
    """The folder of one split, ``subset_dir(...) / split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return subset_dir(root, n_speakers, condition, sample_rate) / split


def _key(text: str) -> int:
    """A stable 64-bit integer for a string (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Utterance:
    """One dry source: synthesized (``speaker`` + ``text``, cached at ``cache``) or a file."""

    speaker_id: str
    index: int
    text: str = ""
    speaker: Speaker | None = None
    cache: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class _Task:
    """Everything a worker needs to make one mixture."""

    split_dir: str
    mixture_id: str
    index: int
    seed_key: tuple[int, ...]
    utterances: tuple[_Utterance, ...]
    condition: str
    sample_rate: int
    geometry: Geometry
    plan_hash: str


@functools.lru_cache(maxsize=512)
def _load_utterance(utt: _Utterance, sample_rate: int) -> np.ndarray:
    """Dry mono source ``(samples,)`` float32: read the cache / file or synthesize and cache."""
    if utt.file is not None:
        audio, _ = read_audio(utt.file, resample_to=sample_rate)
        return audio[0]
    cache = Path(utt.cache)
    if cache.exists():
        try:
            return read_audio(cache, sample_rate=sample_rate)[0][0]
        except AudioError:
            cache.unlink(missing_ok=True)
    wav = np.asarray(corpus.synthesize(utt.text, utt.speaker, sample_rate), dtype=np.float32)
    write_audio(cache, wav, sample_rate)
    return wav


def _wav_paths(folder: Path, mixture_id: str, n_speakers: int) -> list[Path]:
    """Sources first, mixture last: the order in which they are written."""
    return [folder / f"s{i + 1}" / f"{mixture_id}.wav" for i in range(n_speakers)] + [
        folder / "mix" / f"{mixture_id}.wav"]


def _finished(task: _Task) -> dict | None:
    """The sidecar record of a mixture already made with the same plan, else None."""
    folder = Path(task.split_dir)
    sidecar = folder / SIDECARS / f"{task.mixture_id}.json"
    if not sidecar.exists():
        return None
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("plan_hash") != task.plan_hash:
        return None
    if not all(p.exists() for p in _wav_paths(folder, task.mixture_id, len(task.utterances))):
        return None
    return record


def _render(task: _Task) -> bool:
    """Make one mixture unless it is already done.  Returns True if it was (re)made."""
    if _finished(task) is not None:
        return False
    folder = Path(task.split_dir)
    n = len(task.utterances)
    dry = [_load_utterance(u, task.sample_rate) for u in task.utterances]
    rng = np.random.default_rng(np.random.SeedSequence(task.seed_key, spawn_key=(1,)))
    scene = sample_scene(task.geometry, n, rng, reverberant=task.condition == "reverb")
    levels = draw_levels(n, rng, task.geometry.relative_level_db)
    images = simulate(scene, dry, task.sample_rate)
    mix, sources = mix_sources([img[:, : len(d)] for img, d in zip(images, dry, strict=True)],
                               levels, peak=task.geometry.peak)
    wavs = _wav_paths(folder, task.mixture_id, n)
    for path, audio in zip(wavs, [*sources, mix], strict=True):
        write_audio(path, audio, task.sample_rate)
    record = {
        "id": task.mixture_id,
        "index": task.index,
        "n_speakers": n,
        "condition": task.condition,
        "sample_rate": task.sample_rate,
        "speakers": [u.speaker_id for u in task.utterances],
        "utterances": [u.index for u in task.utterances],
        "texts": [u.text for u in task.utterances],
        "files": [u.file or "" for u in task.utterances],
        "levels_db": [float(v) for v in levels],
        **scene.to_dict(),
        "seed": task.seed_key[0],
        "seed_key": list(task.seed_key),
        "samples": int(mix.shape[1]),
        "duration_s": mix.shape[1] / task.sample_rate,
        "plan_hash": task.plan_hash,
    }
    _write_text_atomic(folder / SIDECARS / f"{task.mixture_id}.json", json.dumps(record))
    return True


def _clean_tmp(folder: Path) -> None:
    """Remove the temporary files a killed run may have left (``.*.tmp``)."""
    if folder.exists():
        for tmp in folder.glob("**/.*.tmp"):
            tmp.unlink(missing_ok=True)


def _complete_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / COMPLETE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _assemble(folder: Path, tasks: Sequence[_Task]) -> None:
    """Write ``metadata.csv`` from the sidecars, drop mixtures not in the plan, mark complete."""
    keep = {t.mixture_id for t in tasks}
    for sidecar in (folder / SIDECARS).glob("*.json"):
        if sidecar.stem not in keep:
            for p in folder.glob(f"*/{sidecar.stem}.wav"):
                p.unlink(missing_ok=True)
            sidecar.unlink()
    records = [json.loads((folder / SIDECARS / f"{t.mixture_id}.json").read_text())
               for t in tasks]
    table = pd.DataFrame(records)
    for col in JSON_COLUMNS:
        if col in table:
            table[col] = [json.dumps(v) for v in table[col]]
    _write_text_atomic(folder / METADATA, table.to_csv(index=False))
    marker = {"n_mixtures": len(tasks), "plan_hash": tasks[0].plan_hash if tasks else ""}
    _write_text_atomic(folder / COMPLETE, json.dumps(marker))


def _run_split(folder: Path, tasks: Sequence[_Task], jobs: int, progress: bool) -> int:
    """Make the missing mixtures of one split and finish it.  Returns how many were made."""
    marker = _complete_marker(folder)
    plan = tasks[0].plan_hash if tasks else ""
    if marker == {"n_mixtures": len(tasks), "plan_hash": plan} and (folder / METADATA).exists():
        return 0
    (folder / COMPLETE).unlink(missing_ok=True)
    _clean_tmp(folder)
    desc = "/".join(folder.parts[-4:])
    made = 0
    with tqdm(total=len(tasks), desc=desc, unit="mix", disable=not progress) as bar:
        if jobs <= 1:
            for task in tasks:
                made += _render(task)
                bar.update()
        else:
            chunk = max(1, min(16, len(tasks) // (4 * jobs)))
            with worker_pool(jobs) as pool:
                for done in pool.map(_render, tasks, chunksize=chunk):
                    made += done
                    bar.update()
    _assemble(folder, tasks)
    return made


def _seed_key(seed: int, n_speakers: int, split: str, index: int) -> tuple[int, ...]:
    return (int(seed), int(n_speakers), SPLITS.index(split), int(index))


def _plan_rng(seed_key: tuple[int, ...]) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed_key, spawn_key=(0,)))


def _corpus_utterance(data: DataConfig, speaker: Speaker, k: int, cache_root: Path,
                      sample_rate: int) -> _Utterance:
    """Utterance ``k`` of a speaker: its text depends only on (seed, speaker, k)."""
    rng = np.random.default_rng([data.seed, _key(speaker.id), k])
    text = corpus.random_sentence(rng, n_words=data.words_per_utterance)
    tag = config_hash({"speaker": dataclasses.asdict(speaker), "seed": data.seed,
                       "words": data.words_per_utterance}, length=8)
    cache = (cache_root / f"{speaker.engine}_wav{sample_rate // 1000}k" / f"{speaker.id}-{tag}"
             / f"{k:03d}.wav")
    return _Utterance(speaker.id, k, text=text, speaker=speaker, cache=str(cache))


def build_subset(
    data: DataConfig,
    n_speakers: int,
    condition: str,
    sample_rate: int,
    split: str,
    *,
    root: str | os.PathLike | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> Path:
    """Build (or finish) one split of one subset from the synthetic corpus.

    Parameters
    ----------
    data : DataConfig
        Sizes, speakers, sentence lengths, engine, geometry and seed.
    n_speakers : int
    condition : {"anechoic", "reverb"}
    sample_rate : int
    split : {"tr", "cv", "tt"}
    root : path-like, optional
        Output root (default: :func:`bootsep_lib.paths.data_root` of ``data.root``).
    jobs : int
        Worker processes.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Path
        The split folder.
    """
    root = Path(root) if root is not None else paths.data_root(data.root)
    folder = split_dir(root, n_speakers, condition, sample_rate, split)
    sizes = (data.n_train, data.n_valid, data.n_test)
    if data.secondary_sizes is not None and (n_speakers, condition, sample_rate) != tuple(
            data.subsets[0]):
        sizes = data.secondary_sizes
    n_mix = dict(zip(SPLITS, sizes, strict=True))[split]
    pool = corpus.split_speakers(data.speakers_train, data.speakers_valid, data.speakers_test,
                                 seed=data.seed, engine=data.engine)[split]
    if len(pool) < n_speakers:
        raise ValueError(f"split {split!r} has {len(pool)} speakers, {n_speakers} needed per "
                         "mixture: raise speakers_train / speakers_valid / speakers_test")
    plan_hash = config_hash({
        "kind": "corpus", "seed": data.seed, "geometry": data.geometry, "engine": data.engine,
        "speakers": (data.speakers_train, data.speakers_valid, data.speakers_test),
        "utterances_per_speaker": data.utterances_per_speaker,
        "words": data.words_per_utterance, "n_speakers": n_speakers, "condition": condition,
        "sample_rate": sample_rate,
    })
    cache_root = root / "utterances"
    utterances: dict[tuple[int, int], _Utterance] = {}
    tasks = []
    for i in range(n_mix):
        key = _seed_key(data.seed, n_speakers, split, i)
        rng = _plan_rng(key)
        who = rng.choice(len(pool), size=n_speakers, replace=False)
        which = rng.integers(0, data.utterances_per_speaker, size=n_speakers)
        for s, k in zip(who.tolist(), which.tolist(), strict=True):
            if (s, k) not in utterances:
                utterances[s, k] = _corpus_utterance(data, pool[s], k, cache_root, sample_rate)
        tasks.append(_Task(
            str(folder), f"{split}_{i:06d}", i, key,
            tuple(utterances[s, k] for s, k in zip(who.tolist(), which.tolist(), strict=True)),
            condition, sample_rate, data.geometry, plan_hash))
    _run_split(folder, tasks, jobs, progress)
    return folder


def build_all(data: DataConfig, root: str | os.PathLike | None = None, jobs: int = 1,
              progress: bool = True) -> list[Path]:
    """Build every subset in ``data.subsets`` and its three splits (finished ones are skipped).

    Returns
    -------
    list of Path
        The split folders, in the order built.
    """
    return [
        build_subset(data, n, condition, rate, split, root=root, jobs=jobs, progress=progress)
        for n, condition, rate in data.subsets
        for split in SPLITS
    ]


def _split_counts(n_mixtures: int | Sequence[int]) -> dict[str, int]:
    if isinstance(n_mixtures, int):
        n_cv = n_tt = max(1, round(0.1 * n_mixtures))
        counts = (max(1, n_mixtures - n_cv - n_tt), n_cv, n_tt)
    else:
        counts = tuple(int(c) for c in n_mixtures)
        if len(counts) != 3:
            raise ValueError(f"n_mixtures must be an int or (tr, cv, tt), got {n_mixtures!r}")
    return dict(zip(SPLITS, counts, strict=True))


def spatialize_folder(
    folder: str | os.PathLike,
    out_root: str | os.PathLike,
    sample_rate: int,
    n_mixtures: int | Sequence[int],
    n_speakers: int = 2,
    condition: str = "anechoic",
    geometry: Geometry | None = None,
    seed: int = 0,
    jobs: int = 1,
    progress: bool = True,
) -> Path:
    """Spatialize a folder of one's own mono utterances (LibriSpeech, VCTK...) the same way.

    Speakers (as :func:`bootsep_lib.corpus.folder_utterances` names them) are shuffled with
    ``seed`` and split disjointly: 10 % (at least ``n_speakers``) to ``cv``, as many to ``tt``,
    the rest to ``tr``.  Each mixture takes ``n_speakers`` distinct speakers of its split and one
    random file of each.

    Parameters
    ----------
    folder : path-like
        Folder of utterances.
    out_root : path-like
        Root of the layout written (same as :func:`build_subset`).
    sample_rate : int
        Files are resampled to it.
    n_mixtures : int or (int, int, int)
        Mixtures for (tr, cv, tt); an int is a total split 80 / 10 / 10.
    n_speakers : int
    condition : {"anechoic", "reverb"}
    geometry : Geometry, optional
        Defaults to the spatialized wsj0-2mix recipe.
    seed : int
    jobs : int
    progress : bool

    Returns
    -------
    Path
        The subset folder (holding ``tr``, ``cv``, ``tt``).
    """
    geometry = geometry if geometry is not None else Geometry()
    by_speaker: dict[str, list[str]] = {}
    for speaker_id, path in corpus.folder_utterances(folder, sample_rate):
        by_speaker.setdefault(speaker_id, []).append(str(path))
    names = sorted(by_speaker)
    order = np.random.default_rng([seed, _key("spatialize_folder")]).permutation(len(names))
    names = [names[i] for i in order]
    n_hold = max(n_speakers, round(0.1 * len(names)))
    pools = {"cv": names[:n_hold], "tt": names[n_hold : 2 * n_hold], "tr": names[2 * n_hold :]}
    if len(pools["tr"]) < n_speakers:
        raise corpus.CorpusError(
            f"{folder}: {len(names)} speakers found, at least {3 * n_speakers} needed to give "
            f"tr, cv and tt {n_speakers} disjoint speakers each")
    plan_hash = config_hash({
        "kind": "folder", "folder": str(Path(folder).resolve()), "speakers": names,
        "files": sum(len(v) for v in by_speaker.values()), "seed": seed, "geometry": geometry,
        "n_speakers": n_speakers, "condition": condition, "sample_rate": sample_rate,
    })
    for split, n_mix in _split_counts(n_mixtures).items():
        out = split_dir(out_root, n_speakers, condition, sample_rate, split)
        pool = pools[split]
        tasks = []
        for i in range(n_mix):
            key = _seed_key(seed, n_speakers, split, i)
            rng = _plan_rng(key)
            who = rng.choice(len(pool), size=n_speakers, replace=False)
            utts = []
            for s in who.tolist():
                files = sorted(by_speaker[pool[s]])
                k = int(rng.integers(len(files)))
                utts.append(_Utterance(pool[s], k, file=files[k]))
            tasks.append(_Task(str(out), f"{split}_{i:06d}", i, key, tuple(utts), condition,
                               sample_rate, geometry, plan_hash))
        _run_split(out, tasks, jobs, progress)
    return subset_dir(out_root, n_speakers, condition, sample_rate)
