"""Training examples of one split: network input, labels and weights (corpus + label bank).

:class:`TrainingSet` turns one split into the items :func:`bootsep_lib.engine.train_model`
expects: the log-magnitude of channel 0 of the mixture (the single-channel network input),
labels (ground truth, or the spatial stage's pseudo labels) and weights
``w(alpha) = C(alpha) |X| / sum |X|`` (Section 2.3 of the bootstrapping paper; ground truth and
``alpha = 0`` use magnitude weights only).

The pseudo labels and ``C_post`` come from the *label bank* that
:func:`bootsep_lib.studies.spatial_stage` writes (read here by :func:`load_bank`); a set with
spatial targets runs that stage first if it has not run yet (the one import of ``studies``
from ``data``, done lazily).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import dsp, targets
from ..config import Profile
from ..util.cache import stage_key
from .fingerprint import split_fingerprint
from .readers import read_corpus_wav
from .subsets import Subset, default_subset, open_split

if TYPE_CHECKING:
    from .item_bank import ItemBank

__all__ = ["BANK_KEYS", "TARGET_KINDS", "BankError", "TrainingSet", "load_bank"]

TARGET_KINDS = ("ground_truth", "spatial")

#: Files of the label bank: per-bin arrays of every mixture of a split, and their offsets.
BANK_KEYS = ("labels", "post", "truth", "offsets")

#: Bumped whenever the items of a training set change for the same inputs.
TRAINING_SET_VERSION = 1


class BankError(ValueError):
    """A label bank file is missing, unreadable or inconsistent with the others."""


def load_bank(folder: Path, split: str) -> dict[str, np.ndarray]:
    """The label bank of a finished spatial stage, memory-mapped (read-only).

    Raises
    ------
    BankError
        A file is missing, cut short or not a NumPy array, or the arrays disagree on the
        number of frames (the message names the file).
    """
    bank = {}
    for k in BANK_KEYS:
        path = folder / f"{split}_{k}.npy"
        try:
            bank[k] = np.load(path, mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            raise BankError(f"label bank file {path} is damaged ({exc})") from exc
    frames = int(bank["offsets"][-1]) if bank["offsets"].size else -1
    for k in BANK_KEYS[:-1]:
        if bank[k].shape[0] != frames:
            raise BankError(f"label bank file {folder / f'{split}_{k}.npy'} holds "
                            f"{bank[k].shape[0]} frames, its offsets say {frames}")
    return bank


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
    teacher : str, optional
        With spatial targets: take the pseudo labels and confidence from this registered
        teacher (:func:`bootsep_lib.studies.teacher_stage.teacher_stage` on the set's
        mixtures) instead of the spatial stage; its cache entry enters :attr:`tag`.
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
        teacher: str | None = None,
    ) -> None:
        if targets not in TARGET_KINDS:
            raise ValueError(f"targets must be one of {TARGET_KINDS}, got {targets!r}")
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
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
            # The label bank is the spatial stage's (or the teacher's) output: run it here if
            # it has not run yet.
            from ..studies.spatial_stage import spatial_stage
            from ..studies.teacher_stage import teacher_stage

            stage = (spatial_stage(profile, split, subset=self.subset, jobs=jobs)
                     if teacher is None else
                     teacher_stage(profile, split, self.subset, teacher, len(self.ids),
                                   jobs=jobs))
            self._stage_folder = stage.folder
            self._stage_table = stage.table.set_index("id")
        self._bank: dict[str, np.ndarray] | None = None
        self.memory_mb = float(memory_mb)
        self._kept: dict[int, dict[str, torch.Tensor]] = {}
        self._kept_bytes = 0
        self._items: ItemBank | None = None

    # -- identity -------------------------------------------------------------------------
    @property
    def tag(self) -> str:
        """Everything the items of this set depend on, and nothing else (a model's data id).

        The corpus split's fingerprint (:func:`~bootsep_lib.data.fingerprint.split_fingerprint`),
        subset, split, the mixtures used, the STFT, the targets and (for pseudo labels) the
        spatial stage's cache entry with the confidence exponent.  Sizes of other splits, worker
        counts and the rest of the profile do not enter.
        """
        return stage_key("training_set", TRAINING_SET_VERSION, {
            "corpus": split_fingerprint(self.folder), "subset": asdict(self.subset),
            "split": self.split, "n": len(self.ids), "targets": self.targets,
            "stft": [self.profile.spatial.window_ms, self.profile.spatial.hop_ms],
            "labels": self._stage_folder.name if self._stage_folder is not None else None,
            "alpha": self.alpha, "with_sources": self.with_sources,
        })

    @property
    def signal(self) -> dict[str, float]:
        """Sample rate and STFT of the features, recorded in the checkpoints trained on this set
        (:func:`bootsep_lib.engine.train_model` reads it; it is not part of :attr:`tag`)."""
        cfg = self.profile.spatial
        return {"sample_rate": self.subset.sample_rate, "window_ms": cfg.window_ms,
                "hop_ms": cfg.hop_ms}

    def __len__(self) -> int:
        return len(self.ids)

    def __getstate__(self) -> dict:  # worker processes reopen the bank and refill the items
        return {**self.__dict__, "_bank": None, "_kept": {}, "_kept_bytes": 0}

    # -- items ----------------------------------------------------------------------------
    def _stage_arrays(self, index: int) -> dict[str, np.ndarray]:
        if self._bank is None:
            self._bank = load_bank(self._stage_folder, self.split)
        lo, hi = self._bank["offsets"][index], self._bank["offsets"][index + 1]
        return {"labels": self._bank["labels"][lo:hi], "post": self._bank["post"][lo:hi]}

    def _read(self, kind: str, mid: str) -> np.ndarray:
        return read_corpus_wav(self.folder / kind / f"{mid}.wav")[:, 0]

    def attach_items(self, bank: ItemBank | None) -> None:
        """Read items from a finished :class:`~bootsep_lib.data.item_bank.ItemBank` of this set
        (``None``: compute them again); the items are bitwise the same."""
        self._items = bank

    def compute_kept(self, index: int) -> dict[str, torch.Tensor]:
        """Item ``index`` as it is kept: labels as uint8 (< 256 sources), an eighth of int64."""
        item = {**self._compute(index)}
        item["labels"] = item["labels"].to(torch.uint8)
        return item

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self._items is not None:
            item = self._items.item(index)
        elif (item := self._kept.get(index)) is None:
            item = self.compute_kept(index)
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
