"""Audio I/O and the short-time Fourier transform used everywhere in bootsep.

Conventions
-----------
* Waveforms are ``(..., samples)`` (multichannel: ``(channels, samples)``), float32 or float64.
* STFTs are complex ``(..., frames, freqs)`` -- frames before frequencies, as in the rest of
  the library.
* The transform is the same on numpy arrays and torch tensors (both go through
  :func:`torch.stft`), so features computed offline with numpy match those computed on the
  GPU during training bit for bit in float64 and to rounding in float32.

Both papers use a 32 ms window and an 8 ms hop (256 / 64 samples at 8 kHz).  The window is a
periodic Hann window; with a hop of a quarter window the overlap-add condition holds and
:func:`istft` inverts :func:`stft` exactly (tested).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
import torch

from .util.atomic import atomic_write

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)

__all__ = [
    "AudioError",
    "stft",
    "istft",
    "stft_params",
    "read_audio",
    "write_audio",
    "resample",
    "magnitude_db",
]


class AudioError(ValueError):
    """A file or signal that cannot be used as asked (wrong channels, rate, NaN, silence...)."""


def stft_params(sample_rate: int, window_ms: float = 32.0, hop_ms: float = 8.0) -> tuple[int, int]:
    """Window and hop lengths in samples for a sample rate.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    window_ms, hop_ms : float
        Window and hop in milliseconds.

    Returns
    -------
    n_fft, hop : int
        ``n_fft`` is the window length (no zero padding), ``hop`` the frame shift.
    """
    n_fft = int(round(sample_rate * window_ms / 1000.0))
    hop = int(round(sample_rate * hop_ms / 1000.0))
    if n_fft < 2 or hop < 1 or hop > n_fft:
        raise ValueError(f"bad STFT parameters: window {n_fft} samples, hop {hop} samples")
    return n_fft, hop


_WINDOWS: dict[tuple[int, torch.dtype, str], torch.Tensor] = {}


def _window(n_fft: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (n_fft, dtype, str(device))
    if key not in _WINDOWS:
        _WINDOWS[key] = torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)
    return _WINDOWS[key]


def _real_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype in (torch.float64, torch.complex128) else torch.float32


def stft(
    signal: ArrayLike, sample_rate: int, window_ms: float = 32.0, hop_ms: float = 8.0
) -> ArrayLike:
    """Short-time Fourier transform, frames before frequencies.

    Parameters
    ----------
    signal : np.ndarray or torch.Tensor, shape (..., samples)
        Real waveform(s).  Any leading dimensions (channels, batch) are kept.
    sample_rate : int
        Sampling rate in Hz.
    window_ms, hop_ms : float
        Periodic Hann window length and hop in milliseconds (papers: 32 / 8).

    Returns
    -------
    np.ndarray or torch.Tensor, complex, shape (..., frames, freqs)
        Same array type as the input; ``freqs = n_fft // 2 + 1`` and
        ``frames = samples // hop + 1`` (centred frames, zero padded at the edges).
    """
    n_fft, hop = stft_params(sample_rate, window_ms, hop_ms)
    if isinstance(signal, np.ndarray):
        return _stft_numpy(signal, n_fft, hop)
    x = signal
    if x.is_complex():
        raise TypeError("stft expects a real waveform")
    if not x.is_floating_point():
        x = x.to(torch.float32)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop,
        window=_window(n_fft, _real_dtype(flat), flat.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.transpose(-1, -2).reshape(*lead, spec.shape[-1], spec.shape[-2])


def istft(
    spec: ArrayLike,
    sample_rate: int,
    length: int | None = None,
    window_ms: float = 32.0,
    hop_ms: float = 8.0,
) -> ArrayLike:
    """Inverse of :func:`stft` (weighted overlap-add).

    Parameters
    ----------
    spec : np.ndarray or torch.Tensor, complex, shape (..., frames, freqs)
        Spectrogram as returned by :func:`stft`, possibly masked.
    sample_rate : int
        Sampling rate in Hz.
    length : int, optional
        Number of output samples (pass the original length for exact reconstruction).
    window_ms, hop_ms : float
        Must match the forward transform.

    Returns
    -------
    np.ndarray or torch.Tensor, real, shape (..., samples)
    """
    n_fft, hop = stft_params(sample_rate, window_ms, hop_ms)
    if isinstance(spec, np.ndarray):
        return _istft_numpy(spec, n_fft, hop, length)
    z = spec
    lead = z.shape[:-2]
    flat = z.reshape(-1, z.shape[-2], z.shape[-1]).transpose(-1, -2)
    real = torch.float64 if flat.dtype == torch.complex128 else torch.float32
    wav = torch.istft(
        flat,
        n_fft=n_fft,
        hop_length=hop,
        window=_window(n_fft, real, flat.device),
        center=True,
        length=length,
    )
    return wav.reshape(*lead, wav.shape[-1])


# The numpy path below is the same transform as torch.stft / torch.istft (tested to 1e-9).  It
# exists because torch's CPU istft is slow on small float64 inputs: measured 86 ms vs 4 ms for
# a (2, 561, 129) spectrogram, which made the spatial stage 4x slower end to end.


def _hann(n_fft: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)


def _stft_numpy(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    x = np.asarray(signal)
    if np.iscomplexobj(x):
        raise TypeError("stft expects a real waveform")
    real = np.float64 if x.dtype == np.float64 else np.float32
    x = x.astype(real, copy=False)
    pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad), n_fft, axis=-1)[..., ::hop, :]
    spec = np.fft.rfft(frames * _hann(n_fft).astype(real), axis=-1)
    return spec.astype(np.complex128 if real == np.float64 else np.complex64, copy=False)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum ``(..., T, n_fft)`` frames placed ``hop`` apart -> ``(..., n_fft + hop (T - 1))``."""
    n_frames, n_fft = frames.shape[-2:]
    out = np.zeros((*frames.shape[:-2], n_fft + hop * (n_frames - 1)), dtype=frames.dtype)
    if n_fft % hop == 0:
        r = n_fft // hop
        segments = frames.reshape(*frames.shape[:-1], r, hop)
        view = out.reshape(*out.shape[:-1], n_frames + r - 1, hop)
        for k in range(r):
            view[..., k:k + n_frames, :] += segments[..., k, :]
    else:
        for t in range(n_frames):
            out[..., t * hop:t * hop + n_fft] += frames[..., t, :]
    return out


