"""Checkpoints of trained networks: the format, reading, and rebuilding a model from one.

A checkpoint (``best.pt`` / ``last.pt`` of :func:`bootsep_lib.engine.train_model`) is a dict
with ``format`` (:data:`CHECKPOINT_FORMAT`), ``run_id``, ``run`` (the
:class:`~bootsep_lib.engine.RunConfig` as a dict), ``model`` (the state dict) and, since the
registries, ``signal``: the STFT and sample rate of the features the network was trained on
(``{"sample_rate": 8000, "window_ms": 32.0, "hop_ms": 8.0}``, when the training set said so).
Older checkpoints without ``signal`` still load; their rate is then unknown and unchecked.

Loading needs only torch and the model registry: no trainer, DDP, DataLoader or pandas.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bootsep_lib.engine.config import RunConfig

from .registry import build_model

__all__ = [
    "CHECKPOINT_FORMAT", "SIGNAL_KEYS", "check_finite_weights", "check_sample_rate", "load_model",
    "read_checkpoint", "resolve_device", "signal_info",
]

CHECKPOINT_FORMAT = "bootsep-checkpoint-v1"
SIGNAL_KEYS = ("sample_rate", "window_ms", "hop_ms")
"""What a checkpoint's ``signal`` records about the input features."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a :class:`torch.device`; ``None`` means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a bootsep checkpoint on the CPU; anything else raises ``ValueError``."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: no such checkpoint") from exc
    except Exception as exc:  # corrupt, truncated, not a torch file
        raise ValueError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a bootsep checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def signal_info(signal: Mapping[str, Any] | None) -> dict[str, float] | None:
    """``signal`` reduced to :data:`SIGNAL_KEYS` (numbers), or None when not given.

    Raises
    ------
    ValueError
        A key of :data:`SIGNAL_KEYS` is missing.
    """
    if signal is None:
        return None
    missing = [k for k in SIGNAL_KEYS if k not in signal]
    if missing:
        raise ValueError(f"signal info lacks {missing}; give {SIGNAL_KEYS}")
    return {"sample_rate": int(signal["sample_rate"]), "window_ms": float(signal["window_ms"]),
            "hop_ms": float(signal["hop_ms"])}


def check_sample_rate(model: nn.Module, sample_rate: int, source: object = None) -> None:
    """Raise ``ValueError`` when ``model`` was trained at another rate (unknown: no check).

    The recorded rate must match exactly (8015 Hz is not 8000 Hz, even where both give the
    same STFT size); ``source`` (e.g. the input file) prefixes the message.
    """
    signal = getattr(model, "signal", None)
    if signal is not None and int(signal["sample_rate"]) != int(sample_rate):
        where = "" if source is None else f"{source}: "
        n_freqs = getattr(model, "n_freqs", None)
        bins = "" if n_freqs is None else f", {n_freqs} frequencies"
        raise ValueError(
            f"{where}the network was trained on {signal['sample_rate']} Hz audio "
            f"({signal['window_ms']:g} ms / {signal['hop_ms']:g} ms STFT{bins}), got "
            f"{sample_rate} Hz: resample the input"
        )


def check_finite_weights(path: Path, state: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming ``path`` and the tensors of ``state`` holding NaN / Inf."""
    bad = [name for name, value in state.items()
           if torch.is_tensor(value) and value.is_floating_point()
           and not bool(torch.isfinite(value).all())]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(
            f"{path}: NaN or infinite weights in {shown}: the checkpoint is damaged or "
            "training diverged; retrain or use another checkpoint"
        )


def _check_expected(path: Path, run: RunConfig, expected: RunConfig | None) -> None:
    if expected is not None and run != expected:
        mine, theirs = run.to_dict(), expected.to_dict()
        diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
        raise ValueError(
            f"{path} was trained with another configuration (run {run.run_id}, expected "
            f"{expected.run_id}); differing fields (checkpoint, expected): {diff}"
        )


def load_model(
    checkpoint: str | os.PathLike,
    device: str | torch.device | None = None,
    *,
    expected: RunConfig | None = None,
) -> tuple[nn.Module, RunConfig]:
    """Rebuild a trained network from a checkpoint or a run folder, in eval mode.

    Parameters
    ----------
    checkpoint : path-like
        ``best.pt`` / ``last.pt``, or a run folder (``best.pt`` is used, else ``last.pt``).
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    expected : RunConfig, optional
        When given, the checkpoint must have been trained with exactly this configuration.

    Returns
    -------
    model : torch.nn.Module
        The network (``DeepClusteringNet`` or ``ChimeraNet``) on ``device``, in eval mode; its
        attribute ``signal`` is the checkpoint's ``signal`` dict (see the module docstring), or
        None for checkpoints that do not record it.
    run : RunConfig
        The configuration it was trained with.

    Raises
    ------
    ValueError
        Missing, unreadable or foreign checkpoint, one with NaN / infinite weights, or one
        that does not match ``expected``.
    """
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    ckpt = read_checkpoint(path)
    run = RunConfig.from_dict(ckpt["run"])
    _check_expected(path, run, expected)
    model = build_model(run.model_kind, run.n_freqs, run.model, run.n_sources)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit the configured network ({exc})") from exc
    check_finite_weights(path, ckpt["model"])
    model.signal = signal_info(ckpt.get("signal"))
    return model.to(resolve_device(device)).eval(), run
