"""One loader for our spatialized corpus and the real spatialized wsj0-2mix.

Both use the layout of :mod:`bootsep_lib.data.layout` (``<root>/{n}speakers_{condition}/
wav{8k|16k}/{min|max}/{tr,cv,tt}/{mix,s1,s2[,s3]}/<id>.wav`` with 8-channel WAVs).  Ours adds, per
split, ``metadata.csv``, per-mixture JSON ``sidecars/`` and a ``.complete`` marker written last
(:mod:`bootsep_lib.data.build`); the real data has none of them, and a split without sidecars
is read as such ("foreign" data, ids from the ``mix`` folder).

Items are dicts of torch tensors::

    {"id": str, "index": int,
     "mix": float32 (channels, samples),
     "sources": float32 (n_speakers, channels, samples)}   # unless return_sources=False

Channel selections: ``"reference"`` (channel 0, mic 1), a tuple of 0-based channel indices, or
``"train_pair"``: channel 0 plus one of channels 1-3 (mics 2-4) drawn at random per item, as in
the bootstrapping paper's training.  Random choices (pair, crop) come from
``default_rng((seed, epoch, index))``: reproducible, and different at each :meth:`set_epoch`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from torch.utils.data import Dataset

from .layout import COMPLETE, JSON_COLUMNS, METADATA, SPLITS, split_status, subset_dir

__all__ = ["DatasetError", "MixtureDataset", "collate_mixtures", "read_corpus_wav"]

_HOW_TO_BUILD = "build it with `bootsep make-data --profile <smoke|laptop|paper>`"
_REBUILD_METADATA = ("delete it and rerun `bootsep make-data` with the same profile: it "
                     "rebuilds the table from the per-mixture sidecars")


class DatasetError(ValueError):
    """A corpus folder or file that cannot be read as asked; the message says what to do."""


def _available(root: Path) -> str:
    found = sorted(str(p.relative_to(root)) for p in root.glob("*speakers_*/wav*k/*/*")
                   if p.is_dir())
    return ", ".join(found) if found else "none"


def read_corpus_wav(path: Path, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Samples ``start:stop`` of a corpus WAV, float32 ``(samples, channels)``, all finite.

    Raises
    ------
    DatasetError
        The file holds a NaN or infinite sample (named, with the fix).
    """
    data, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    finite = np.isfinite(data)
    if not finite.all():
        bad = int(np.flatnonzero(~finite.all(axis=1))[0]) + start
        raise DatasetError(
            f"{path} holds a NaN or infinite sample (first at sample {bad}): the file is "
            "damaged; delete it and the split's .complete marker and rerun `bootsep make-data` "
            "with the same profile (it remakes the mixtures whose files are missing), or "
            "replace it with a good copy")
    return data


def _metadata_table(folder: Path, **kwargs: Any) -> pd.DataFrame:
    """``metadata.csv`` of a split, at least one mixture long, or a :class:`DatasetError`."""
    path = folder / METADATA
    try:
        table = pd.read_csv(path, dtype={"id": str}, **kwargs)
    except ValueError as exc:  # pandas' EmptyDataError and ParserError, undecodable text
        raise DatasetError(f"{path} cannot be read as the split's table ({exc}): "
                           f"{_REBUILD_METADATA}") from exc
    if "id" not in table or table.empty:
        raise DatasetError(f"{path} lists no mixture (empty or header only): "
                           f"{_REBUILD_METADATA}")
    return table


def _read_metadata(folder: Path) -> pd.DataFrame:
    table = _metadata_table(folder, keep_default_na=False)
    for col in JSON_COLUMNS:
        if col in table:
            table[col] = [json.loads(v) for v in table[col]]
    return table