def _istft_numpy(spec: np.ndarray, n_fft: int, hop: int, length: int | None) -> np.ndarray:
    z = np.asarray(spec)
    real = np.float64 if z.dtype == np.complex128 else np.float32
    window = _hann(n_fft)
    frames = np.fft.irfft(z, n=n_fft, axis=-1) * window
    n_frames = z.shape[-2]
    norm = _overlap_add(np.broadcast_to(window**2, (n_frames, n_fft)), hop)
    y = _overlap_add(frames, hop)
    y /= np.where(norm > 1e-11, norm, 1.0)
    start = n_fft // 2
    stop = start + (length if length is not None else hop * (n_frames - 1))
    y = y[..., start:stop]
    if y.shape[-1] < stop - start:  # asked for more samples than the frames cover
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, stop - start - y.shape[-1])])
    return y.astype(real, copy=False)


def magnitude_db(spec: ArrayLike, eps: float = 1e-10) -> ArrayLike:
    """``20 log10 |X|`` (Eq. 2 of the bootstrapping paper), elementwise, floored at ``eps``.

    Parameters
    ----------
    spec : complex array, shape (..., frames, freqs)

    Returns
    -------
    real array, same shape
    """
    if isinstance(spec, torch.Tensor):
        return 20.0 * torch.log10(spec.abs().clamp_min(eps))
    return 20.0 * np.log10(np.maximum(np.abs(spec), eps))


