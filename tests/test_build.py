"""Building the corpus: layout, determinism, resuming, metadata that matches the audio."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.signal import correlate, correlation_lags

from bootsep_lib.config import DataConfig
from bootsep_lib.data import (
    SPEED_OF_SOUND,
    SPLITS,
    MixtureDataset,
    build_all,
    build_subset,
    spatialize_folder,
    split_dir,
    split_status,
)

RATE = 8000
DATA = DataConfig(
    subsets=((2, "anechoic", RATE),), n_train=3, n_valid=2, n_test=2, speakers_train=4,
    speakers_valid=2, speakers_test=2, utterances_per_speaker=2, words_per_utterance=(3, 5),
)


def _stable_bytes(path: Path) -> bytes:
    """File bytes, with the wall-clock timestamp of libsndfile's WAV ``PEAK`` chunk zeroed."""
    raw = bytearray(path.read_bytes())
    if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        pos = 12
        while pos + 8 <= len(raw):
            chunk, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
            if chunk == b"PEAK":
                raw[pos + 12 : pos + 16] = b"\0\0\0\0"
            pos += 8 + size + (size & 1)
    return bytes(raw)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): _stable_bytes(p) for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    build_all(DATA, root=root, jobs=1, progress=False)
    return root


def _split(root: Path, split: str, condition: str = "anechoic") -> Path:
    return split_dir(root, 2, condition, RATE, split)


def _metadata(root: Path, split: str, condition: str = "anechoic") -> pd.DataFrame:
    ds = MixtureDataset(root, split, condition=condition)
    return ds.load_metadata()


def test_layout_and_metadata(built):
    for split, n in zip(SPLITS, (3, 2, 2), strict=True):
        folder = _split(built, split)
        assert split_status(folder) == "complete"
        meta = _metadata(built, split)
        assert list(meta["id"]) == [f"{split}_{i:06d}" for i in range(n)]
        for mid in meta["id"]:
            for name in ("mix", "s1", "s2"):
                info = sf.info(str(folder / name / f"{mid}.wav"))
                assert info.channels == 8 and info.samplerate == RATE
                assert info.subtype == "PCM_16"  # the default sample_format (was FLOAT)
        for col in ("speakers", "texts", "levels_db", "azimuths", "distances", "mic_positions",
                    "array_radius", "room_dims", "t60_requested", "t60_measured", "seed",
                    "duration_s"):
            assert col in meta
        assert all(len(t) == 2 and all(t) for t in meta["texts"])
        assert np.array(meta["mic_positions"][0]).shape == (3, 8)


def test_same_seed_same_bytes_whatever_the_jobs(built, tmp_path):
    # The dry utterances are shared through the cache: eSpeak's breathy variants are not
    # bit-reproducible between processes, everything downstream of the cache must be.
    shutil.copytree(built / "utterances", tmp_path / "utterances")
    build_all(DATA, root=tmp_path, jobs=2, progress=False)
    assert _tree(tmp_path) == _tree(built)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.wav")}
    build_all(DATA, root=tmp_path, jobs=1, progress=False)  # finished: a no-op
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.wav")} == before


def test_speaker_disjoint_splits(built):
    speakers = {s: set(sum(_metadata(built, s)["speakers"], [])) for s in SPLITS}
    assert speakers["tr"] and speakers["cv"] and speakers["tt"]
    assert not speakers["tr"] & speakers["cv"]
    assert not speakers["tr"] & speakers["tt"]
    assert not speakers["cv"] & speakers["tt"]
    for meta in map(lambda s: _metadata(built, s), SPLITS):
        assert all(len(set(pair)) == 2 for pair in meta["speakers"])


def test_mix_is_the_sum_of_the_sources_and_peaks_at_0_9(built):
    for split in SPLITS:
        ds = MixtureDataset(built, split, channels=tuple(range(8)))
        for i in range(len(ds)):
            item = ds[i]
            diff = (item["mix"] - item["sources"].sum(0)).abs().max()
            assert float(diff) < 1e-6
            # 16-bit quantisation: each source rounds by at most half a step of 1 / 32768
            assert abs(float(item["mix"].abs().max()) - 0.9) < 2 * 0.5 / 32768 + 1e-7


