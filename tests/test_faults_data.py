"""Faults on the data side (issue 14): damaged caches and corpus files, concurrent builders,
durability (fsync, file modes) and temporary files a killed run left behind."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from bootsep_lib import runall
from bootsep_lib.config import DataConfig, ModelConfig, TrainConfig, get_profile
from bootsep_lib.data import DatasetError, MixtureDataset, build_subset, split_dir
from bootsep_lib.data.training_set import TrainingSet
from bootsep_lib.dsp import write_audio
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.engine import checkpoint as ckpt_io
from bootsep_lib.util import cached_table, folder_lock
from bootsep_lib.util.cache import CacheWarning

stage_mod = importlib.import_module("bootsep_lib.studies.spatial_stage")  # the package
# exports the function under the module's name

REPO = Path(__file__).resolve().parents[1]
RATE = 8000
DATA = DataConfig(
    subsets=((2, "anechoic", RATE),), n_train=3, n_valid=2, n_test=2, speakers_train=4,
    speakers_valid=2, speakers_test=2, utterances_per_speaker=2, words_per_utterance=(3, 5),
)
SPLIT = "tt"


def _build(root: Path) -> Path:
    return build_subset(DATA, 2, "anechoic", RATE, SPLIT, root=root, jobs=1, progress=False)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One split built once, copied by the tests that damage it."""
    root = tmp_path_factory.mktemp("reference")
    _build(root)
    return root


@pytest.fixture()
def corpus(reference, tmp_path) -> Path:
    root = tmp_path / "corpus"
    shutil.copytree(reference, root)
    return root


def _dead_pid() -> int:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


