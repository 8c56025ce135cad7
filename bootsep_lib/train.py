"""One trainer for deep clustering, manifold-aware deep clustering and Chimera networks.

Section 3.2 of the bootstrapping paper: Adam at ``1e-3``, learning rate halved when the
validation loss has not gone down for 5 consecutive epochs, random crops of at most 400
frames, batch 40, 100 epochs (the M-DC paper uses RMSprop at ``1e-4``; both are a
:class:`~bootsep_lib.config.TrainConfig` away).

What the trainer guarantees
---------------------------
* **Caching by configuration.**  A run is identified by a :class:`RunConfig` (model, training
  settings, loss and a free-form ``data_tag`` naming the data); it lives in
  ``<cache_dir>/models/<run_id>/`` with ``run_id = config_hash(run)``.  A run whose ``done``
  marker exists is never retrained.
* **Exact resume.**  ``last.pt`` holds the model, optimizer, scheduler, grad scaler, epoch,
  step within the epoch, RNG states, best score and history; it is written at every epoch
  end, every ``checkpoint_every_steps`` steps and when ``stop_after_steps`` is reached.  The
  order of the training examples is a pure function of ``(seed, epoch)`` and every random crop
  a pure function of ``(seed, epoch, index)``, so a run killed at any point and restarted
  finishes with the same weights, bit for bit, as one never interrupted (on CPU; cuDNN
  kernels are not bitwise reproducible).
* **Device-agnostic.**  CUDA when available, else CPU.  Mixed precision (float16 autocast and a
  gradient scaler) on CUDA only; plain float32 on CPU (bfloat16 on CPUs without native
  support is about 30x slower, and oneDNN stays on: it is 1.3x faster for LSTMs).
* **Data parallel without code change.**  Under ``torchrun`` (``WORLD_SIZE`` > 1 in the
  environment) the trainer joins the process group (NCCL on CUDA, Gloo on CPU), wraps the model
  in ``DistributedDataParallel``, shards every epoch with a ``DistributedSampler`` and averages
  the losses it logs across processes; only rank 0 writes files.

Files of a run: ``config.json``, ``last.pt``, ``best.pt`` (lowest validation loss), ``log.csv``
(one row per epoch: epoch, step, train_loss, valid_loss, lr, seconds, frames_per_s) and
``done``.  Every write is atomic (temporary name, then :func:`os.replace`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from bootsep_lib.config import ModelConfig, TrainConfig, config_hash
from bootsep_lib.losses import (
    NORMALIZATIONS,
    chimera_loss,
    deep_clustering_loss,
    mdc_loss,
    normalize_loss,
)
from bootsep_lib.models import build_model, feature_statistics
from bootsep_lib.targets import one_hot_targets, simplex_targets

__all__ = [
    "LOSSES",
    "CHECKPOINT_FORMAT",
    "RunConfig",
    "TrainResult",
    "train_model",
    "load_model",
    "resolve_device",
]

LOSSES = ("dc", "mdc", "chimera", "mchimera")
"""``dc``: weighted DC (Eq. 8-9); ``mdc``: simplex targets (M-DC); ``chimera``: DC + MI heads;
``mchimera``: Chimera with simplex targets on the DC head (the M-DC paper's M-Chimera)."""

CHECKPOINT_FORMAT = "bootsep-checkpoint-v1"
_MIN_IMPROVEMENT = 1e-4
"""Relative decrease of the validation loss that counts as progress (as ReduceLROnPlateau)."""
_LOG_COLUMNS = ("epoch", "step", "train_loss", "valid_loss", "lr", "seconds", "frames_per_s")


@dataclass(frozen=True)
class RunConfig:
    """Everything that identifies a trained model; its hash names the run's folder.

    Parameters
    ----------
    model : ModelConfig
        Network size (BLSTM layers, units, embedding dimension ``D``, dropout).
    train : TrainConfig
        Optimiser, schedule, crop, batch size and seed.
    loss : {"dc", "mdc", "chimera", "mchimera"}
        Objective, see :data:`LOSSES`.  Chimera losses build a Chimera network, the others a
        deep clustering network.
    chimera_alpha : float
        Weight of the DC term in ``alpha * DC + (1 - alpha) * MI`` (Chimera losses only).
    n_sources : int
        Number of sources per mixture.
    n_freqs : int
        Frequency bins of the input features (129 for 32 ms windows at 8 kHz).
    loss_norm : {"batch", "utterance", "none"}
        Normalization of the per-item DC loss, see :func:`bootsep_lib.losses.normalize_loss`.
    data_tag : str
        Free-form identity of the training data (profile data hash, label source, alpha of the
        weights, subset size...), set by the caller: two runs on different data must differ here.
    """

    model: ModelConfig
    train: TrainConfig
    loss: str = "dc"
    chimera_alpha: float = 0.975
    n_sources: int = 2
    n_freqs: int = 129
    loss_norm: str = "batch"
    data_tag: str = ""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss_norm not in NORMALIZATIONS:
            raise ValueError(f"loss_norm must be one of {NORMALIZATIONS}, got {self.loss_norm!r}")
        if not 0.0 <= self.chimera_alpha <= 1.0:
            raise ValueError(f"chimera_alpha must lie in [0, 1], got {self.chimera_alpha}")
        if self.n_sources < 2 or self.n_freqs < 2:
            raise ValueError(f"need n_sources >= 2 and n_freqs >= 2, got {self}")
        if self.train.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {self.train.optimizer!r}")

    @property
    def run_id(self) -> str:
        """Short stable hash of every field (the run's folder name)."""
        return config_hash(self)

    @property
    def model_kind(self) -> str:
        """``"chimera"`` for the Chimera losses, else ``"dc"`` (argument of ``build_model``)."""
        return "chimera" if self.loss in ("chimera", "mchimera") else "dc"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise ``ValueError``."""
        try:
            values = dict(data)
            values["model"] = ModelConfig(**values["model"])
            values["train"] = TrainConfig(**values["train"])
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a RunConfig: {exc}") from exc


@dataclass
class TrainResult:
    """What :func:`train_model` returns.

    Attributes
    ----------
    run_dir : Path
        ``<cache_dir>/models/<run_id>``.
    best_checkpoint, last_checkpoint : Path
        Lowest-validation-loss and latest checkpoints (``best.pt``, ``last.pt``).
    history : pandas.DataFrame
        One row per completed epoch, columns as in ``log.csv``.
    cached : bool
        True when the run was already done and nothing was trained.
    frames_per_second : float
        Training throughput of this call (all processes), or the logged mean when cached.
    steps_run : int
        Optimiser steps taken by this call (0 when cached).
    finished : bool
        True when the run is complete (``done`` written); False after a budget stop
        (``max_epochs``, ``stop_after_steps``), which a later call resumes.
    """

    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    history: pd.DataFrame
    cached: bool
    frames_per_second: float
    steps_run: int = 0
    finished: bool = True


# --------------------------------------------------------------------------- devices, DDP


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a :class:`torch.device`; ``None`` means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def rank_device(device: str | torch.device | None, local_rank: int) -> torch.device:
    """The device of one ``torchrun`` process: an unindexed ``cuda`` becomes ``cuda:LOCAL_RANK``
    (one GPU per process, as DDP expects); CPU and explicit indices are kept."""
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
    return dev


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Sum a few numbers over all processes (identity without DDP)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()


def _setup_distributed(device: str | torch.device | None) -> tuple[_Dist, torch.device]:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1``; pick each rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), resolve_device(device)
    dev = rank_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return _Dist(rank=dist.get_rank(), world=dist.get_world_size(), owns_group=owns), dev


# --------------------------------------------------------------------------- data


class _CroppedView(Dataset):
    """A training/validation view of a dataset: crops of at most ``crop_frames`` frames.

    Keys are ``(index, epoch)``; the random crop start is a pure function of
    ``(seed, epoch, index)``, and ``epoch = -1`` asks for the deterministic centre crop
    (validation).
    """

    _FRAME_AXIS = {"features": 0, "labels": 0, "weights": 0, "mix_mag": 0, "source_mags": 1}

    def __init__(self, base: Dataset, crop_frames: int, seed: int, chimera: bool) -> None:
        self.base = base
        self.crop = crop_frames
        self.seed = seed
        needed = self._FRAME_AXIS if chimera else ("features", "labels", "weights")
        self.keys = tuple(needed)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, epoch = key
        item = self.base[index]
        missing = [k for k in self.keys if k not in item]
        if missing:
            raise KeyError(f"training item {index} lacks {missing} (has {sorted(item)})")
        frames = int(item["features"].shape[0])
        start = 0
        if frames > self.crop:
            if epoch < 0:
                start = (frames - self.crop) // 2
            else:
                rng = np.random.default_rng((self.seed, epoch, index))
                start = int(rng.integers(0, frames - self.crop + 1))
        stop = min(frames, start + self.crop)
        out = {}
        for k in self.keys:
            value = torch.as_tensor(item[k])
            out[k] = value.narrow(self._FRAME_AXIS[k], start, stop - start)
        return out


def _collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad to the longest item along frames; padded bins get weight 0 and label 0.

    Returns ``features``, ``weights``, ``mix_mag`` (float32, (B, T, F)), ``labels`` (int64,
    (B, T, F)), ``source_mags`` (float32, (B, N, T, F)), ``valid`` (float32, (B, T, F): 1 on real
    frames) and ``lengths`` (int64, (B,)).
    """
    lengths = torch.tensor([int(it["features"].shape[0]) for it in items], dtype=torch.int64)
    frames = int(lengths.max())
    batch: dict[str, torch.Tensor] = {"lengths": lengths}
    for key in items[0]:
        axis = 1 if key == "source_mags" else 0
        dtype = torch.int64 if key == "labels" else torch.float32
        first = items[0][key]
        shape = (len(items), *first.shape[:axis], frames, *first.shape[axis + 1 :])
        out = torch.zeros(shape, dtype=dtype)
        for b, it in enumerate(items):
            out[b].narrow(axis, 0, it[key].shape[axis]).copy_(it[key])
        batch[key] = out
    steps = torch.arange(frames)[None, :, None] < lengths[:, None, None]
    batch["valid"] = steps.expand_as(batch["features"]).to(torch.float32)
    return batch


class _EpochBatches(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, epoch)`` keys: a :class:`DistributedSampler` order, chunked.

    The order is a pure function of ``(seed, epoch)`` (and of rank and world size);
    :meth:`set_epoch` also says how many batches to skip (resume in the middle of an epoch).
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, rank: int, world: int) -> None:
        self.batch_size = batch_size
        self.sampler = DistributedSampler(
            range(n_items), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.epoch = 0
        self.skip = 0

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = list(self.sampler)
        for b in range(self.skip, self.batches_per_epoch):
            chunk = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(i, self.epoch) for i in chunk]