def resample(signal: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample ``(..., samples)`` with soxr (very high quality).

    Parameters
    ----------
    signal : np.ndarray, shape (samples,) or (channels, samples)
    orig_rate, target_rate : int

    Returns
    -------
    np.ndarray, shape (..., new_samples), float64 if the input was float64 else float32
    """
    if orig_rate == target_rate:
        return signal
    import soxr

    x = np.asarray(signal)
    out = soxr.resample(x.T, orig_rate, target_rate, quality="VHQ")
    return np.ascontiguousarray(out.T)


def _wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header declares (its ``data`` chunk size), or None when unknown.

    Streaming writers leave the size 0 or ``0xFFFFFFFF``: unknown, like non-WAV files.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while len(chunk := fh.read(8)) == 8:
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"data":
                known = 0 < size < 0xFFFFFFFF and block_align > 0
                return size // block_align if known else None
            body = fh.read(size + (size & 1))
            if name == b"fmt " and len(body) >= 14:
                block_align = int.from_bytes(body[12:14], "little")
    return None


def _check_complete(path: Path, frames_read: int) -> None:
    """Raise :class:`AudioError` when a WAV holds fewer frames than its header declares.

    libsndfile reads a truncated file without complaint, up to the data present.
    """
    declared = _wav_declared_frames(path)
    if declared is not None and frames_read < declared:
        raise AudioError(
            f"{path}: truncated file: the header declares {declared} frames but only "
            f"{frames_read} are present (an interrupted copy or download? fetch it again)"
        )


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    resample_to: int | None = None,
    allow_silence: bool = False,
) -> tuple[np.ndarray, int]:
    """Read a WAV (or any soundfile format) as ``(channels, samples)`` float32.

    Parameters
    ----------
    path : path-like
    sample_rate : int, optional
        Expected rate; a different rate raises :class:`AudioError` (unless ``resample_to``).
    channels : int, optional
        Minimum number of channels needed (e.g. 2 for spatial clustering).
    resample_to : int, optional
        Resample to this rate with soxr instead of failing on a rate mismatch.
    allow_silence : bool
        If False (default), an all-zero file raises :class:`AudioError`.

    A WAV holding fewer frames than its header declares (cut short) raises
    :class:`AudioError` naming both counts.

    Returns
    -------
    audio : np.ndarray, float32, shape (channels, samples)
    sample_rate : int
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:  # corrupt / not audio
        raise AudioError(f"{path}: cannot be read as audio ({exc})") from exc
    _check_complete(path, data.shape[0])
    audio = np.ascontiguousarray(data.T)
    if resample_to is not None and rate != resample_to:
        audio = resample(audio, rate, resample_to).astype(np.float32)
        rate = resample_to
    if sample_rate is not None and rate != sample_rate:
        raise AudioError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz")
    if channels is not None and audio.shape[0] < channels:
        raise AudioError(
            f"{path}: {audio.shape[0]} channel(s), at least {channels} needed"
            + (" (spatial clustering needs a stereo or multichannel file)" if channels >= 2 else "")
        )
    if audio.shape[1] == 0:
        raise AudioError(f"{path}: empty file")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if not allow_silence and not np.any(audio):
        raise AudioError(f"{path}: the file is silent (all samples are zero)")
    return audio, int(rate)


def _zero_peak_timestamp(path: Path) -> None:
    """Zero the wall-clock timestamp libsndfile puts in a float WAV's ``PEAK`` chunk.

    Without this, two writes of the same samples differ in four header bytes, and the corpus
    would not be byte-for-byte reproducible.  Chunk layout: ``b"PEAK"``, size (4 bytes),
    version (4), timestamp (4), then per-channel peaks.
    """
    with open(path, "r+b") as fh:
        head = fh.read(512)
        at = head.find(b"PEAK")
        if at >= 0:
            fh.seek(at + 12)
            fh.write(b"\0\0\0\0")


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``(channels, samples)`` or ``(samples,)`` audio atomically as WAV.

    int16 audio is written as 16-bit PCM, sample for sample (read back as ``q / 32768``);
    anything else as 32-bit float, with the ``PEAK`` chunk's timestamp zeroed.  Either way two
    writes of the same samples give the same bytes (a PCM WAV has no ``PEAK`` chunk).  Written
    through :func:`~bootsep_lib.util.atomic_write`: a killed process never leaves a
    half-written file under the final name.
    """
    path = Path(path)
    pcm16 = np.asarray(audio).dtype == np.int16
    x = np.asarray(audio) if pcm16 else np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.T
    if not pcm16 and not np.all(np.isfinite(x)):
        raise AudioError(f"refusing to write NaN/inf audio to {path}")

    def write(tmp: Path) -> None:
        sf.write(tmp, x, sample_rate, subtype="PCM_16" if pcm16 else "FLOAT", format="WAV")
        if not pcm16:
            _zero_peak_timestamp(tmp)

    atomic_write(path, write)
