"""eSpeak NG, driven in-process through the library and data the ``espeakng-loader`` wheel bundles.

No system package and no network is needed.  A voice is an English accent (``en-us``,
``en-gb-scotland`` ...) plus a voice variant (``+m3``, ``+f1`` ...), each variant with its own
formants and base pitch.

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
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import numpy as np

from .speech import CorpusError, Speaker, register_engine

__all__ = ["EspeakEngine", "espeak_engine"]

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

    Use :func:`~bootsep_lib.data.get_engine` (``get_engine("espeak")``) rather than constructing
    it: one helper process per Python process is enough.
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


_ENGINE: EspeakEngine | None = None
_ENGINE_LOCK = threading.Lock()


@register_engine("espeak", id_prefix="es")
def espeak_engine() -> EspeakEngine:
    """The eSpeak engine of this process: a lazy singleton (one helper process is enough)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = EspeakEngine()
    return _ENGINE