def _validation_batches(n_items: int, batch_size: int, rank: int, world: int) -> list[list]:
    """This rank's share of the validation set (no padding duplicates), centre-cropped keys."""
    mine = list(range(rank, n_items, world))
    return [[(i, -1) for i in mine[s : s + batch_size]] for s in range(0, len(mine), batch_size)]


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _input_statistics(
    dataset: Dataset, max_items: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and std of the (uncropped) features of up to ``max_items`` items.

    The items are evenly spaced over the dataset (deterministic), so every process of a data
    parallel run computes the same statistics.
    """
    n = len(dataset)  # type: ignore[arg-type]
    picks = np.unique(np.linspace(0, n - 1, num=min(n, max_items)).round().astype(int))
    frames = [torch.as_tensor(dataset[int(i)]["features"], dtype=torch.float32) for i in picks]
    return feature_statistics(torch.cat(frames, dim=0).unsqueeze(0))


# --------------------------------------------------------------------------- loss


def _batch_loss(model: nn.Module, batch: dict[str, torch.Tensor], run: RunConfig) -> torch.Tensor:
    """The scalar objective of one batch (mean over items of the normalized per-item loss)."""
    out = model(batch["features"], batch["lengths"])
    embeddings = out[0] if isinstance(out, tuple) else out  # (B, T, F, D)
    b, t, f, d = embeddings.shape
    flat = embeddings.reshape(b, t * f, d)
    labels = batch["labels"].reshape(b, t * f)
    weights = batch["weights"].reshape(b, t * f)
    simplex = run.loss in ("mdc", "mchimera")
    if run.model_kind == "chimera":
        make = simplex_targets if simplex else one_hot_targets
        per_item = chimera_loss(
            flat,
            out[1],
            make(labels, run.n_sources),
            batch["mix_mag"],
            batch["source_mags"],
            run.chimera_alpha,
            weights=weights,
            dc_norm=run.loss_norm,
            mi_weights=batch["valid"],
        )
        return per_item.mean()
    if simplex:
        per_item = mdc_loss(flat, labels, weights, n_sources=run.n_sources)
    else:
        per_item = deep_clustering_loss(flat, one_hot_targets(labels, run.n_sources), weights)
    return normalize_loss(per_item, weights, run.loss_norm).mean()


# --------------------------------------------------------------------------- checkpoints


def _atomic_write_bytes(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_save(obj: Any, path: Path) -> None:
    _atomic_write_bytes(path, lambda tmp: torch.save(obj, tmp))


def _atomic_text(text: str, path: Path) -> None:
    _atomic_write_bytes(path, lambda tmp: tmp.write_text(text))


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (global state of user code)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _read_checkpoint(path: Path) -> dict[str, Any]:
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


@dataclass
class _State:
    """Progress of a run; everything here goes into ``last.pt``."""

    epoch: int = 0  # current (incomplete) epoch, 0-based
    step: int = 0  # optimiser steps since the start of the run
    step_in_epoch: int = 0
    best: float = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    # accumulators of the current epoch (this process): loss sum, batches, frames, seconds
    acc_loss: float = 0.0
    acc_batches: int = 0
    acc_frames: int = 0
    acc_seconds: float = 0.0


def _history_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(history, columns=list(_LOG_COLUMNS))


def _make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=train.lr)
    return torch.optim.Adam(model.parameters(), lr=train.lr)


def _amp_settings(device: torch.device) -> tuple[bool, torch.dtype]:
    """Autocast on CUDA only, in float16 (cuDNN's LSTM kernels; a GradScaler guards it)."""
    return device.type == "cuda", torch.float16


# --------------------------------------------------------------------------- training


def _result(
    run_dir: Path,
    history: list[dict[str, float]],
    *,
    cached: bool,
    fps: float,
    steps: int,
    finished: bool,
) -> TrainResult:
    frame = _history_frame(history)
    if cached and len(frame):
        fps = float(frame["frames_per_s"].mean())
    return TrainResult(
        run_dir=run_dir,
        best_checkpoint=run_dir / "best.pt",
        last_checkpoint=run_dir / "last.pt",
        history=frame,
        cached=cached,
        frames_per_second=fps,
        steps_run=steps,
        finished=finished,
    )


def train_model(
    run: RunConfig,
    train_set: Dataset,
    valid_set: Dataset,
    *,
    cache_dir: str | os.PathLike,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_epochs: int | None = None,
    stop_after_steps: int | None = None,
    checkpoint_every_steps: int | None = None,
) -> TrainResult:
    """Train (or resume, or fetch from the cache) the model a :class:`RunConfig` describes.

    Parameters
    ----------
    run : RunConfig
        What to train; ``run.run_id`` names the folder ``<cache_dir>/models/<run_id>``.
    train_set, valid_set : torch.utils.data.Dataset
        Items are dicts of arrays: ``features`` float32 (frames, freqs) log-magnitudes of the
        reference-channel mixture, ``labels`` int64 (frames, freqs) dominant (or pseudo) source,
        ``weights`` float32 (frames, freqs) bin weights ``w(alpha)``; Chimera losses also need
        ``mix_mag`` (frames, freqs) and ``source_mags`` (n_sources, frames, freqs).  Training
        items are randomly cropped to ``run.train.crop_frames`` frames, validation items
        centre-cropped to the same length; shorter items are zero-padded with weight 0.
    cache_dir : path-like
        Root of the cache.
    device : str or torch.device, optional
        Default: CUDA when available (``cuda:LOCAL_RANK`` under ``torchrun``), else CPU.
    progress : bool
        Show a tqdm bar per epoch (rank 0 only).
    max_epochs : int, optional
        Stop this call once this many epochs (in total) are complete; the run stays resumable
        and is marked done only when ``run.train.epochs`` are reached or early stopping fires.
    stop_after_steps : int, optional
        Stop this call once this many optimiser steps (in total) are done, with a checkpoint
        at that exact step: a budget stop (or, in tests, a stand-in for a kill).
    checkpoint_every_steps : int, optional
        Also write ``last.pt`` every this many steps within epochs (a killed run then loses at
        most that many steps).  Checkpoints at epoch ends are always written.

    Returns
    -------
    TrainResult
        ``cached=True`` (and nothing trained) when the run's ``done`` marker exists.

    Notes
    -----
    Schedule: the learning rate is halved when the validation loss has not improved on its
    best for ``lr_patience`` consecutive epochs (PyTorch ``ReduceLROnPlateau`` with patience
    ``lr_patience - 1``, since it acts on the epoch *after* ``patience`` stalls); training stops
    after ``early_stop_patience`` epochs without a new best.  A new best is a relative decrease
    of at least ``1e-4`` (the scheduler's default threshold), for both rules.  Gradients are
    clipped to a global norm of ``grad_clip``.  The objective of a batch is the mean over its
    items of the per-item loss normalized by ``normalize_loss(..., mode=run.loss_norm)``; the
    Chimera MI term is not confidence-weighted: its bin weights are 1 on real frames and 0 on
    padding.
    """
    run_dir = Path(cache_dir) / "models" / run.run_id
    ctx, dev = _setup_distributed(device)
    try:
        return _train(
            run, train_set, valid_set, run_dir, ctx, dev, progress, max_epochs,
            stop_after_steps, checkpoint_every_steps,
        )
    finally:
        if ctx.owns_group:
            dist.destroy_process_group()


def _train(
    run: RunConfig,
    train_set: Dataset,
    valid_set: Dataset,
    run_dir: Path,
    ctx: _Dist,
    dev: torch.device,
    progress: bool,
    max_epochs: int | None,
    stop_after_steps: int | None,
    checkpoint_every_steps: int | None,
) -> TrainResult:
    tc = run.train
    last_path, best_path, done_path = run_dir / "last.pt", run_dir / "best.pt", run_dir / "done"
    if done_path.exists():
        history = _read_checkpoint(last_path)["state"]["history"]
        return _result(run_dir, history, cached=True, fps=0.0, steps=0, finished=True)
    n_train, n_valid = len(train_set), len(valid_set)  # type: ignore[arg-type]
    if n_train == 0 or n_valid == 0:
        raise ValueError(f"empty data: {n_train} training and {n_valid} validation items")
    if ctx.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        config = {"run_id": run.run_id, **run.to_dict()}
        _atomic_text(json.dumps(config, indent=2, sort_keys=True) + "\n", run_dir / "config.json")
    ctx.barrier()

    # Same initialization for every run with the same seed (paper: "the same random init").
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)  # noqa: NPY002 (legacy global RNG that user datasets may use)
    random.seed(tc.seed)
    model = build_model(run.model_kind, run.n_freqs, run.model, run.n_sources).to(dev)
    optimizer = _make_optimizer(model, tc)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=0.5,
        patience=max(tc.lr_patience - 1, 0),
        threshold=_MIN_IMPROVEMENT,
        threshold_mode="rel",
    )
    use_amp, amp_dtype = _amp_settings(dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=use_amp and amp_dtype == torch.float16)
    state = _State()
    if not last_path.exists():
        model.set_input_stats(*_input_statistics(train_set))
    else:
        ckpt = _read_checkpoint(last_path)
        if ckpt["run_id"] != run.run_id:
            raise ValueError(f"{last_path} belongs to run {ckpt['run_id']}, not {run.run_id}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        state = _State(**ckpt["state"])
        _set_rng_state(ckpt["rng"])

    net: nn.Module = model
    if ctx.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    chimera = run.model_kind == "chimera"
    train_view = _CroppedView(train_set, tc.crop_frames, tc.seed, chimera)
    valid_view = _CroppedView(valid_set, tc.crop_frames, tc.seed, chimera)
    sampler = _EpochBatches(n_train, tc.batch_size, tc.seed, ctx.rank, ctx.world)
    valid_batches = _validation_batches(n_valid, tc.batch_size, ctx.rank, ctx.world)
    autocast = functools.partial(torch.autocast, dev.type, dtype=amp_dtype, enabled=use_amp)
    target_epochs = tc.epochs if max_epochs is None else min(tc.epochs, max_epochs)

    def save_last() -> None:
        if ctx.main:
            _atomic_save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "run_id": run.run_id,
                    "run": run.to_dict(),
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "state": dataclasses.asdict(state),
                    "rng": _rng_state(),
                },
                last_path,
            )
        ctx.barrier()

    steps_run = 0
    frames_run = 0.0
    seconds_run = 0.0

    def budget_spent() -> bool:
        return stop_after_steps is not None and state.step >= stop_after_steps

    while (
        state.epoch < target_epochs and not state.stopped_early and not budget_spent()
    ):
        sampler.set_epoch(state.epoch, skip=state.step_in_epoch)
        loader = DataLoader(
            train_view,
            batch_sampler=sampler,
            collate_fn=_collate,
            num_workers=tc.num_workers,
            pin_memory=dev.type == "cuda",
            generator=torch.Generator().manual_seed(tc.seed * 100_003 + state.epoch),
        )
        net.train()
        bar = tqdm(
            total=sampler.batches_per_epoch,
            initial=state.step_in_epoch,
            desc=f"{run.run_id} epoch {state.epoch + 1}/{tc.epochs}",
            disable=not (progress and ctx.main),
            leave=False,
        )
        tick = time.perf_counter()
        stopped = False
        for batch in loader:
            batch = _to_device(batch, dev)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = _batch_loss(net, batch, run)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            value = float(loss.detach())
            if not math.isfinite(value) and not scaler.is_enabled():
                raise FloatingPointError(
                    f"non-finite training loss at step {state.step} of run {run.run_id}"
                )
            frames = int(batch["lengths"].sum())
            state.step += 1
            state.step_in_epoch += 1
            state.acc_loss += value
            state.acc_batches += 1
            state.acc_frames += frames
            steps_run += 1
            frames_run += frames
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
            if budget_spent() or (
                checkpoint_every_steps and state.step % checkpoint_every_steps == 0
            ):
                elapsed = time.perf_counter() - tick
                state.acc_seconds += elapsed
                seconds_run += elapsed
                save_last()
                tick = time.perf_counter()
                if budget_spent():
                    stopped = True
                    break
        bar.close()
        elapsed = time.perf_counter() - tick
        state.acc_seconds += elapsed
        seconds_run += elapsed
        if stopped:
            break

        tick = time.perf_counter()
        valid_loss = _validate(model, valid_view, valid_batches, run, dev, autocast, ctx)
        loss_sum, batches, frames_sum = ctx.sum(
            [state.acc_loss, state.acc_batches, state.acc_frames], dev
        )
        (train_seconds,) = ctx.sum([state.acc_seconds], dev)
        train_seconds /= ctx.world
        scheduler.step(valid_loss)
        improved = valid_loss < state.best * (1.0 - _MIN_IMPROVEMENT)
        if improved:
            state.best, state.bad_epochs = valid_loss, 0
        else:
            state.bad_epochs += 1
        state.stopped_early = state.bad_epochs >= tc.early_stop_patience
        state.history.append(
            {
                "epoch": state.epoch + 1,
                "step": state.step,
                "train_loss": loss_sum / max(batches, 1),
                "valid_loss": valid_loss,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": train_seconds + time.perf_counter() - tick,
                "frames_per_s": frames_sum / max(train_seconds, 1e-9),
            }
        )
        state.epoch += 1
        state.step_in_epoch = 0
        state.acc_loss = state.acc_seconds = 0.0
        state.acc_batches = state.acc_frames = 0
        if ctx.main:
            if improved:
                _atomic_save(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "run_id": run.run_id,
                        "run": run.to_dict(),
                        "model": model.state_dict(),
                        "epoch": state.epoch,
                        "valid_loss": valid_loss,
                    },
                    best_path,
                )
            _atomic_text(_history_frame(state.history).to_csv(index=False), run_dir / "log.csv")
        save_last()

    finished = state.epoch >= tc.epochs or state.stopped_early
    if finished and ctx.main:
        summary = {"run_id": run.run_id, "epochs": state.epoch, "steps": state.step,
                   "best_valid_loss": state.best, "stopped_early": state.stopped_early}
        _atomic_text(json.dumps(summary, indent=2) + "\n", done_path)
    ctx.barrier()
    (frames_all,) = ctx.sum([frames_run], dev)
    fps = frames_all / seconds_run if seconds_run > 0 else 0.0
    return _result(run_dir, state.history, cached=False, fps=fps, steps=steps_run,
                   finished=finished)