class MixtureDataset(Dataset):
    """Mixtures and source images of one split.

    Parameters
    ----------
    root : path-like
        Corpus root (holding ``{n}speakers_{condition}/...``).
    split : {"tr", "cv", "tt"}
    n_speakers : int
    condition : {"anechoic", "reverb"}
    sample_rate : int
        Expected rate of every file; a different rate raises :class:`DatasetError`.
    channels : "reference", "train_pair" or tuple of int
        Channels returned (see the module docstring).
    crop_samples : int, optional
        Random crop of at most this many samples (items shorter are returned whole).
    seed : int
        Seed of the random pair and crop.
    return_sources : bool
        Also read the source images (``False`` reads only the mixture).
    mode : {"min", "max"}

    Raises
    ------
    DatasetError
        Wrong root, missing or incomplete split, too few channels, wrong sample rate.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        *,
        n_speakers: int = 2,
        condition: str = "anechoic",
        sample_rate: int = 8000,
        channels: str | Sequence[int] = "reference",
        crop_samples: int | None = None,
        seed: int = 0,
        return_sources: bool = True,
        mode: str = "min",
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.n_speakers = n_speakers
        self.condition = condition
        self.sample_rate = sample_rate
        self.crop_samples = crop_samples
        self.seed = seed
        self.return_sources = return_sources
        self.mode = mode
        self.epoch = 0
        if split not in SPLITS:
            raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
        if crop_samples is not None and crop_samples < 1:
            raise DatasetError(f"crop_samples must be positive, got {crop_samples}")
        self._channels = self._parse_channels(channels)
        self.folder = self._check_folder()
        self._ids = self._read_ids()
        self._check_first_file()

    @staticmethod
    def _parse_channels(channels: str | Sequence[int]) -> tuple[int, ...] | str:
        if channels == "reference":
            return (0,)
        if channels == "train_pair":
            return "train_pair"
        if isinstance(channels, str):
            raise DatasetError(
                f"channels must be 'reference', 'train_pair' or a tuple of ints, got {channels!r}")
        chans = tuple(int(c) for c in channels)
        if not chans or min(chans) < 0:
            raise DatasetError(f"channels must be non-negative indices, got {channels!r}")
        return chans

    @property
    def n_channels_needed(self) -> int:
        """Number of channels a file must have for the selection."""
        return 4 if self._channels == "train_pair" else max(self._channels) + 1

    def _check_folder(self) -> Path:
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"corpus root {self.root} is a file, not a folder: point root / "
                               "BOOTSEP_DATA at the folder holding the corpus")
        if not self.root.is_dir():
            raise DatasetError(
                f"corpus root {self.root} does not exist: {_HOW_TO_BUILD} (it writes to "
                "$BOOTSEP_DATA or <repo>/data), or point root / BOOTSEP_DATA at a spatialized "
                "wsj0-2mix copy")
        folder = subset_dir(self.root, self.n_speakers, self.condition, self.sample_rate,
                            self.mode) / self.split
        status = split_status(folder)
        if status == "missing":
            raise DatasetError(
                f"split folder {folder} (or its mix/ folder) does not exist under root "
                f"{self.root} (subsets there: {_available(self.root)}); {_HOW_TO_BUILD} "
                f"for {self.n_speakers} speakers, {self.condition}, {self.sample_rate} Hz")
        if status == "incomplete":
            raise DatasetError(
                f"split {folder} is incomplete (no {COMPLETE} marker but per-mixture sidecars): "
                "it is being written right now or its build was interrupted; rerun "
                "`bootsep make-data` with the same profile, it resumes where it stopped")
        for i in range(self.n_speakers if self.return_sources else 0):
            if not (folder / f"s{i + 1}").is_dir():
                raise DatasetError(
                    f"{folder / f's{i + 1}'} is missing: the split holds fewer than "
                    f"{self.n_speakers} sources; check n_speakers or rebuild the split")
        return folder

    def _read_ids(self) -> list[str]:
        if (self.folder / METADATA).exists():
            return [str(i) for i in _metadata_table(self.folder, usecols=["id"])["id"]]
        ids = sorted(p.stem for p in (self.folder / "mix").glob("*.wav"))
        if not ids:
            raise DatasetError(f"{self.folder / 'mix'} holds no .wav file: {_HOW_TO_BUILD}")
        return ids

    def _info(self, path: Path) -> Any:
        if not path.exists():
            raise DatasetError(
                f"{path} is missing (listed for mixture {path.stem}): the split is damaged; "
                "rebuild it with `bootsep make-data`")
        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise DatasetError(f"{path} cannot be read as audio ({exc}); rebuild it") from exc
        if info.samplerate != self.sample_rate:
            raise DatasetError(
                f"{path}: sample rate {info.samplerate} Hz, but the dataset was opened with "
                f"sample_rate={self.sample_rate}; pass sample_rate={info.samplerate} or use the "
                f"wav{self.sample_rate // 1000}k subset")
        if info.channels < self.n_channels_needed:
            raise DatasetError(
                f"{path}: {info.channels} channel(s), but channels={self._channels!r} needs at "
                f"least {self.n_channels_needed}; use channels='reference' for single-channel "
                "data or a multichannel corpus")
        return info

    def _check_first_file(self) -> None:
        self._info(self.folder / "mix" / f"{self._ids[0]}.wav")

    @property
    def ids(self) -> list[str]:
        """Mixture ids, in item order."""
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def set_epoch(self, epoch: int) -> None:
        """Change the random pairs and crops (deterministically) for a new epoch."""
        self.epoch = int(epoch)

    def load_metadata(self, split: str | None = None) -> pd.DataFrame:
        """Metadata table of this split (or of a sibling split of the same subset).

        JSON columns (speakers, levels, positions...) are decoded to lists.  Foreign data
        without ``metadata.csv`` gives a table with the ``id`` column only.

        Returns
        -------
        pandas.DataFrame, one row per mixture
        """
        split = self.split if split is None else split
        folder = self.folder.parent / split
        if (folder / METADATA).exists():
            return _read_metadata(folder)
        if split_status(folder) == "missing":
            raise DatasetError(f"split folder {folder} does not exist: {_HOW_TO_BUILD}")
        return pd.DataFrame({"id": sorted(p.stem for p in (folder / "mix").glob("*.wav"))})

    def _choices(self, index: int, length: int) -> tuple[tuple[int, ...], int, int]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        chans = (0, int(rng.integers(1, 4))) if self._channels == "train_pair" else self._channels
        if self.crop_samples is None or length <= self.crop_samples:
            return chans, 0, length
        start = int(rng.integers(0, length - self.crop_samples + 1))
        return chans, start, start + self.crop_samples

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self._ids):
            raise IndexError(f"index {index} out of range for {len(self._ids)} mixtures")
        mid = self._ids[index]
        names = ["mix"] + ([f"s{i + 1}" for i in range(self.n_speakers)]
                           if self.return_sources else [])
        paths = [self.folder / name / f"{mid}.wav" for name in names]
        infos = [self._info(p) for p in paths]
        lengths = {p.parent.name: info.frames for p, info in zip(paths, infos, strict=True)}
        if len(set(lengths.values())) > 1:
            raise DatasetError(
                f"mixture {mid} in {self.folder}: files have different lengths {lengths} "
                "(mix and sources must match sample for sample); rebuild the split")
        chans, start, stop = self._choices(index, infos[0].frames)
        audio = []
        for p in paths:
            data = read_corpus_wav(p, start, stop)
            audio.append(np.ascontiguousarray(data.T[list(chans)]))
        item = {"id": mid, "index": index, "mix": torch.from_numpy(audio[0])}
        if self.return_sources:
            item["sources"] = torch.from_numpy(np.stack(audio[1:]))
        return item


def collate_mixtures(batch: Sequence[dict]) -> dict:
    """Batch items of different lengths by zero padding at the end.

    Parameters
    ----------
    batch : sequence of items from :class:`MixtureDataset`

    Returns
    -------
    dict
        ``mix`` (batch, channels, samples), ``sources`` (batch, n_speakers, channels, samples)
        if the items have them, ``lengths`` (batch,) int64 (valid samples per item), ``ids``
        (list of str), ``index`` (batch,) int64.
    """
    if not batch:
        raise ValueError("cannot collate an empty batch")
    lengths = torch.tensor([item["mix"].shape[-1] for item in batch], dtype=torch.int64)
    longest = int(lengths.max())

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, longest - x.shape[-1]))

    out = {
        "mix": torch.stack([pad(item["mix"]) for item in batch]),
        "lengths": lengths,
        "ids": [item["id"] for item in batch],
        "index": torch.tensor([item["index"] for item in batch], dtype=torch.int64),
    }
    if all("sources" in item for item in batch):
        out["sources"] = torch.stack([pad(item["sources"]) for item in batch])
    return out