def test_pcm16_mix_is_exactly_the_sum_of_the_read_sources(built):
    for split in SPLITS:
        folder = _split(built, split)
        for mid in _metadata(built, split)["id"]:
            mix, _ = sf.read(str(folder / "mix" / f"{mid}.wav"), dtype="float32")
            s1, _ = sf.read(str(folder / "s1" / f"{mid}.wav"), dtype="float32")
            s2, _ = sf.read(str(folder / "s2" / f"{mid}.wav"), dtype="float32")
            assert np.array_equal(mix, s1 + s2)


def _read(root: Path, split: str, name: str, mid: str) -> np.ndarray:
    return sf.read(str(_split(root, split) / name / f"{mid}.wav"), dtype="float64")[0]


@pytest.mark.parametrize("storage", [("float32", None), ("pcm16", (0, 2, 5))])
def test_float32_and_channel_subsets_store_the_same_mixtures(built, tmp_path, storage):
    sample_format, channels = storage
    shutil.copytree(built / "utterances", tmp_path / "utterances")
    data = dataclasses.replace(DATA, n_train=1, n_valid=1, n_test=1,
                               sample_format=sample_format, channels=channels)
    build_all(data, root=tmp_path, jobs=1, progress=False)
    meta = _metadata(tmp_path, "tr")
    keep = list(channels or range(8))
    assert meta["mics"][0] == keep and meta["sample_format"][0] == sample_format
    full = _metadata(built, "tr")
    assert np.array_equal(np.array(meta["mic_positions"][0]),
                          np.array(full["mic_positions"][0])[:, keep])
    for name in ("mix", "s1", "s2"):
        info = sf.info(str(_split(tmp_path, "tr") / name / "tr_000000.wav"))
        assert info.subtype == ("FLOAT" if sample_format == "float32" else "PCM_16")
        assert info.channels == len(keep)
        ours, ref = _read(tmp_path, "tr", name, "tr_000000"), _read(built, "tr", name,
                                                                    "tr_000000")[:, keep]
        if sample_format == "pcm16":
            assert np.array_equal(ours, ref)  # the same mics of the same mixture, bit for bit
        else:  # float32 vs its 16-bit rounding: at most one step per source
            assert np.max(np.abs(ours - ref)) <= 1 / 32768 + 1e-9
            assert np.max(np.abs(ours - ref)) > 0


def test_bad_storage_options_are_clear_errors(tmp_path):
    for bad, match in ((dict(sample_format="pcm24"), "sample_format"),
                       (dict(channels=(0, 8)), "channels"), (dict(channels=(1, 1)), "channels")):
        with pytest.raises(ValueError, match=match):
            build_all(dataclasses.replace(DATA, **bad), root=tmp_path, progress=False)


def test_recorded_levels_match_the_audio(built):
    for split in SPLITS:
        ds = MixtureDataset(built, split)
        meta = ds.load_metadata()
        for i in range(len(ds)):
            src = ds[i]["sources"][:, 0].double().numpy()
            measured = 10 * np.log10(np.mean(src[0] ** 2) / np.mean(src[1] ** 2))
            levels = meta["levels_db"][i]
            assert measured == pytest.approx(levels[0] - levels[1], abs=0.01)
            assert 0.0 <= levels[0] - levels[1] <= 5.0


def test_inter_mic_delays_match_the_geometry(built):
    ds = MixtureDataset(built, "tr", channels=(0, 1, 2, 3))
    meta = ds.load_metadata()
    for i in range(len(ds)):
        s1 = ds[i]["sources"][0].double().numpy()
        mics = np.array(meta["mic_positions"][i])
        src = np.array(meta["source_positions"][i][0])
        dist = np.linalg.norm(mics - src[:, None], axis=0)
        for k in (1, 2, 3):
            xc = correlate(s1[k], s1[0], mode="full")
            lags = correlation_lags(len(s1[k]), len(s1[0]), mode="full")
            measured = lags[int(np.argmax(xc))]
            assert abs(measured - (dist[k] - dist[0]) / SPEED_OF_SOUND * RATE) <= 1.0
        direction = src - np.array(meta["array_center"][i])
        assert meta["azimuths"][i][0] == pytest.approx(
            np.degrees(np.arctan2(direction[1], direction[0])))
        assert meta["distances"][i][0] == pytest.approx(np.linalg.norm(direction))


