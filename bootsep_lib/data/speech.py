"""Speech sources for bootsep: synthetic speakers (WSJ0 is licensed) or a user's own folder.

Speech comes from *engines* kept in a registry: :func:`register_engine` adds one (a module with
a class or factory, decorated once), :func:`get_engine` returns it by name.  The built-in
engines are eSpeak NG (:mod:`bootsep_lib.data.espeak`, the default, bundled with the
``espeakng-loader`` wheel) and CMU flite (:mod:`bootsep_lib.data.flite`, needs the ``flite``
binary); both register themselves when :mod:`bootsep_lib.data` is imported.  Unavailable
engines raise :class:`CorpusError`; none pretends to work.

A *speaker* is an engine voice (for eSpeak an English accent such as ``en-us`` with a voice
variant such as ``+m3``) plus a pitch, a pitch range and a speaking rate.  :func:`make_speakers`
draws any number of distinct speakers, :func:`split_speakers` divides them into disjoint
training / validation / test identities (as in wsj0-2mix, where test speakers are unseen) and
:func:`synthesize` turns a sentence (:func:`bootsep_lib.data.text.random_sentence`) into a mono
waveform.  :func:`folder_utterances` lists a folder of real speech instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from bootsep_lib.dsp import resample

__all__ = [
    "CorpusError",
    "Speaker",
    "Engine",
    "register_engine",
    "get_engine",
    "engine_names",
    "make_speakers",
    "split_speakers",
    "synthesize",
    "folder_utterances",
]

_TRIM_PAD_S = 0.05
_TRIM_THRESHOLD_DB = -50.0


class CorpusError(RuntimeError):
    """A speech source that cannot be used: engine missing, bad voice, empty output or folder."""


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker identity.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"es017"`` (engine prefix and index in :func:`make_speakers`).
    voice : str
        Engine voice name; for eSpeak ``"<accent>+<variant>"``, e.g. ``"en-us+m3"``.
    pitch : int
        Pitch, 0-99 (eSpeak's scale, 50 = the voice's own base pitch).
    pitch_range : int
        Pitch range (intonation depth), 0-99, 50 = the voice's own.
    rate : int
        Speaking rate in words per minute (80-450).
    engine : str
        A registered engine name (:func:`engine_names`): ``"espeak"`` (default) or ``"flite"``.
    """

    id: str
    voice: str
    pitch: int
    pitch_range: int
    rate: int
    engine: str = "espeak"

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 99 or not 0 <= self.pitch_range <= 99:
            raise ValueError(f"pitch and pitch_range must lie in 0..99, got {self}")
        if not 80 <= self.rate <= 450:
            raise ValueError(f"rate must lie in 80..450 words per minute, got {self}")
        if self.engine not in _ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; known: {engine_names()}")


