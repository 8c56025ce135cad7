"""The item bank: items computed once into memory-mapped chunks read back bitwise, by any rank."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import torch

from bootsep_lib.config import get_profile
from bootsep_lib.data import item_bank
from bootsep_lib.data.item_bank import (
    ItemBank,
    build_item_bank,
    item_bank_folder,
    open_item_bank,
    use_item_banks,
)
from bootsep_lib.data.training_set import TrainingSet


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def small_chunks(smoke_data, tmp_path, monkeypatch):
    """Chunks of 3 items (the smoke sets then span several), in a cache of this test's own."""
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path))
    monkeypatch.setattr(item_bank, "CHUNK_ITEMS", 3)


@pytest.mark.parametrize("kind", [{"targets": "ground_truth", "with_sources": True},
                                  {"targets": "spatial", "alpha": 1.0}])
def test_bank_items_equal_computed_items(small_chunks, kind):
    profile = get_profile("smoke")
    banked = TrainingSet(profile, "cv", **kind)
    fresh = TrainingSet(profile, "cv", memory_mb=0, **kind)
    use_item_banks([banked], jobs=2, progress=False)
    assert len(list(item_bank_folder(banked).glob("*-offsets.npy"))) == -(-len(banked) // 3)
    clone = pickle.loads(pickle.dumps(banked))  # as a DataLoader worker gets it
    for i in range(len(banked)):
        assert _same(banked[i], fresh[i]) and _same(clone[i], fresh[i])
    assert not banked._kept  # nothing is kept in the process: the page cache holds the bank


def test_ranks_build_their_chunks_and_a_missing_chunk_is_named(small_chunks):
    profile = get_profile("smoke")
    ds = TrainingSet(profile, "cv")
    folder = build_item_bank(ds, rank=1, world=2, progress=False)
    built = sorted(int(p.name.split("-")[0]) for p in folder.glob("*-offsets.npy"))
    assert built and all(k % 2 == 1 for k in built)
    with pytest.raises(FileNotFoundError, match="chunk 0 of"):
        ItemBank(folder, len(ds))
    build_item_bank(ds, rank=0, world=2, progress=False)
    bank = open_item_bank(ds)
    assert _same(bank.item(len(ds) - 1), ds.compute_kept(len(ds) - 1))


def test_other_targets_get_another_bank(small_chunks):
    profile = get_profile("smoke")
    gt, spatial = TrainingSet(profile, "cv"), TrainingSet(profile, "cv", targets="spatial")
    assert item_bank_folder(gt) != item_bank_folder(spatial)


def test_training_from_the_bank_gives_the_same_model(small_chunks, tmp_path):
    from bootsep_lib.studies.training import ModelJob, run_config, train_many

    profile = get_profile("smoke")
    sets = TrainingSet(profile, "tr", limit=8), TrainingSet(profile, "cv")
    run = run_config(profile, sets[0])
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, epochs=2))
    banked = dataclasses.replace(run, train=dataclasses.replace(run.train, item_bank=True))
    assert banked.run_id == run.run_id  # how items are loaded is not part of a model's id
    plain = train_many([ModelJob(run, *sets)], cache_dir=tmp_path / "a", progress=False)[0]
    fresh = TrainingSet(profile, "tr", limit=8), TrainingSet(profile, "cv")
    from_bank = train_many([ModelJob(banked, *fresh)], cache_dir=tmp_path / "b",
                           progress=False)[0]
    assert fresh[0]._items is not None  # the job read its items from the bank
    assert len(plain.history) == 2
    assert from_bank.history["train_loss"].tolist() == plain.history["train_loss"].tolist()
    assert from_bank.history["valid_loss"].tolist() == plain.history["valid_loss"].tolist()
