"""Tests of bootsep_lib.data speech and text: speakers, splits, words, eSpeak, engines, folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bootsep_lib import data
from bootsep_lib.data import CorpusError, Speaker

ROOT = Path(__file__).resolve().parents[1]
SR = 8000


def _identity(s: Speaker) -> tuple[str, int, int, int]:
    return (s.voice, s.pitch, s.pitch_range, s.rate)


def _f0(wav: np.ndarray, rate: int) -> float:
    """Median autocorrelation pitch (Hz) over clearly voiced 40 ms frames."""
    n = int(0.04 * rate)
    lo, hi = int(rate / 500), int(rate / 50)
    rms_all = np.sqrt(np.mean(wav**2))
    estimates = []
    for start in range(0, len(wav) - n, n // 2):
        frame = wav[start : start + n] - wav[start : start + n].mean()
        if np.sqrt(np.mean(frame**2)) < rms_all:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            estimates.append(rate / lag)
    assert len(estimates) > 5, "too few voiced frames"
    return float(np.median(estimates))


def test_make_speakers_many_distinct_and_deterministic() -> None:
    speakers = data.make_speakers(250, seed=3)
    assert len(speakers) == 250
    assert len({_identity(s) for s in speakers}) == 250
    assert len({s.id for s in speakers}) == 250
    assert speakers[17].id == "es017"
    assert data.make_speakers(250, seed=3) == speakers
    assert data.make_speakers(40, seed=3) == speakers[:40]  # prefix-stable
    assert data.make_speakers(40, seed=4) != speakers[:40]
    variants = [s.voice.split("+")[1] for s in speakers]
    assert all(v.startswith("m") for v in variants[0::2][:64])  # alternating male / female
    assert not any(v.startswith("m") for v in variants[1::2])
    accents = {s.voice.split("+")[0] for s in speakers}
    assert {"en-us", "en", "en-gb-scotland", "en-029"} <= accents
    # all 128 accent x variant voices are used before any repeats
    assert len({s.voice for s in speakers[:128]}) == 128


def test_split_speakers_disjoint_and_balanced() -> None:
    split = data.split_speakers(101, 18, 18, seed=1)
    assert {k: len(v) for k, v in split.items()} == {"tr": 101, "cv": 18, "tt": 18}
    ids = {k: {s.id for s in v} for k, v in split.items()}
    idents = {k: {_identity(s) for s in v} for k, v in split.items()}
    voices = {k: {s.voice for s in v} for k, v in split.items()}
    for a, b in (("tr", "cv"), ("tr", "tt"), ("cv", "tt")):
        assert not ids[a] & ids[b]
        assert not idents[a] & idents[b]
        assert not voices[a] & voices[b]  # unseen voices, not only unseen pitch draws
    for members in split.values():
        males = sum(s.voice.split("+")[1].startswith("m") for s in members)
        assert abs(2 * males - len(members)) <= 1


def test_word_list_and_sentences() -> None:
    words = data.word_list()
    assert len(words) > 30000
    assert {"the", "water", "house", "speech", "river"} <= set(words)
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    a = data.random_sentence(np.random.default_rng(5), (6, 12))
    b = data.random_sentence(np.random.default_rng(5), (6, 12))
    assert a == b
    assert a != data.random_sentence(np.random.default_rng(6), (6, 12))
    lengths = [
        len(data.random_sentence(np.random.default_rng(i), (3, 4)).split()) for i in range(30)
    ]
    assert set(lengths) == {3, 4}


def test_synthesize_plausible_audio() -> None:
    speaker = Speaker("t0", "en-us+m3", pitch=50, pitch_range=50, rate=175)
    text = "the water in the river was cold and clear this morning"
    wav = data.synthesize(text, speaker, SR)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert np.all(np.isfinite(wav)) and np.max(np.abs(wav)) <= 1.0
    assert np.sqrt(np.mean(wav**2)) > 0.01
    expected = len(text.split()) / speaker.rate * 60.0  # seconds at the nominal rate
    assert 0.5 * expected < len(wav) / SR < 2.0 * expected
    # trimmed: sound within the first and last ~50 ms
    loud = np.flatnonzero(np.abs(wav) > 1e-3 * np.max(np.abs(wav)))
    assert loud[0] <= 0.06 * SR and len(wav) - 1 - loud[-1] <= 0.06 * SR
    # the requested rate: twice the samples at 16 kHz
    wide = data.synthesize(text, speaker, 16000)
    assert abs(len(wide) - 2 * len(wav)) <= 4
    faster = data.synthesize(text, Speaker("t1", "en-us+m3", 50, 50, 260), SR)
    assert len(faster) < 0.8 * len(wav)


def test_speakers_differ_in_pitch() -> None:
    text = "we were away a year ago in the valley"
    low = data.synthesize(text, Speaker("lo", "en-us+m1", 20, 40, 160), SR)
    high = data.synthesize(text, Speaker("hi", "en-us+f2", 80, 40, 160), SR)
    f_low, f_high = _f0(low, SR), _f0(high, SR)
    assert 50 < f_low < 180
    assert 150 < f_high < 450
    assert f_high > 1.6 * f_low


def test_same_call_same_samples_in_process_and_threads() -> None:
    speakers = data.make_speakers(4, seed=9)
    text = "she sells sea shells by the sea shore"
    first = [data.synthesize(text, s, SR) for s in speakers]
    # interleaved with other calls and from threads: eSpeak's internal state must not leak
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(lambda s: data.synthesize(text, s, SR), reversed(speakers)))
    for a, b in zip(first, reversed(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0][:1000], first[1][:1000])


_DIGEST = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from bootsep_lib import data

    def digest():
        speakers = data.make_speakers(30, seed=11)
        h = hashlib.sha256(repr(speakers).encode())
        rng = np.random.default_rng(2)
        for s in speakers[:3]:
            h.update(data.synthesize(data.random_sentence(rng), s, 8000).tobytes())
        # every voice variant once: some (breathy ones) draw noise that differs per process
        for names in data.get_engine("espeak").voices().values():
            for voice in names:
                if voice.startswith("en-us+"):
                    s = data.Speaker("v", voice, 50, 50, 170)
                    h.update(data.synthesize("a short test", s, 8000).tobytes())
        return h.hexdigest()
    """
)
_SCRIPT = _DIGEST + "\nprint(digest())\n"


