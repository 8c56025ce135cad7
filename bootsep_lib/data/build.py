"""Write spatialized corpora in exactly the spatialized wsj0-2mix layout (the layout writer).

The layout is :mod:`bootsep_lib.data.layout`'s (``min`` mode), plus a cache of the synthesized
mono utterances, ``<root>/utterances/<engine>_wav{8k|16k}/<speaker>-<hash>/<k>.wav``.

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
atomic, through :func:`bootsep_lib.util.atomic_write`), so a mixture counts as done only when
its sidecar exists (with the same plan hash) and all its WAVs exist.  A killed run leaves at
most stray temporary files (``.<name>.<pid>-<n>.tmp``), in the split or the utterance cache,
which the next run removes (:func:`bootsep_lib.util.sweep_temp_files`: those of dead processes
only); it then makes only the missing mixtures, rewrites ``metadata.csv`` and finally writes
``.complete`` (both fsynced).

A builder holds the split's lock (:func:`bootsep_lib.util.folder_lock`, ``<split>/.lock``,
removed on release) from its first look at the split to ``.complete``: a second ``make-data``
on the same root waits for it (saying which process it waits for) and then finds the split
complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bootsep_lib import paths
from bootsep_lib.config import DataConfig, Geometry, config_hash
from bootsep_lib.util import atomic_write_text, folder_lock, parallel_map, sweep_temp_files

from .layout import (
    COMPLETE,
    JSON_COLUMNS,
    METADATA,
    SIDECARS,
    SPLITS,
    split_dir,
    split_status,
    subset_dir,
)
from .mixture import MixtureTask, Utterance, check_storage, render_mixture
from .speech import CorpusError, Speaker, folder_utterances, split_speakers
from .text import random_sentence

__all__ = ["build_subset", "build_all", "spatialize_folder"]



def _key(text: str) -> int:
    """A stable 64-bit integer for a string (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def refuse_foreign(folder: Path) -> None:
    """Raise :class:`CorpusError` if ``folder`` holds a split that bootsep did not write.

    A split with a ``mix/`` folder but neither our ``.complete`` marker nor sidecars (e.g. the
    real spatialized wsj0-2mix) is read as it is and never written into.
    """
    if split_status(folder) == "foreign":
        n = sum(1 for _ in (folder / "mix").glob("*.wav"))
        raise CorpusError(
            f"{folder} holds a corpus bootsep did not make ({n} WAVs in mix/, no {COMPLETE} or "
            f"{SIDECARS}/): refusing to write into it; use it as it is or choose another --root")


def _complete_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / COMPLETE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _assemble(folder: Path, tasks: Sequence[MixtureTask]) -> None:
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
    atomic_write_text(folder / METADATA, table.to_csv(index=False), fsync=True)
    marker = {"n_mixtures": len(tasks), "plan_hash": tasks[0].plan_hash if tasks else ""}
    atomic_write_text(folder / COMPLETE, json.dumps(marker), fsync=True)


def _run_split(folder: Path, tasks: Sequence[MixtureTask], jobs: int, progress: bool) -> int:
    """Make the missing mixtures of one split and finish it, holding the split's lock.

    A second builder of the same split waits for the first, then finds it complete.  Returns
    how many mixtures were made.
    """
    with folder_lock(folder):
        return _run_locked_split(folder, tasks, jobs, progress)


def _run_locked_split(folder: Path, tasks: Sequence[MixtureTask], jobs: int,
                      progress: bool) -> int:
    marker = _complete_marker(folder)
    plan = tasks[0].plan_hash if tasks else ""
    if marker == {"n_mixtures": len(tasks), "plan_hash": plan} and (folder / METADATA).exists():
        return 0
    (folder / COMPLETE).unlink(missing_ok=True)
    sweep_temp_files(folder)
    chunk = max(1, min(16, len(tasks) // (4 * max(jobs, 1))))
    made = sum(parallel_map(render_mixture, tasks, jobs=jobs, desc="/".join(folder.parts[-4:]),
                            progress=progress, chunksize=chunk, unit="mix"))
    _assemble(folder, tasks)
    return made


def _seed_key(seed: int, n_speakers: int, split: str, index: int) -> tuple[int, ...]:
    return (int(seed), int(n_speakers), SPLITS.index(split), int(index))


def _plan_rng(seed_key: tuple[int, ...]) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed_key, spawn_key=(0,)))


def _corpus_utterance(data: DataConfig, speaker: Speaker, k: int, cache_root: Path,
                      sample_rate: int) -> Utterance:
    """Utterance ``k`` of a speaker: its text depends only on (seed, speaker, k)."""
    rng = np.random.default_rng([data.seed, _key(speaker.id), k])
    text = random_sentence(rng, n_words=data.words_per_utterance)
    tag = config_hash({"speaker": dataclasses.asdict(speaker), "seed": data.seed,
                       "words": data.words_per_utterance}, length=8)
    cache = (cache_root / f"{speaker.engine}_wav{sample_rate // 1000}k" / f"{speaker.id}-{tag}"
             / f"{k:03d}.wav")
    return Utterance(speaker.id, k, text=text, speaker=speaker, cache=str(cache))


def _n_mixtures(data: DataConfig, subset: tuple[int, str, int], split: str) -> int:
    """Mixtures of one split: ``data.secondary_sizes`` for every subset but the first."""
    sizes = (data.n_train, data.n_valid, data.n_test)
    if data.secondary_sizes is not None and subset != tuple(data.subsets[0]):
        sizes = data.secondary_sizes
    return dict(zip(SPLITS, sizes, strict=True))[split]


def _corpus_tasks(data: DataConfig, n_speakers: int, condition: str, sample_rate: int,
                  split: str, folder: Path, cache_root: Path) -> list[MixtureTask]:
    """The plan of one split of the synthetic corpus: who says what in each mixture."""
    check_storage(data.sample_format, data.channels, data.geometry.n_mics)
    n_mix = _n_mixtures(data, (n_speakers, condition, sample_rate), split)
    pool = split_speakers(data.speakers_train, data.speakers_valid, data.speakers_test,
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
        "storage": (data.sample_format, data.channels),
    })
    utterances: dict[tuple[int, int], Utterance] = {}
    tasks = []
    for i in range(n_mix):
        key = _seed_key(data.seed, n_speakers, split, i)
        rng = _plan_rng(key)
        who = rng.choice(len(pool), size=n_speakers, replace=False)
        which = rng.integers(0, data.utterances_per_speaker, size=n_speakers)
        for s, k in zip(who.tolist(), which.tolist(), strict=True):
            if (s, k) not in utterances:
                utterances[s, k] = _corpus_utterance(data, pool[s], k, cache_root, sample_rate)
        tasks.append(MixtureTask(
            str(folder), f"{split}_{i:06d}", i, key,
            tuple(utterances[s, k] for s, k in zip(who.tolist(), which.tolist(), strict=True)),
            condition, sample_rate, data.geometry, plan_hash, data.sample_format, data.channels))
    return tasks


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
    refuse_foreign(folder)
    sweep_temp_files(root / "utterances")  # what a killed run left in the utterance cache
    tasks = _corpus_tasks(data, n_speakers, condition, sample_rate, split, folder,
                          root / "utterances")
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


