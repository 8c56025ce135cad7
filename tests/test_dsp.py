"""STFT / iSTFT and audio I/O."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bootsep_lib import dsp


def test_stft_shape_and_params():
    x = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
    spec = dsp.stft(x, 8000)
    assert dsp.stft_params(8000) == (256, 64)
    assert dsp.stft_params(16000) == (512, 128)
    assert spec.shape == (2, 8000 // 64 + 1, 129)
    assert np.iscomplexobj(spec)


def test_stft_matches_direct_dft_of_one_frame():
    """An independent framing + windowing + FFT of one interior frame equals the STFT row."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    spec = dsp.stft(x, 8000)
    n_fft, hop = 256, 64
    t = 20  # frame t is centred on sample t * hop
    start = t * hop - n_fft // 2
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    expected = np.fft.rfft(x[start:start + n_fft] * window)
    np.testing.assert_allclose(spec[t], expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(300, 5000), rate=st.sampled_from([8000, 16000]), seed=st.integers(0, 99))
def test_perfect_reconstruction(n, rate, seed):
    x = np.random.default_rng(seed).standard_normal((2, n))
    y = dsp.istft(dsp.stft(x, rate), rate, length=n)
    np.testing.assert_allclose(y, x, atol=1e-9)


def test_numpy_and_torch_paths_agree():
    x = np.random.default_rng(2).standard_normal(3000).astype(np.float32)
    a = dsp.stft(x, 8000)
    b = dsp.stft(torch.from_numpy(x), 8000).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)  # float32 rounding of sums


def test_magnitude_db():
    spec = np.array([[1.0, 10.0, 0.0]], dtype=np.complex64)
    np.testing.assert_allclose(dsp.magnitude_db(spec), [[0.0, 20.0, -200.0]], atol=1e-4)


def test_write_read_roundtrip_and_atomic(tmp_path):
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (8, 1000)).astype(np.float32)
    path = tmp_path / "a" / "x.wav"
    dsp.write_audio(path, x, 8000)
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]  # no temp file left behind
    y, rate = dsp.read_audio(path, sample_rate=8000, channels=8)
    assert rate == 8000
    np.testing.assert_array_equal(x, y)


def test_read_errors(tmp_path):
    mono = tmp_path / "mono.wav"
    sf.write(mono, np.full(800, 0.1, dtype=np.float32), 8000)
    with pytest.raises(dsp.AudioError, match="stereo"):
        dsp.read_audio(mono, channels=2)
    with pytest.raises(dsp.AudioError, match="16000"):
        dsp.read_audio(mono, sample_rate=16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(800, dtype=np.float32), 8000)
    with pytest.raises(dsp.AudioError, match="silent"):
        dsp.read_audio(silent)
    nan = tmp_path / "nan.wav"
    data = np.full(800, 0.1, dtype=np.float32)
    data[5] = np.nan
    sf.write(nan, data, 8000, subtype="FLOAT")
    with pytest.raises(dsp.AudioError, match="NaN"):
        dsp.read_audio(nan)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(dsp.AudioError, match="cannot be read"):
        dsp.read_audio(corrupt)
    with pytest.raises(dsp.AudioError, match="no such file"):
        dsp.read_audio(tmp_path / "missing.wav")
    with pytest.raises(dsp.AudioError, match="NaN"):
        dsp.write_audio(tmp_path / "bad.wav", data, 8000)


def test_resample_on_read(tmp_path):
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone.wav"
    sf.write(path, tone, 16000)
    y, rate = dsp.read_audio(path, resample_to=8000, sample_rate=8000)
    assert rate == 8000 and y.shape == (1, 8000)
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1-Hz bins over one second


def test_write_is_byte_for_byte_reproducible(tmp_path):
    """libsndfile stamps float WAVs with the wall clock; write_audio removes the stamp."""
    import time

    x = np.random.default_rng(4).uniform(-0.5, 0.5, (2, 500)).astype(np.float32)
    dsp.write_audio(tmp_path / "a.wav", x, 8000)
    time.sleep(1.1)  # the PEAK timestamp has one-second resolution
    dsp.write_audio(tmp_path / "b.wav", x, 8000)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_istft_matches_torch_istft(dtype):
    rng = np.random.default_rng(5)
    spec = dsp.stft(rng.standard_normal((2, 3001)).astype(dtype), 8000)
    spec = (spec * rng.uniform(0, 1, spec.shape)).astype(spec.dtype)  # masked: not consistent
    ours = dsp.istft(spec, 8000, length=3001)
    theirs = dsp.istft(torch.from_numpy(spec), 8000, length=3001).numpy()
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, theirs, atol=1e-5 if dtype == np.float32 else 1e-10)


def test_write_audio_int16_is_pcm16_exact_and_reproducible(tmp_path):
    from bootsep_lib.data.acoustics import quantize_pcm16

    x = np.random.default_rng(5).uniform(-0.4, 0.4, (2, 3, 700))
    mix, sources = quantize_pcm16(x)
    assert mix.dtype == np.int16 and np.array_equal(mix, sources.astype(np.int32).sum(0))
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    dsp.write_audio(a, mix, 8000)
    dsp.write_audio(b, mix, 8000)
    assert sf.info(str(a)).subtype == "PCM_16"
    assert a.read_bytes() == b.read_bytes()
    back, _ = dsp.read_audio(a)
    assert np.array_equal(back, mix.astype(np.float32) / 32768)
    assert np.max(np.abs(back - x.sum(0))) <= 2 * 0.5 / 32768 + 1e-9


def test_a_16_bit_mixture_that_would_overflow_is_a_clear_error():
    from bootsep_lib.data.acoustics import quantize_pcm16

    with pytest.raises(ValueError, match="overflows"):
        quantize_pcm16(np.full((2, 1, 10), 0.6))