class Engine(Protocol):
    """What every speech engine provides."""

    name: str
    native_rate: int

    def voices(self) -> dict[str, tuple[str, ...]]:
        """Voice names by gender, ``{"male": (...), "female": (...)}``."""
        ...

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Untrimmed float32 ``(samples,)`` waveform in [-1, 1] and its sampling rate."""
        ...



_ENGINES: dict[str, tuple[Callable[[], Engine], str]] = {}


def register_engine(name: str, *, id_prefix: str) -> Callable:
    """Decorator registering a speech engine under ``name``.

    Decorate a class or a zero-argument factory returning an :class:`Engine`; it is called by
    :func:`get_engine` each time (make it cache itself if starting it is costly).

    Parameters
    ----------
    name : str
        The engine's name (``Speaker.engine``, ``DataConfig.engine``, ``--engine``).
    id_prefix : str
        Prefix of the speaker ids :func:`make_speakers` gives (``"es"`` -> ``"es017"``).
    """

    def register(factory: Callable[[], Engine]) -> Callable[[], Engine]:
        if name in _ENGINES:
            raise ValueError(f"speech engine {name!r} is already registered")
        _ENGINES[name] = (factory, id_prefix)
        return factory

    return register


def engine_names() -> tuple[str, ...]:
    """Names of the registered engines, in registration order."""
    return tuple(_ENGINES)


def get_engine(name: str = "espeak") -> Engine:
    """The engine called ``name``: ``"espeak"`` (default), ``"flite"`` or any registered one.

    The eSpeak engine is a lazy per-process singleton; flite is cheap and looked up anew on
    each call (so installing flite mid-session is noticed).

    Raises
    ------
    CorpusError
        Unknown name (the message lists the known ones), or the engine is not available (the
        message says how to install it).
    """
    if name not in _ENGINES:
        raise CorpusError(f"unknown speech engine {name!r}; known: {', '.join(_ENGINES)}")
    return _ENGINES[name][0]()


def make_speakers(n: int, seed: int = 0, engine: str = "espeak") -> list[Speaker]:
    """Draw ``n`` distinct speaker identities.

    Speakers alternate male / female.  Within a gender, voices (accent x variant for eSpeak)
    come in a seeded random order, swept forwards, then backwards, and so on, so all are used
    once before any is reused, and reuse starts from the most recent ones; each speaker then
    draws pitch (30-70), pitch range (30-80) and rate (140-200 wpm) until its
    ``(voice, pitch, pitch_range, rate)`` is new.  The list for ``n`` is a prefix of the list for
    any larger ``n`` with the same seed, and ids are ``<engine prefix><index>`` (``"es017"``).

    Parameters
    ----------
    n : int
        Number of speakers (any number; eSpeak has 128 voices, so beyond that voices repeat
        with different pitch and rate).
    seed : int
    engine : str

    Returns
    -------
    list[Speaker], length n
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    voices = get_engine(engine).voices()
    rng = np.random.default_rng([seed, 0x5EED])
    orders = {gender: list(rng.permutation(names)) for gender, names in voices.items() if names}
    genders = [g for g in ("male", "female") if g in orders]
    if not genders:
        raise CorpusError(f"engine {engine!r} has no voices")
    seen: set[tuple[str, int, int, int]] = set()
    speakers = []
    for i in range(n):
        names = orders[genders[i % len(genders)]]
        sweep, pos = divmod(i // len(genders), len(names))
        voice = str(names[pos if sweep % 2 == 0 else len(names) - 1 - pos])
        while True:
            key = (
                voice,
                int(rng.integers(30, 71)),
                int(rng.integers(30, 81)),
                int(rng.integers(140, 201)),
            )
            if key not in seen:
                break
        seen.add(key)
        speakers.append(Speaker(f"{_ENGINES[engine][1]}{i:03d}", *key, engine=engine))
    return speakers


def split_speakers(
    n_train: int, n_valid: int, n_test: int, seed: int = 0, engine: str = "espeak"
) -> dict[str, list[Speaker]]:
    """Disjoint training / validation / test speakers, as wsj0-2mix's unseen test speakers.

    The speakers are one :func:`make_speakers` list cut into consecutive blocks, test first,
    then validation, then training.  So ids and identities never repeat across splits, each
    split is gender-balanced (alternating, off by at most one), and, since voices are reused
    backwards (see :func:`make_speakers`), test and validation voices (accent + variant) do not
    occur in training at all while ``n_train <= 2 * (V - n_test - n_valid)`` for ``V`` voices
    (128 for eSpeak; the paper's 101 / 18 / 18 qualifies).  Beyond that only pitch, range and
    rate tell the identities apart.

    Returns
    -------
    dict with keys ``"tr"``, ``"cv"``, ``"tt"``, lists of lengths ``n_train``, ``n_valid``,
    ``n_test``.
    """
    if min(n_train, n_valid, n_test) < 0:
        raise ValueError("split sizes must be >= 0")
    speakers = make_speakers(n_train + n_valid + n_test, seed=seed, engine=engine)
    return {
        "tt": speakers[:n_test],
        "cv": speakers[n_test : n_test + n_valid],
        "tr": speakers[n_test + n_valid :],
    }


def _trim(wav: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading / trailing silence (below -50 dB re peak) down to at most 50 ms each side."""
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak == 0.0:
        return wav[:0]
    loud = np.flatnonzero(np.abs(wav) > peak * 10.0 ** (_TRIM_THRESHOLD_DB / 20.0))
    pad = int(round(_TRIM_PAD_S * rate))
    return wav[max(loud[0] - pad, 0) : loud[-1] + 1 + pad]


def synthesize(text: str, speaker: Speaker, sample_rate: int) -> np.ndarray:
    """Speak ``text`` with ``speaker`` at ``sample_rate``.

    The level is left as the engine produces it (eSpeak peaks near -1 dBFS); leading and trailing
    silence is trimmed to at most 50 ms; resampling from the native rate uses soxr.

    Parameters
    ----------
    text : str
    speaker : Speaker
        Its ``engine`` picks the engine.
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    np.ndarray, shape (samples,), float32 in [-1, 1]

    Raises
    ------
    CorpusError
        Empty text, an unavailable engine or voice, or silent output.
    """
    if not text.strip():
        raise CorpusError("cannot synthesize empty text")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    wav, rate = get_engine(speaker.engine).synthesize_native(text, speaker)
    wav = _trim(np.asarray(wav, dtype=np.float32), rate)
    if wav.size == 0:
        raise CorpusError(f"{speaker.engine} produced no audio for {speaker.id}: {text!r}")
    out = resample(wav, rate, sample_rate).astype(np.float32, copy=False)
    return np.ascontiguousarray(np.clip(out, -1.0, 1.0))


def folder_utterances(path: str | os.PathLike, sample_rate: int) -> list[tuple[str, Path]]:
    """List a folder of real utterances laid out as LibriSpeech or VCTK.

    The speaker of a file is the first directory level under ``path``
    (``path/<speaker>/**/*.wav|*.flac``); files directly in ``path`` are ignored.

    Parameters
    ----------
    path : path-like
    sample_rate : int
        The rate the utterances will be used at.  Every file must be mono and recorded at this
        rate or higher (lower rates would be upsampled, faking bandwidth).

    Returns
    -------
    list of (speaker, file) pairs, sorted by speaker then path.

    Raises
    ------
    CorpusError
        No such folder, no audio files, or a file that is multichannel or below ``sample_rate``.
    """
    root = Path(path)
    if not root.is_dir():
        raise CorpusError(f"{root} is not a folder")
    found = []
    for speaker_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in speaker_dir.rglob("*") if f.suffix.lower() in (".wav", ".flac"))
        for file in files:
            info = sf.info(str(file))
            if info.channels != 1:
                raise CorpusError(f"{file} has {info.channels} channels; mono utterances needed")
            if info.samplerate < sample_rate:
                raise CorpusError(
                    f"{file} is at {info.samplerate} Hz, below the requested {sample_rate} Hz"
                )
            found.append((speaker_dir.name, file))
    if not found:
        raise CorpusError(f"no .wav or .flac files under speaker folders of {root}")
    return found