def test_deterministic_across_processes() -> None:
    procs = [  # two fresh interpreters, side by side
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    digests = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    digest = digests[0]
    assert len(digest) == 64 and digests[1] == digest
    # and the same as here, after this process already synthesized other things
    data.synthesize("an unrelated warm up", Speaker("w", "en-029+f1", 60, 60, 190), SR)
    namespace: dict = {}
    exec(_DIGEST, namespace)
    assert namespace["digest"]() == digest


def test_bad_input_raises() -> None:
    with pytest.raises(CorpusError, match="empty"):
        data.synthesize("   ", Speaker("x", "en-us+m1", 50, 50, 175), SR)
    with pytest.raises(CorpusError, match="variant"):
        data.synthesize("hello", Speaker("x", "en-us+nosuchvariant", 50, 50, 175), SR)
    with pytest.raises(CorpusError, match="not found"):
        data.synthesize("hello", Speaker("x", "xx-nosuchlang+m1", 50, 50, 175), SR)
    with pytest.raises(ValueError):
        Speaker("x", "en-us+m1", 120, 50, 175)
    with pytest.raises(CorpusError,
                       match="unknown speech engine 'festival'; known: espeak, flite, kokoro"):
        data.get_engine("festival")


def test_an_engine_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    from bootsep_lib.data import speech

    monkeypatch.setattr(speech, "_ENGINES", dict(speech._ENGINES))

    @data.register_engine("tone", id_prefix="to")
    class ToneEngine:
        name, native_rate = "tone", 8000

        def voices(self) -> dict[str, tuple[str, ...]]:
            return {"male": ("low",), "female": ("high",)}

        def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
            t = np.arange(len(text) * 400) / 8000
            return (0.5 * np.sin(2 * np.pi * (100 + speaker.pitch) * t)).astype(np.float32), 8000

    assert data.engine_names() == ("espeak", "flite", "kokoro", "tone")
    speakers = data.make_speakers(3, engine="tone")
    assert [s.id for s in speakers] == ["to000", "to001", "to002"]
    assert [s.voice for s in speakers] == ["low", "high", "low"]
    assert data.synthesize("some words", speakers[0], 16000).shape == (8000,)
    with pytest.raises(ValueError, match="already registered"):
        data.register_engine("tone", id_prefix="tt")(ToneEngine)


def test_unavailable_engines_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CorpusError, match="apt-get install flite"):
        data.get_engine("flite")
    with pytest.raises(CorpusError, match="apt-get install flite"):
        data.synthesize("hello there", Speaker("f", "slt", 50, 50, 175, engine="flite"), SR)


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite binary not installed")
def test_flite_engine_when_installed() -> None:
    low = data.synthesize(
        "we were away a year ago", Speaker("a", "awb", 20, 30, 175, "flite"), SR
    )
    high = data.synthesize(
        "we were away a year ago", Speaker("b", "slt", 80, 30, 175, "flite"), SR
    )
    assert np.sqrt(np.mean(low**2)) > 0.005 and np.sqrt(np.mean(high**2)) > 0.005
    assert _f0(high, SR) > 1.5 * _f0(low, SR)


def test_folder_utterances(tmp_path: Path) -> None:
    tone = (0.1 * np.sin(np.arange(1600) * 0.3)).astype(np.float32)
    (tmp_path / "p225").mkdir()
    (tmp_path / "19" / "198").mkdir(parents=True)
    sf.write(tmp_path / "p225" / "p225_001.wav", tone, 16000)
    sf.write(tmp_path / "19" / "198" / "19-198-0001.flac", tone, 16000)
    sf.write(tmp_path / "19" / "198" / "19-198-0000.flac", tone, 16000)
    sf.write(tmp_path / "loose.wav", tone, 16000)  # no speaker folder: ignored
    (tmp_path / "19" / "198" / "notes.txt").write_text("not audio")
    found = data.folder_utterances(tmp_path, 8000)
    assert [(spk, p.name) for spk, p in found] == [
        ("19", "19-198-0000.flac"),
        ("19", "19-198-0001.flac"),
        ("p225", "p225_001.wav"),
    ]
    with pytest.raises(CorpusError, match="below"):
        data.folder_utterances(tmp_path, 22050)
    sf.write(tmp_path / "p225" / "stereo.wav", np.stack([tone, tone], 1), 16000)
    with pytest.raises(CorpusError, match="channels"):
        data.folder_utterances(tmp_path, 8000)
    empty = tmp_path / "empty"
    (empty / "spk").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no .wav"):
        data.folder_utterances(empty, 8000)
