"""The loader, on a tiny tree written in the real spatialized wsj0-2mix layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bootsep_lib.data import (
    DatasetError,
    MixtureDataset,
    collate_mixtures,
    split_status,
    subset_dir,
)

RATE = 8000
LENGTHS = {"a01c0201_1.2_b02c0302_-1.2": 900, "a03c0401_0.5_b04c0502_-0.5": 1300,
           "a05c0601_2.0_b06c0702_-2.0": 700}


def _write(path: Path, audio: np.ndarray, rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T, rate, subtype="FLOAT")


def _sources(length: int, seed: int) -> np.ndarray:
    """(2, 8, samples): channel c of source s is noise plus an offset 10*s + c, identifiable."""
    rng = np.random.default_rng(seed)
    offset = (10 * np.arange(2)[:, None] + np.arange(8)[None, :])[..., None]
    return (0.01 * rng.standard_normal((2, 8, length)) + offset / 100).astype(np.float32)


def _real_layout(root: Path, split: str = "tt") -> Path:
    """A foreign tree: 8-channel wavs, no metadata, sidecars or marker."""
    folder = subset_dir(root, 2, "anechoic", RATE) / split
    for seed, (mid, n) in enumerate(LENGTHS.items()):
        src = _sources(n, seed)
        _write(folder / "s1" / f"{mid}.wav", src[0])
        _write(folder / "s2" / f"{mid}.wav", src[1])
        _write(folder / "mix" / f"{mid}.wav", src[0] + src[1])
    return folder


@pytest.fixture()
def real_root(tmp_path):
    _real_layout(tmp_path)
    return tmp_path


def test_layout_path():
    assert subset_dir("/x", 3, "reverb", 16000) == Path("/x/3speakers_reverb/wav16k/min")
    with pytest.raises(ValueError):
        subset_dir("/x", 2, "echoic", 8000)


def test_reads_foreign_data_with_the_reference_channel(real_root):
    ds = MixtureDataset(real_root, "tt")
    assert split_status(ds.folder) == "foreign"
    assert len(ds) == 3 and ds.ids == sorted(LENGTHS)
    for i, mid in enumerate(ds.ids):
        item = ds[i]
        assert item["id"] == mid and item["index"] == i
        assert item["mix"].dtype == torch.float32 and item["mix"].shape == (1, LENGTHS[mid])
        assert item["sources"].shape == (2, 1, LENGTHS[mid])
        file_mix, _ = sf.read(str(ds.folder / "mix" / f"{mid}.wav"), dtype="float32")
        np.testing.assert_array_equal(item["mix"][0].numpy(), file_mix[:, 0])
        torch.testing.assert_close(item["sources"].sum(0), item["mix"])
    assert list(ds.load_metadata()["id"]) == ds.ids
    only_mix = MixtureDataset(real_root, "tt", return_sources=False)[0]
    assert "sources" not in only_mix


def test_channel_tuple(real_root):
    item = MixtureDataset(real_root, "tt", channels=(0, 5, 7))[0]
    assert item["sources"].shape[1] == 3
    means = item["sources"].mean(-1).numpy()
    np.testing.assert_allclose(means, [[0.0, 0.05, 0.07], [0.10, 0.15, 0.17]], atol=3e-3)


def _pair(item) -> int:
    """Which channel was drawn, from the offsets written by _sources."""
    return int(round(float(item["sources"][0, 1].mean()) * 100))


def test_train_pair_is_reference_plus_mic_2_to_4_and_deterministic(real_root):
    ds = MixtureDataset(real_root, "tt", channels="train_pair", seed=3)
    drawn = []
    for epoch in range(12):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert item["mix"].shape[0] == 2
            assert abs(float(item["sources"][0, 0].mean())) < 3e-3  # channel 0 first
            k = _pair(item)
            assert k in (1, 2, 3)
            assert _pair(ds[i]) == k  # same (seed, epoch, index), same pair
            drawn.append(k)
    assert set(drawn) == {1, 2, 3}


def test_crops_are_bounded_deterministic_and_match_the_files(real_root):
    ds = MixtureDataset(real_root, "tt", crop_samples=800, seed=1, channels=(0, 1))
    starts = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        for i, mid in enumerate(ds.ids):
            item = ds[i]
            n = min(800, LENGTHS[mid])
            assert item["mix"].shape == (2, n)
            torch.testing.assert_close(ds[i]["mix"], item["mix"])
            full, _ = sf.read(str(ds.folder / "mix" / f"{mid}.wav"), dtype="float32")
            x = item["mix"][0].numpy()
            start = next(s for s in range(LENGTHS[mid] - n + 1)
                         if np.array_equal(full[s : s + n, 0], x))
            if LENGTHS[mid] > 800:
                starts.add(start)
    assert len(starts) > 1


def test_collate_pads_and_reports_lengths(real_root):
    ds = MixtureDataset(real_root, "tt", channels="train_pair")
    batch = collate_mixtures([ds[i] for i in range(len(ds))])
    n = [LENGTHS[m] for m in ds.ids]
    assert batch["mix"].shape == (3, 2, max(n))
    assert batch["sources"].shape == (3, 2, 2, max(n))
    assert batch["lengths"].tolist() == n and batch["ids"] == ds.ids
    assert batch["index"].tolist() == [0, 1, 2]
    for b, length in enumerate(n):
        assert not torch.any(batch["mix"][b, :, length:])
        torch.testing.assert_close(batch["mix"][b, :, :length], ds[b]["mix"])


def test_error_wrong_root(tmp_path):
    with pytest.raises(DatasetError, match="does not exist.*make-data"):
        MixtureDataset(tmp_path / "nowhere", "tt")


def test_error_missing_split_names_path_and_fix(real_root):
    with pytest.raises(DatasetError, match=r"cv.*make-data") as err:
        MixtureDataset(real_root, "cv")
    assert "2speakers_anechoic/wav8k/min/tt" in str(err.value)  # lists what is there
    with pytest.raises(DatasetError, match="make-data"):
        MixtureDataset(real_root, "tt", n_speakers=3)


def test_error_incomplete_split(real_root):
    folder = subset_dir(real_root, 2, "anechoic", RATE) / "tt"
    (folder / "sidecars").mkdir()
    (folder / "sidecars" / "tt_000000.json").write_text("{}")
    with pytest.raises(DatasetError, match="incomplete.*interrupted"):
        MixtureDataset(real_root, "tt")
    (folder / ".complete").write_text("{}")
    assert len(MixtureDataset(real_root, "tt")) == 3


def test_error_too_few_channels(tmp_path):
    folder = subset_dir(tmp_path, 2, "anechoic", RATE) / "tt"
    for name in ("mix", "s1", "s2"):
        _write(folder / name / "x.wav", np.ones((1, 100), dtype=np.float32))
    assert MixtureDataset(tmp_path, "tt")[0]["mix"].shape == (1, 100)
    with pytest.raises(DatasetError, match="1 channel.*at least 2"):
        MixtureDataset(tmp_path, "tt", channels=(0, 1))
    with pytest.raises(DatasetError, match="at least 4"):
        MixtureDataset(tmp_path, "tt", channels="train_pair")


def test_error_mismatched_lengths(real_root):
    folder = subset_dir(real_root, 2, "anechoic", RATE) / "tt"
    mid = sorted(LENGTHS)[1]
    _write(folder / "s2" / f"{mid}.wav", np.zeros((8, 10), dtype=np.float32))
    ds = MixtureDataset(real_root, "tt")
    with pytest.raises(DatasetError, match=f"{mid}.*different lengths"):
        ds[1]


def test_error_wrong_sample_rate(tmp_path):
    folder = subset_dir(tmp_path, 2, "anechoic", RATE) / "tt"
    for name in ("mix", "s1", "s2"):
        _write(folder / name / "x.wav", np.ones((8, 100), dtype=np.float32), rate=16000)
    with pytest.raises(DatasetError, match="16000 Hz.*sample_rate=8000"):
        MixtureDataset(tmp_path, "tt")


def test_error_missing_source_file(real_root):
    folder = subset_dir(real_root, 2, "anechoic", RATE) / "tt"
    (folder / "s1" / f"{sorted(LENGTHS)[2]}.wav").unlink()
    with pytest.raises(DatasetError, match="missing"):
        MixtureDataset(real_root, "tt")[2]