def _folder_pools(folder: str | os.PathLike, sample_rate: int, n_speakers: int,
                  seed: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """A folder's files by speaker, and its speakers shuffled and split (plus ``"names"``)."""
    by_speaker: dict[str, list[str]] = {}
    for speaker_id, path in folder_utterances(folder, sample_rate):
        by_speaker.setdefault(speaker_id, []).append(str(path))
    names = sorted(by_speaker)
    order = np.random.default_rng([seed, _key("spatialize_folder")]).permutation(len(names))
    names = [names[i] for i in order]
    n_hold = max(n_speakers, round(0.1 * len(names)))
    pools = {"cv": names[:n_hold], "tt": names[n_hold : 2 * n_hold], "tr": names[2 * n_hold :],
             "names": names}
    if len(pools["tr"]) < n_speakers:
        raise CorpusError(
            f"{folder}: {len(names)} speakers found, at least {3 * n_speakers} needed to give "
            f"tr, cv and tt {n_speakers} disjoint speakers each")
    return by_speaker, pools


def _folder_mixture(rng: np.random.Generator, pool: list[str], by_speaker: dict[str, list[str]],
                    n_speakers: int) -> tuple[Utterance, ...]:
    """``n_speakers`` distinct speakers of the pool and one random file of each."""
    utts = []
    for s in rng.choice(len(pool), size=n_speakers, replace=False).tolist():
        files = sorted(by_speaker[pool[s]])
        k = int(rng.integers(len(files)))
        utts.append(Utterance(pool[s], k, file=files[k]))
    return tuple(utts)


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
    sample_format: str = "pcm16",
    channels: tuple[int, ...] | None = None,
) -> Path:
    """Spatialize a folder of one's own mono utterances (LibriSpeech, VCTK...) the same way.

    Speakers (as :func:`bootsep_lib.data.speech.folder_utterances` names them) are shuffled with
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
    sample_format : {"pcm16", "float32"}
    channels : tuple of int, optional
        Mics written (default all); see :class:`~bootsep_lib.config.DataConfig`.

    Returns
    -------
    Path
        The subset folder (holding ``tr``, ``cv``, ``tt``).
    """
    geometry = geometry if geometry is not None else Geometry()
    check_storage(sample_format, channels, geometry.n_mics)
    by_speaker, pools = _folder_pools(folder, sample_rate, n_speakers, seed)
    plan_hash = config_hash({
        "kind": "folder", "folder": str(Path(folder).resolve()), "speakers": pools["names"],
        "files": sum(len(v) for v in by_speaker.values()), "seed": seed, "geometry": geometry,
        "n_speakers": n_speakers, "condition": condition, "sample_rate": sample_rate,
        "storage": (sample_format, channels),
    })
    for split, n_mix in _split_counts(n_mixtures).items():
        out = split_dir(out_root, n_speakers, condition, sample_rate, split)
        pool = pools[split]
        tasks = []
        for i in range(n_mix):
            key = _seed_key(seed, n_speakers, split, i)
            utts = _folder_mixture(_plan_rng(key), pool, by_speaker, n_speakers)
            tasks.append(MixtureTask(str(out), f"{split}_{i:06d}", i, key, utts, condition,
                                     sample_rate, geometry, plan_hash, sample_format, channels))
        _run_split(out, tasks, jobs, progress)
    return subset_dir(out_root, n_speakers, condition, sample_rate)