# -- 7: a damaged spatial-stage cache entry is named and recomputed -------------------------
@pytest.mark.parametrize("damage", ["empty", "cut_short", "table_emptied"])
def test_damaged_label_bank_is_named_and_recomputed(smoke_data, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path))
    profile = get_profile("smoke")
    first = stage_mod.spatial_stage(profile, "cv", limit=2, progress=False)
    labels = np.array(first.bank["labels"])
    target = first.folder / ("cv.csv" if damage == "table_emptied" else "cv_labels.npy")
    raw = target.read_bytes()
    target.write_bytes(raw[: len(raw) // 2] if damage == "cut_short" else b"")
    with pytest.warns(CacheWarning, match=f"{first.folder}.*damaged.*recomputing"):
        again = stage_mod.spatial_stage(profile, "cv", limit=2, progress=False)
    np.testing.assert_array_equal(np.array(again.bank["labels"]), labels)
    pd.testing.assert_frame_equal(again.table, first.table)
    assert target.read_bytes() == raw


# -- 11: NaN samples and empty metadata are clear errors naming the file --------------------
def test_nan_sample_is_a_dataset_error_naming_the_file(corpus):
    folder = split_dir(corpus, 2, "anechoic", RATE, SPLIT)
    ds = MixtureDataset(corpus, SPLIT, sample_rate=RATE)
    bad = folder / "s2" / f"{ds.ids[1]}.wav"
    data, rate = sf.read(bad, dtype="float32")
    data[100, 0] = np.nan
    sf.write(bad, data, rate, subtype="FLOAT", format="WAV")
    ds[0]  # the other mixtures still read
    with pytest.raises(DatasetError, match=rf"{bad}.*NaN.*sample 100.*make-data"):
        ds[1]
    training = TrainingSet.__new__(TrainingSet)  # its reader goes through the same check
    training.folder = folder
    with pytest.raises(DatasetError, match=rf"{bad}.*NaN"):
        training._read("s2", ds.ids[1])


@pytest.mark.parametrize("content", ["", "id,speakers\n"])
def test_empty_metadata_is_a_dataset_error_and_the_fix_works(corpus, content):
    folder = split_dir(corpus, 2, "anechoic", RATE, SPLIT)
    table = folder / "metadata.csv"
    good = table.read_bytes()
    table.write_text(content)
    with pytest.raises(DatasetError, match=rf"{table}.*make-data"):
        MixtureDataset(corpus, SPLIT, sample_rate=RATE)
    table.unlink()  # the advice: delete it and rerun make-data
    _build(corpus)
    assert table.read_bytes() == good
    assert len(MixtureDataset(corpus, SPLIT, sample_rate=RATE)) == DATA.n_test


# -- 12: two builders of one split --------------------------------------------------------
_BUILDER = """
import sys
from bootsep_lib.config import DataConfig
from bootsep_lib.data import build_subset
data = DataConfig(subsets=((2, "anechoic", 8000),), n_train=3, n_valid=2, n_test=2,
                  speakers_train=4, speakers_valid=2, speakers_test=2,
                  utterances_per_speaker=2, words_per_utterance=(3, 5))
build_subset(data, 2, "anechoic", 8000, "tt", root=sys.argv[1], jobs=1, progress=False)
"""


def _builder(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", _BUILDER, str(root)], env=env,
                            stderr=subprocess.PIPE, text=True)


def test_two_concurrent_builders_both_succeed_with_the_same_bytes(reference, tmp_path):
    procs = [_builder(tmp_path), _builder(tmp_path)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert _files(tmp_path) == _files(reference)  # no lock file or temp file left either


def test_second_builder_waits_for_the_lock_holder_and_says_who(reference, tmp_path):
    folder = split_dir(tmp_path, 2, "anechoic", RATE, SPLIT)
    with folder_lock(folder) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        proc = _builder(tmp_path)
        line = proc.stderr.readline()  # blocks until the builder reports it is waiting
        assert f"being written by process {os.getpid()}" in line and str(folder) in line
        assert not (folder / ".complete").exists() and proc.poll() is None
    proc.communicate()
    assert proc.returncode == 0
    assert _files(tmp_path) == _files(reference)


# -- durability: fsync before the rename of the files that mark completion ----------------
@pytest.fixture()
def fsynced(monkeypatch) -> list[str]:
    """Names of the files and folders passed to ``os.fsync`` (recorded, then synced)."""
    names: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        names.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return names


def _synced_before_rename(names: list[str], final: str) -> bool:
    return any(n.startswith(f".{final}.") and n.endswith(".tmp") for n in names)


def test_completion_files_are_fsynced_before_their_rename(tmp_path, fsynced):
    _build(tmp_path / "corpus")
    assert _synced_before_rename(fsynced, ".complete")
    assert _synced_before_rename(fsynced, "metadata.csv")
    assert SPLIT in fsynced  # the split folder, after the rename
    train_model(_run(), _Items(6, 0), _Items(3, 1), cache_dir=tmp_path / "cache", progress=False)
    assert _synced_before_rename(fsynced, "last.pt") and _synced_before_rename(fsynced, "done")
    runall.write_manifest(tmp_path / "figures", get_profile("smoke"), [])
    assert _synced_before_rename(fsynced, "manifest.json")


# -- durability: every writer honours the umask -------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_are_created_with_the_umask(tmp_path, monkeypatch, umask):
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path / "cache"))
    old = os.umask(umask)
    try:
        _build(tmp_path / "corpus")
        write_audio(tmp_path / "out" / "s1.wav", np.zeros((1, 80)), RATE)
        run = _run()
        ckpt_io.save_best(tmp_path / "best.pt", run, torch.nn.Linear(2, 2), 1, 0.5, None)
        stage_mod._save_npy(tmp_path / "bank.npy", np.zeros(3))
        cached_table(tmp_path / "eval.csv", lambda: pd.DataFrame({"a": [1]}))
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in files} == {
        str(p): oct(0o666 & ~umask) for p in files}


# -- hygiene: temporary files of killed runs outside split folders are swept --------------
def test_stale_temp_files_are_swept_from_utterance_cache_and_run_dir(tmp_path):
    dead = _dead_pid()
    stale_utt = tmp_path / "corpus" / "utterances" / "x" / f".000.wav.{dead}-0.tmp"
    run = _run()
    stale_ckpt = tmp_path / "cache" / "models" / run.run_id / f".last.pt.{dead}-4.tmp"
    for stale in (stale_utt, stale_ckpt):
        stale.parent.mkdir(parents=True)
        stale.write_bytes(b"half")
    _build(tmp_path / "corpus")
    assert not stale_utt.exists()
    train_model(run, _Items(6, 0), _Items(3, 1), cache_dir=tmp_path / "cache", progress=False)
    assert not stale_ckpt.exists()


# -- helpers for the training runs above ----------------------------------------------------
N_FREQS = 9


class _Items(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        feats = [rng.normal(size=(20, N_FREQS)).astype(np.float32) for _ in range(n)]
        self.items = [{"features": f, "labels": (f > 0).astype(np.int64),
                       "weights": np.full_like(f, 1.0 / f.size)} for f in feats]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.items[index]


def _run() -> RunConfig:
    return RunConfig(model=ModelConfig(layers=1, units=4, embedding_dim=3, dropout=0.0),
                     train=TrainConfig(batch_size=3, crop_frames=16, epochs=1, seed=0),
                     n_freqs=N_FREQS, data_tag=json.dumps("faults-test"))
