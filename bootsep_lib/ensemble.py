"""The paper's whole system on one recording: spatial stage, network and the confidence switch.

Section 3.5 (Table 1, bottom) of the bootstrapping paper: on a stereo mixture the spatial
clustering (Eq. 1-3) separates, its mean confidence (Eq. 7 with ``alpha = 1``, averaged over
every bin) says how far to trust it, and the *confidence ensemble* keeps the spatial estimates
where that confidence lies above a threshold -- the bottom quartile of the validation set's
mean confidences (:func:`bootsep_lib.studies.confidence_threshold`, recorded in each shipped
model's card) -- and the single-channel network's estimates otherwise.  The rule is the one
:func:`bootsep_lib.studies.ensemble_systems` scores on the test split (``confidence >
threshold``).  A mono recording has no spatial stage: the network alone separates it.

:func:`separate_recording` runs that on an array; :func:`separate_recording_file` on a WAV
file, with the user-facing checks (channel numbers, sample rate, optional resampling) that
``bootsep separate`` reports on one line.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bootsep_lib import spatial
from bootsep_lib.config import SpatialConfig
from bootsep_lib.dsp import AudioError, read_audio, resample
from bootsep_lib.engine.config import RunConfig
from bootsep_lib.models import check_sample_rate
from bootsep_lib.separate import _write_all, separate
from bootsep_lib.spatial.confidence import confidence_terms
from bootsep_lib.util.folders import prepare_output_dir

__all__ = ["SystemOutput", "use_spatial", "parse_pair", "separate_recording",
           "separate_recording_file"]


@dataclass(frozen=True, eq=False)
class SystemOutput:
    """What the system made of one recording.

    Attributes
    ----------
    network : np.ndarray, float32, shape (n_sources, samples)
        The single-channel network's estimates (reference channel).
    spatial : np.ndarray or None, shape (n_sources, samples)
        The spatial stage's estimates on the reference channel (None for mono input).
    ensemble : np.ndarray or None, shape (n_sources, samples)
        ``spatial`` or ``network`` by the confidence switch (None for mono input or when no
        threshold is known).
    confidence : float or None
        Mean confidence of the spatial clustering (Eq. 7, ``alpha = 1``).
    threshold : float or None
        The switch's threshold.
    pair : (int, int) or None
        The 0-based channels of the spatial stage, reference first.
    """

    network: np.ndarray
    spatial: np.ndarray | None = None
    ensemble: np.ndarray | None = None
    confidence: float | None = None
    threshold: float | None = None
    pair: tuple[int, int] | None = None

    @property
    def chose_spatial(self) -> bool | None:
        """True when the ensemble took the spatial estimates (None: no decision made)."""
        if self.confidence is None or self.threshold is None:
            return None
        return use_spatial(self.confidence, self.threshold)


def use_spatial(confidence: float, threshold: float) -> bool:
    """The confidence ensemble's switch: the spatial output where ``confidence > threshold``."""
    return bool(confidence > threshold)


def parse_pair(text: str, n_channels: int) -> tuple[int, int]:
    """``"1,2"`` (1-based channel numbers) as 0-based ``(reference, other)``.

    Raises
    ------
    ValueError
        Not two distinct integers between 1 and ``n_channels``.
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 2 or numbers[0] == numbers[1]:
        raise ValueError(f"--pair {text!r}: give two different channel numbers, e.g. --pair 1,2")
    bad = [n for n in numbers if not 1 <= n <= n_channels]
    if bad:
        raise ValueError(f"--pair {text!r}: the recording has channels 1..{n_channels}, "
                         f"not {', '.join(map(str, bad))}")
    return numbers[0] - 1, numbers[1] - 1


def _spatial_stage(audio: np.ndarray, rate: int, cfg: SpatialConfig, pair: tuple[int, int],
                   seed: int) -> tuple[np.ndarray, float]:
    """Spatial estimates ``(n_sources, samples)`` on ``pair[0]`` and their mean confidence."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spatial.SpatialWarning)
        sep = spatial.separate_pair(audio.astype(np.float64), rate, cfg, pair, seed)
        terms = confidence_terms(sep.result, n_samples=cfg.jsd_samples, seed=seed)
    return sep.estimates.astype(np.float32), terms.mean(1.0)


