"""Profiles are data: lookups, overrides and hashes."""

from __future__ import annotations

import pytest

from bootsep_lib.config import PROFILES, config_hash, get_profile


def test_three_profiles_exist_and_scale_up():
    smoke, laptop, paper = (get_profile(n) for n in ("smoke", "laptop", "paper"))
    assert smoke.data.n_train < laptop.data.n_train < paper.data.n_train
    assert (paper.data.n_train, paper.data.n_valid, paper.data.n_test) == (20_000, 5_000, 3_000)
    assert (paper.model.layers, paper.model.units, paper.model.embedding_dim) == (4, 300, 15)
    assert (paper.train.batch_size, paper.train.crop_frames, paper.train.epochs) == (40, 400, 100)
    assert (paper.spatial.window_ms, paper.spatial.hop_ms) == (32.0, 8.0)
    for p in PROFILES.values():
        assert p.spatial.threshold_db == -10.0
        total = p.data.speakers_train + p.data.speakers_valid + p.data.speakers_test
        assert total >= 2 * 3  # room for disjoint splits


def test_overrides_are_checked_and_nested():
    p = get_profile("smoke", train={"epochs": 7}, data={"geometry": {"array_radius": [0.02, 0.03]}})
    assert p.train.epochs == 7
    assert p.data.geometry.array_radius == (0.02, 0.03)
    assert get_profile("smoke").train.epochs != 7  # the registry is not mutated
    with pytest.raises(KeyError, match="no field"):
        get_profile("smoke", train={"epoch": 3})
    with pytest.raises(KeyError, match="unknown profile"):
        get_profile("huge")


def test_config_hash_is_stable_and_sensitive():
    a = config_hash(get_profile("laptop"))
    assert a == config_hash(get_profile("laptop"))
    assert a != config_hash(get_profile("laptop", train={"seed": 1}))
    assert len(a) == 12
