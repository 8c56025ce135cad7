"""TrainingSet items: documented layout, and kept-in-memory items bitwise equal to computed ones."""

from __future__ import annotations

import pickle

import pytest
import torch

from bootsep_lib.config import get_profile
from bootsep_lib.data.training_set import TrainingSet


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", [{"targets": "ground_truth", "with_sources": True},
                                  {"targets": "spatial", "alpha": 1.0}])
def test_kept_items_equal_computed_items(smoke_data, kind):
    profile = get_profile("smoke")
    kept = TrainingSet(profile, "cv", **kind)
    fresh = TrainingSet(profile, "cv", memory_mb=0, **kind)
    for _ in range(2):  # first pass computes and keeps, second pass reads the kept items
        for i in range(len(kept)):
            item = kept[i]
            assert _same(item, fresh[i])
            assert item["labels"].dtype == torch.int64 and item["features"].dtype == torch.float32
            frames, freqs = item["features"].shape
            assert item["labels"].shape == item["weights"].shape == (frames, freqs)
    assert len(kept._kept) == len(kept) and not fresh._kept


def test_memory_budget_and_pickling(smoke_data):
    profile = get_profile("smoke")
    one = TrainingSet(profile, "cv")[0]
    item_mib = sum(t.numel() * (1 if k == "labels" else t.element_size())
                   for k, t in one.items()) / 2**20
    ds = TrainingSet(profile, "cv", memory_mb=2.5 * item_mib)
    for i in range(len(ds)):
        ds[i]
    assert 1 <= len(ds._kept) <= 2 and ds._kept_bytes <= 2.5 * item_mib * 2**20
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._kept == {} and clone._kept_bytes == 0 and len(clone) == len(ds)
    assert _same(clone[3], ds[3])


def test_train_many_longest_first_results_in_order(smoke_data, tmp_path):
    import dataclasses

    from bootsep_lib.studies.training import ModelJob, _training_cost, run_config, train_many

    profile = get_profile("smoke")
    train_set, valid_set = TrainingSet(profile, "tr"), TrainingSet(profile, "cv")
    short = TrainingSet(profile, "tr", limit=4)
    base = run_config(profile, train_set)
    jobs = [ModelJob(dataclasses.replace(run_config(profile, short),
                                         train=dataclasses.replace(base.train, epochs=1)),
                     short, valid_set),
            ModelJob(base, train_set, valid_set)]
    assert _training_cost(jobs[1]) > _training_cost(jobs[0])
    results = train_many(jobs, jobs=2, cache_dir=tmp_path, progress=False)
    assert [r.run_dir.name for r in results] == [j.run.run_id for j in jobs]
    assert [len(r.history) for r in results] == [1, len(results[1].history)]
    assert (results[1].steps, results[1].stop_reason) == (base.train.max_steps, "max_steps")
