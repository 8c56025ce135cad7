"""Training examples from the corpus and the label bank, and many cached models at once.

:class:`TrainingSet` turns one split into the items :func:`bootsep_lib.engine.train_model`
expects: the log-magnitude of channel 0 of the mixture (the single-channel network input),
labels (ground truth, or the spatial stage's pseudo labels) and weights
``w(alpha) = C(alpha) |X| / sum |X|`` (Section 2.3 of the bootstrapping paper; ground truth and
``alpha = 0`` use magnitude weights only).

:func:`train_many` trains a list of models, each cached by the hash of its full config,
in parallel processes (two 1-thread jobs give ~15% more throughput than one 2-thread job on
two cores, measured; see the README).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from .. import dsp, paths, targets
from ..config import Profile, config_hash
from ..engine import RunConfig, TrainResult, train_model
from ..util.threads import worker_pool
from .spatial_stage import Subset, default_subset, open_split, spatial_stage

__all__ = ["TrainingSet", "run_config", "train_many", "ModelJob"]

TARGET_KINDS = ("ground_truth", "spatial")


class TrainingSet(Dataset):
    """Training items of one split for DC, M-DC and Chimera.

    Parameters
    ----------
    profile : Profile
    split : {"tr", "cv", "tt"}
    targets : {"ground_truth", "spatial"}
        Dominant source of the reference-channel images, or the spatial stage's pseudo labels.
    alpha : float
        Confidence exponent of the weights (spatial targets only; ground truth uses
        magnitude weights, i.e. ``C = 1``).
    subset : Subset, optional
        Default: the profile's first subset.
    limit : int, optional
        Use only the first ``limit`` mixtures (e.g. the "ground truth, 1k" model).
    with_sources : bool
        Also return ``mix_mag`` and ``source_mags`` (Chimera's mask-inference term).  With
        spatial targets the "sources" are the spatial masks applied to the mixture.
    jobs : int
        Processes for the spatial stage if it has not run yet.
    memory_mb : float
        Items are computed once and kept in memory up to this many MiB (0: never kept); later
        epochs then skip reading and transforming the audio: 4.4 ms (spatial targets) to
        21.6 ms (ground truth with sources) per item, i.e. 4-22 s of a ~50-s epoch of the
        laptop profile's 1,000 mixtures on one thread (measured;
        ``benchmarks/bench_pipeline.py``).  Kept items are bitwise the computed ones; their
        float tensors are shared, so treat items as read-only (batching copies them).

    Items
    -----
    dict with ``features`` float32 (frames, freqs) = 20 log10 |X|, ``labels`` int64
    (frames, freqs), ``weights`` float32 (frames, freqs), and optionally ``mix_mag``
    (frames, freqs) and ``source_mags`` (n_sources, frames, freqs).
    """

    def __init__(
        self,
        profile: Profile,
        split: str,
        *,
        targets: str = "ground_truth",
        alpha: float = 0.0,
        subset: Subset | None = None,
        limit: int | None = None,
        with_sources: bool = False,
        jobs: int = 1,
        memory_mb: float = 1024.0,
    ) -> None:
        if targets not in TARGET_KINDS:
            raise ValueError(f"targets must be one of {TARGET_KINDS}, got {targets!r}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.profile = profile
        self.split = split
        self.targets = targets
        self.alpha = float(alpha) if targets == "spatial" else 0.0
        self.subset = subset or default_subset(profile)
        self.with_sources = with_sources
        ds = open_split(profile, split, subset=self.subset, return_sources=False)
        self.folder = ds.folder
        self.ids = ds.ids if limit is None else ds.ids[:limit]
        self._stage_folder: Path | None = None
        self._stage_table = None
        if targets == "spatial":
            stage = spatial_stage(profile, split, subset=self.subset, jobs=jobs)
            self._stage_folder = stage.folder
            self._stage_table = stage.table.set_index("id")
        self._bank: dict[str, np.ndarray] | None = None
        self.memory_mb = float(memory_mb)
        self._kept: dict[int, dict[str, torch.Tensor]] = {}
        self._kept_bytes = 0

    # -- identity -------------------------------------------------------------------------
    @property
    def tag(self) -> str:
        """Everything that identifies the data of a model trained on this set."""
        return config_hash({
            "data": asdict(self.profile.data), "spatial": asdict(self.profile.spatial),
            "subset": asdict(self.subset), "split": self.split, "targets": self.targets,
            "alpha": self.alpha, "n": len(self.ids), "with_sources": self.with_sources,
        })

    def __len__(self) -> int:
        return len(self.ids)

    def __getstate__(self) -> dict:  # worker processes reopen the bank and refill the items
        return {**self.__dict__, "_bank": None, "_kept": {}, "_kept_bytes": 0}

    # -- items ----------------------------------------------------------------------------
    def _stage_arrays(self, index: int) -> dict[str, np.ndarray]:
        if self._bank is None:
            from .spatial_stage import load_bank

            self._bank = load_bank(self._stage_folder, self.split)
        lo, hi = self._bank["offsets"][index], self._bank["offsets"][index + 1]
        return {"labels": self._bank["labels"][lo:hi], "post": self._bank["post"][lo:hi]}

    def _read(self, kind: str, mid: str) -> np.ndarray:
        data, _ = sf.read(str(self.folder / kind / f"{mid}.wav"), dtype="float32",
                          always_2d=True)
        return data[:, 0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self._kept.get(index)
        if item is None:  # labels are kept as uint8 (< 256 sources), an eighth of int64
            item = {**self._compute(index)}
            item["labels"] = item["labels"].to(torch.uint8)
            size = sum(t.nbytes for t in item.values())
            if self._kept_bytes + size <= self.memory_mb * 2**20:
                self._kept[index] = item
                self._kept_bytes += size
        return {**item, "labels": item["labels"].long()}

    def _compute(self, index: int) -> dict[str, torch.Tensor]:
        cfg = self.profile.spatial
        rate = self.subset.sample_rate
        mid = self.ids[index]
        spec = dsp.stft(self._read("mix", mid), rate, cfg.window_ms, cfg.hop_ms)
        magnitude = np.abs(spec)
        need_sources = self.targets == "ground_truth" or self.with_sources
        src_spec = None
        if need_sources:
            src = np.stack([self._read(f"s{k + 1}", mid) for k in range(self.subset.n_speakers)])
            src_spec = dsp.stft(src, rate, cfg.window_ms, cfg.hop_ms)
        if self.targets == "ground_truth":
            labels = targets.ground_truth_labels(src_spec)
            weights = targets.magnitude_weights(magnitude)
            source_mags = np.abs(src_spec) if self.with_sources else None
        else:
            arrays = self._stage_arrays(index)
            row = self._stage_table.loc[mid]
            labels = np.asarray(arrays["labels"], dtype=np.int64)
            post = np.asarray(arrays["post"], dtype=np.float32)
            weights = targets.bootstrap_weights(
                magnitude, float(row["conf_cl"]), float(row["conf_jsd"]), post, self.alpha)
            source_mags = None
            if self.with_sources:  # the pseudo "sources": hard spatial masks on |X|
                onehot = targets.one_hot_targets(labels, self.subset.n_speakers)
                source_mags = np.moveaxis(onehot, -1, 0) * magnitude
        item = {
            "features": torch.from_numpy(dsp.magnitude_db(spec).astype(np.float32)),
            "labels": torch.from_numpy(np.asarray(labels, dtype=np.int64)),
            "weights": torch.from_numpy(np.asarray(weights, dtype=np.float32)),
        }
        if self.with_sources:
            item["mix_mag"] = torch.from_numpy(magnitude.astype(np.float32))
            item["source_mags"] = torch.from_numpy(np.asarray(source_mags, dtype=np.float32))
        return item


def run_config(
    profile: Profile,
    train_set: TrainingSet,
    *,
    loss: str = "dc",
    chimera_alpha: float = 0.975,
    n_freqs: int | None = None,
) -> RunConfig:
    """The :class:`~bootsep_lib.engine.RunConfig` of a model trained on ``train_set``.

    Architecture, optimiser and seed come from the profile, so every model of a table shares
    architecture and initial weights; the data identity goes into ``data_tag``.
    """
    if n_freqs is None:
        n_fft, _ = dsp.stft_params(train_set.subset.sample_rate, profile.spatial.window_ms,
                                     profile.spatial.hop_ms)
        n_freqs = n_fft // 2 + 1
    return RunConfig(
        model=profile.model, train=profile.train, loss=loss, chimera_alpha=chimera_alpha,
        n_sources=train_set.subset.n_speakers, n_freqs=n_freqs, data_tag=train_set.tag,
    )


@dataclass(frozen=True)
class ModelJob:
    """One model to train: its config and its training / validation sets."""

    run: RunConfig
    train_set: TrainingSet
    valid_set: TrainingSet


def _train_job(args: tuple[ModelJob, str, bool]) -> TrainResult:
    job, cache, progress = args
    return train_model(job.run, job.train_set, job.valid_set, cache_dir=cache, progress=progress)


def train_many(
    jobs_list: list[ModelJob],
    *,
    jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[TrainResult]:
    """Train every model not cached yet, ``jobs`` at a time; return results in order.

    On a GPU machine use ``jobs=1`` (one model uses the whole device).
    """
    cache = str(cache_dir or paths.cache_dir())
    if jobs <= 1 or len(jobs_list) <= 1 or torch.cuda.is_available():
        return [train_model(j.run, j.train_set, j.valid_set, cache_dir=cache, progress=progress)
                for j in jobs_list]
    # Longest first (a worker takes the next job when it is free): a long job started last
    # would run alone at the end with the other cores idle (measured: ~7 min of notebook 06).
    order = sorted(range(len(jobs_list)), key=lambda i: -_training_cost(jobs_list[i]))
    with worker_pool(min(jobs, len(jobs_list))) as pool:
        done = dict(zip(order, pool.map(_train_job, [(jobs_list[i], cache, progress)
                                                      for i in order]), strict=True))
    return [done[i] for i in range(len(jobs_list))]


def _training_cost(job: ModelJob) -> float:
    """Relative cost of a job: epochs x mixtures x frequencies x network width and depth."""
    run = job.run
    return float(run.train.epochs * len(job.train_set) * run.n_freqs * run.model.layers
                 * run.model.units)