def separate_recording(
    model: nn.Module,
    run: RunConfig,
    audio: np.ndarray,
    sample_rate: int,
    spatial_cfg: SpatialConfig,
    *,
    pair: tuple[int, int] | None = (0, 1),
    threshold: float | None = None,
    head: str = "dc",
    seed: int = 0,
    device: str | torch.device | None = None,
) -> SystemOutput:
    """Separate one recording with the paper's system (network alone for mono input).

    Parameters
    ----------
    model, run : torch.nn.Module, RunConfig
        A trained network and its configuration (:func:`bootsep_lib.models.load_model`).
    audio : np.ndarray, shape (channels, samples)
    sample_rate : int
        Must be the network's rate.
    spatial_cfg : SpatialConfig
        Settings of the spatial stage (the model card's profile); its ``n_sources`` is replaced
        by the network's.
    pair : (int, int) or None
        0-based channels of the spatial stage, reference first; the network separates the
        reference channel.  Ignored (network alone) for one channel.
    threshold : float, optional
        The confidence ensemble's threshold; None: no ensemble.
    head, seed, device
        As in :func:`bootsep_lib.separate.separate` (``seed`` also seeds EM and the JSD).

    Returns
    -------
    SystemOutput
    """
    audio = np.asarray(audio, dtype=np.float32)
    stereo = audio.shape[0] >= 2 and pair is not None
    reference = pair[0] if stereo else 0
    window, hop = spatial_cfg.window_ms, spatial_cfg.hop_ms
    network = separate(model, audio[reference], sample_rate, n_sources=run.n_sources, head=head,
                       window_ms=window, hop_ms=hop, seed=seed, device=device)
    if not stereo:
        return SystemOutput(network=network)
    cfg = dataclasses.replace(spatial_cfg, n_sources=run.n_sources)
    spatial_est, conf = _spatial_stage(audio, sample_rate, cfg, pair, seed)
    ensemble = None
    if threshold is not None:
        ensemble = spatial_est if use_spatial(conf, threshold) else network
    return SystemOutput(network, spatial_est, ensemble, conf, threshold, pair)


def _at_model_rate(path: Path, audio: np.ndarray, rate: int, model: nn.Module,
                   resample_input: bool) -> tuple[np.ndarray, int]:
    """The recording ``(channels, samples)`` at the network's rate (or a clear error)."""
    trained = (getattr(model, "signal", None) or {}).get("sample_rate")
    if trained is not None and rate != int(trained) and resample_input:
        audio, rate = resample(audio, rate, int(trained)).astype(np.float32), int(trained)
    try:
        check_sample_rate(model, rate, source=path)  # names both rates and the STFT
    except ValueError as exc:
        raise AudioError(f"{exc} (or pass --resample to resample it to {trained} Hz)") from exc
    return audio, rate


def separate_recording_file(
    in_path: str | os.PathLike,
    model: nn.Module,
    run: RunConfig,
    out_dir: str | os.PathLike,
    spatial_cfg: SpatialConfig,
    *,
    pair: str | None = None,
    threshold: float | None = None,
    resample_input: bool = False,
    head: str = "dc",
    seed: int = 0,
    device: str | torch.device | None = None,
    audio: tuple[np.ndarray, int] | None = None,
) -> tuple[SystemOutput, list[Path]]:
    """:func:`separate_recording` on a WAV file; writes every estimate, or none.

    Mono input writes ``<stem>_s1.wav``, ... (the network); stereo or multichannel input
    writes ``<stem>_spatial_s1.wav``, ``<stem>_network_s1.wav`` and, with a threshold,
    ``<stem>_ensemble_s1.wav``, ... (32-bit float at the network's rate).

    Parameters
    ----------
    in_path : path-like
    model, run, spatial_cfg, threshold, head, seed, device
        See :func:`separate_recording`.
    out_dir : path-like
        Created if missing; probed before any work.
    pair : str, optional
        1-based channels, e.g. ``"1,2"`` (default: channels 1 and 2).
    resample_input : bool
        Resample to the network's rate (soxr) instead of failing on another rate.
    audio : (np.ndarray, int), optional
        The file's samples ``(channels, samples)`` and rate, when already read
        (:func:`bootsep_lib.dsp.read_audio`).

    Returns
    -------
    output : SystemOutput
    written : list of Path

    Raises
    ------
    ValueError
        Unreadable, silent or non-finite audio, another rate without ``resample_input``, bad
        channel numbers (:class:`~bootsep_lib.dsp.AudioError` is a ``ValueError``).
    """
    in_path = Path(in_path)
    audio, rate = _at_model_rate(in_path, *(audio or read_audio(in_path)), model, resample_input)
    if audio.shape[0] == 1 and pair is not None:
        raise ValueError(f"{in_path}: --pair {pair} needs a stereo or multichannel recording; "
                         "this one has 1 channel")
    chosen = parse_pair(pair or "1,2", audio.shape[0]) if audio.shape[0] >= 2 else None
    silent = [c + 1 for c in (chosen or (0,)) if not np.any(audio[c])]
    if silent:
        raise AudioError(f"{in_path}: channel {' and '.join(map(str, silent))} is silent "
                         "(all samples zero): pick other channels with --pair")
    out_dir = prepare_output_dir(out_dir)
    output = separate_recording(model, run, audio, rate, spatial_cfg, pair=chosen,
                                threshold=threshold, head=head, seed=seed, device=device)
    stem = in_path.stem
    named = ([("", output.network)] if chosen is None else
             [("_spatial", output.spatial), ("_network", output.network),
              ("_ensemble", output.ensemble)])
    paths, estimates = [], []
    for tag, est in named:
        if est is None:
            continue
        for k, signal in enumerate(est):
            paths.append(out_dir / f"{stem}{tag}_s{k + 1}.wav")
            estimates.append(signal)
    _write_all(paths, np.stack(estimates), rate)
    return output, paths