def test_resume_redoes_only_the_broken_mixture(built, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built, root)
    folder = _split(root, "tr")
    reference = _tree(root)
    (folder / "mix" / "tr_000001.wav").unlink()
    (folder / ".complete").unlink()
    gone = subprocess.Popen([sys.executable, "-c", ""])  # a writer that has exited
    gone.wait()
    stray = folder / "s1" / f".tr_000002.wav.{gone.pid}-0.tmp"
    stray.write_bytes(b"half a file")
    assert split_status(folder) == "incomplete"
    mtimes = {p: p.stat().st_mtime_ns for p in folder.rglob("*.wav")}
    build_subset(DATA, 2, "anechoic", RATE, "tr", root=root, progress=False)
    assert not stray.exists()
    changed = {p.relative_to(folder).as_posix() for p in folder.rglob("*.wav")
               if mtimes.get(p) != p.stat().st_mtime_ns}
    assert changed == {"mix/tr_000001.wav", "s1/tr_000001.wav", "s2/tr_000001.wav"}
    assert _tree(root) == reference
    assert split_status(folder) == "complete"


def test_reverb_shares_the_anechoic_scenes_and_hits_its_t60(built, tmp_path):
    shutil.copytree(built / "utterances", tmp_path / "utterances")
    data = dataclasses.replace(DATA, subsets=((2, "reverb", RATE),), n_train=2)
    build_subset(data, 2, "reverb", RATE, "tr", root=tmp_path, progress=False)
    rev = _metadata(tmp_path, "tr", "reverb")
    ane = _metadata(built, "tr").iloc[:2]
    for col in ("speakers", "texts", "levels_db", "mic_positions", "source_positions"):
        assert list(rev[col]) == list(ane[col])
    for target, measured in zip(rev["t60_requested"], rev["t60_measured"], strict=True):
        assert 0.2 <= target <= 0.6
        assert abs(measured - target) <= max(0.2 * target, 0.08)
    ds = MixtureDataset(tmp_path, "tr", condition="reverb", channels=(0, 7))
    item = ds[0]
    assert float((item["mix"] - item["sources"].sum(0)).abs().max()) < 1e-6


def test_spatialize_folder(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(6000) / 16000
    for s in range(6):
        for u in range(2):
            f0 = 100 + 30 * s + 7 * u
            wav = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 8))
            wav = wav * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(6000)
            path = tmp_path / "speech" / f"spk{s}" / f"utt{u}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), (0.3 * wav).astype(np.float32), 16000)
    out = spatialize_folder(tmp_path / "speech", tmp_path / "out", RATE, (2, 1, 1),
                                      seed=1, progress=False)
    assert out == tmp_path / "out" / "2speakers_anechoic" / "wav8k" / "min"
    speakers = {}
    for split in SPLITS:
        ds = MixtureDataset(tmp_path / "out", split, channels=(0, 3))
        meta = ds.load_metadata()
        speakers[split] = set(sum(meta["speakers"], []))
        assert all(f.endswith(".wav") for pair in meta["files"] for f in pair)
        item = ds[0]
        assert float((item["mix"] - item["sources"].sum(0)).abs().max()) < 1e-6
    assert not speakers["tr"] & speakers["cv"] and not speakers["cv"] & speakers["tt"]
    assert not speakers["tr"] & speakers["tt"]
    record = json.loads(next((out / "tr" / "sidecars").glob("*.json")).read_text())
    assert record["condition"] == "anechoic" and record["sample_rate"] == RATE


def test_too_few_speakers_is_a_clear_error(tmp_path):
    data = dataclasses.replace(DATA, speakers_valid=1)
    with pytest.raises(ValueError, match="speakers"):
        build_subset(data, 2, "anechoic", RATE, "cv", root=tmp_path, progress=False)
