"""The spatial stage split over ranks: shards joined by rank 0 give exactly one process's stage."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from bootsep_lib.config import get_profile
from bootsep_lib.engine.distributed import every_rank
from bootsep_lib.studies import spatial_stage, spatial_stage_shard
from bootsep_lib.studies.spatial_shards import read_shards, shard_path

stage_mod = importlib.import_module("bootsep_lib.studies.spatial_stage")  # not the function


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.bank.keys() == b.bank.keys()
    for k in a.bank:
        np.testing.assert_array_equal(a.bank[k], b.bank[k])


@pytest.fixture
def reference(smoke_data, tmp_path, monkeypatch):
    """The cv stage computed by one process, in a cache of its own."""
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path / "one"))
    stage = spatial_stage(get_profile("smoke"), "cv", progress=False)
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path / "ranks"))
    return stage


def test_shards_of_two_ranks_join_into_the_one_process_stage(reference, monkeypatch):
    profile = get_profile("smoke")
    paths = [spatial_stage_shard(profile, "cv", r, 2, progress=False) for r in (0, 1)]
    n = len(reference.table)
    held = read_shards(paths[0].parent.parent, "cv", n)
    assert sorted(held) == list(range(n))  # the two shards cover the split, each mixture once
    assert {i % 2 for i in read_shards(paths[1].parent.parent, "cv", n)} == {0, 1}

    def fail(*args, **kwargs):
        raise AssertionError("a mixture held by a shard was computed again")

    monkeypatch.setattr(stage_mod, "_stage_worker", fail)
    joined = spatial_stage(profile, "cv", progress=False)
    _assert_same(joined, reference)
    assert not any(p.exists() for p in paths)  # shards go once the stage is written
    assert spatial_stage_shard(profile, "cv", 1, 2) is None  # nothing left to share


def test_a_missing_shard_is_computed_by_the_joining_rank(reference):
    profile = get_profile("smoke")
    spatial_stage_shard(profile, "cv", 1, 3, progress=False)  # ranks 0 and 2 never ran
    _assert_same(spatial_stage(profile, "cv", progress=False), reference)


def test_a_damaged_shard_is_recomputed_not_trusted(reference):
    profile = get_profile("smoke")
    path = spatial_stage_shard(profile, "cv", 0, 2, progress=False)
    path.write_bytes(path.read_bytes()[:50])
    _assert_same(spatial_stage(profile, "cv", progress=False), reference)


def test_shard_ranks_are_checked(tmp_path):
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        shard_path(tmp_path, "cv", 2, 2)


def test_every_rank_without_a_process_group_is_one_call():
    calls = []
    assert every_rank(lambda r, w: calls.append((r, w)) or "done") == "done"
    assert calls == [(0, 1)]