@torch.no_grad()
def _validate(
    net: nn.Module,
    view: _CroppedView,
    batches: list[list[tuple[int, int]]],
    run: RunConfig,
    dev: torch.device,
    autocast: Any,
    ctx: _Dist,
) -> float:
    """Item-weighted mean batch loss over the (centre-cropped) validation set, all ranks.

    Runs the bare module (not the DDP wrapper): ranks may hold different numbers of batches.
    """
    net.eval()
    total, count = 0.0, 0
    for keys in batches:
        batch = _to_device(_collate([view[k] for k in keys]), dev)
        with autocast():
            total += float(_batch_loss(net, batch, run)) * len(keys)
        count += len(keys)
    total, count = ctx.sum([total, count], dev)
    return total / count


# --------------------------------------------------------------------------- loading


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
        The network (``DeepClusteringNet`` or ``ChimeraNet``) on ``device``, in eval mode.
    run : RunConfig
        The configuration it was trained with.

    Raises
    ------
    ValueError
        Missing, unreadable or foreign checkpoint, or one that does not match ``expected``.
    """
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    ckpt = _read_checkpoint(path)
    run = RunConfig.from_dict(ckpt["run"])
    if expected is not None and run != expected:
        mine, theirs = run.to_dict(), expected.to_dict()
        diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
        raise ValueError(
            f"{path} was trained with another configuration (run {run.run_id}, expected "
            f"{expected.run_id}); differing fields (checkpoint, expected): {diff}"
        )
    model = build_model(run.model_kind, run.n_freqs, run.model, run.n_sources)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit the configured network ({exc})") from exc
    return model.to(resolve_device(device)).eval(), run
