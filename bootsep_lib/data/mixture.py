"""One mixture of the corpus: its task, its dry sources, and how a worker renders it.

A :class:`MixtureTask` holds everything a worker process needs; :func:`render_mixture` loads
(or synthesizes and caches) the dry sources, draws the scene and levels from the task's seed
(spawn key 1), simulates, mixes and writes the sources, then the mixture, then the JSON sidecar
-- each atomically -- so a mixture is done exactly when its sidecar and all its WAVs exist.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bootsep_lib.config import Geometry
from bootsep_lib.dsp import AudioError, read_audio, write_audio
from bootsep_lib.util import atomic_write_text

from .acoustics import draw_levels, mix_sources, quantize_pcm16, simulate
from .layout import SIDECARS
from .rooms import Scene, sample_scene
from .speech import Speaker, synthesize

__all__ = ["Utterance", "MixtureTask", "render_mixture", "check_storage", "SAMPLE_FORMATS"]

SAMPLE_FORMATS = ("pcm16", "float32")


@dataclass(frozen=True)
class Utterance:
    """One dry source: synthesized (``speaker`` + ``text``, cached at ``cache``) or a file."""

    speaker_id: str
    index: int
    text: str = ""
    speaker: Speaker | None = None
    cache: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class MixtureTask:
    """Everything a worker needs to make one mixture."""

    split_dir: str
    mixture_id: str
    index: int
    seed_key: tuple[int, ...]
    utterances: tuple[Utterance, ...]
    condition: str
    sample_rate: int
    geometry: Geometry
    plan_hash: str
    sample_format: str = "pcm16"
    channels: tuple[int, ...] | None = None


@functools.lru_cache(maxsize=512)
def _load_utterance(utt: Utterance, sample_rate: int) -> np.ndarray:
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
    wav = np.asarray(synthesize(utt.text, utt.speaker, sample_rate), dtype=np.float32)
    write_audio(cache, wav, sample_rate)
    return wav


def check_storage(sample_format: str, channels: tuple[int, ...] | None, n_mics: int) -> None:
    """Raise ValueError for an unknown ``sample_format`` or ``channels`` outside the array."""
    if sample_format not in SAMPLE_FORMATS:
        raise ValueError(f"sample_format={sample_format!r}: expected one of {SAMPLE_FORMATS}")
    if channels is None:
        return
    if not channels or len(set(channels)) != len(channels) or not all(
            0 <= c < n_mics for c in channels):
        raise ValueError(f"channels={channels!r}: expected distinct mic indices in "
                         f"0..{n_mics - 1} (or None for all {n_mics})")


def _stored(mix: np.ndarray, sources: np.ndarray, task: MixtureTask
            ) -> tuple[np.ndarray, np.ndarray]:
    """The arrays written: the task's channels, as int16 (mixture = integer sum) or float32."""
    if task.channels is not None:
        sources = sources[:, list(task.channels)]
        mix = sources[0].copy()
        for s in sources[1:]:  # float32, in source order, as mix_sources sums
            mix += s
    if task.sample_format == "pcm16":
        return quantize_pcm16(sources)
    return mix, sources


def _wav_paths(folder: Path, mixture_id: str, n_speakers: int) -> list[Path]:
    """Sources first, mixture last: the order in which they are written."""
    return [folder / f"s{i + 1}" / f"{mixture_id}.wav" for i in range(n_speakers)] + [
        folder / "mix" / f"{mixture_id}.wav"]


def _finished(task: MixtureTask) -> dict | None:
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


def _record(task: MixtureTask, scene: Scene, levels: np.ndarray, mix: np.ndarray) -> dict:
    """The JSON sidecar record of one mixture (the columns of ``metadata.csv``)."""
    n = len(task.utterances)
    return {
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
        **_storage_record(task, scene),
        "seed": task.seed_key[0],
        "seed_key": list(task.seed_key),
        "samples": int(mix.shape[1]),
        "duration_s": mix.shape[1] / task.sample_rate,
        "plan_hash": task.plan_hash,
    }


def _storage_record(task: MixtureTask, scene: Scene) -> dict:
    """How the WAVs store the samples; ``mic_positions`` column ``k`` is file channel ``k``."""
    mics = list(range(scene.mic_positions.shape[1])) if task.channels is None else list(
        task.channels)
    return {"sample_format": task.sample_format, "mics": mics,
            "mic_positions": scene.mic_positions[:, mics].tolist()}


def render_mixture(task: MixtureTask) -> bool:
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
    mix, sources = _stored(mix, sources, task)
    wavs = _wav_paths(folder, task.mixture_id, n)
    for path, audio in zip(wavs, [*sources, mix], strict=True):
        write_audio(path, audio, task.sample_rate)
    record = _record(task, scene, levels, mix)
    atomic_write_text(folder / SIDECARS / f"{task.mixture_id}.json", json.dumps(record))
    return True
