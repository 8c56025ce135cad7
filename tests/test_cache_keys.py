"""Cache keys name what a result depends on (corpus, code version, config) and nothing else."""

from __future__ import annotations

import shutil

import pytest

from bootsep_lib import paths
from bootsep_lib.config import get_profile
from bootsep_lib.data import CorpusError, build_subset, default_subset, open_split
from bootsep_lib.data.fingerprint import split_fingerprint
from bootsep_lib.data.layout import COMPLETE, METADATA, SIDECARS
from bootsep_lib.data.training_set import TrainingSet
from bootsep_lib.studies import run_config, spatial_stage


def _foreign_copy(profile, split, dest):
    """The profile's first subset copied to ``dest`` as foreign data (no sidecars or marker)."""
    src = open_split(profile, split, return_sources=False).folder
    rel = src.relative_to(paths.data_root(profile.data.root))
    target = dest / rel
    shutil.copytree(src, target, ignore=shutil.ignore_patterns(SIDECARS, METADATA, COMPLETE))
    return target


def test_another_corpus_with_the_same_profile_gets_new_ids(smoke_data, tmp_path, monkeypatch):
    profile = get_profile("smoke")
    ours = TrainingSet(profile, "cv")
    foreign = _foreign_copy(profile, "cv", tmp_path)
    monkeypatch.setenv("BOOTSEP_DATA", str(tmp_path))
    theirs = TrainingSet(profile, "cv")
    assert theirs.folder == foreign
    assert split_fingerprint(foreign) != split_fingerprint(ours.folder)
    assert theirs.tag != ours.tag
    assert run_config(profile, theirs).run_id != run_config(profile, ours).run_id


def test_foreign_fingerprint_follows_the_files(smoke_data, tmp_path):
    foreign = _foreign_copy(get_profile("smoke"), "cv", tmp_path)
    before = split_fingerprint(foreign)
    assert split_fingerprint(foreign) == before
    wav = sorted((foreign / "s1").glob("*.wav"))[0]
    wav.write_bytes(wav.read_bytes() + b"\0\0")
    assert split_fingerprint(foreign) != before


def test_sizes_of_other_splits_and_worker_counts_change_no_id(smoke_data):
    profile = get_profile("smoke")
    other = get_profile("smoke", data={"n_test": profile.data.n_test + 7},
                        train={"num_workers": 3})
    for targets in ("ground_truth", "spatial"):
        a = TrainingSet(profile, "cv", targets=targets)
        b = TrainingSet(other, "cv", targets=targets)
        assert a.tag == b.tag
        assert run_config(profile, a).run_id == run_config(other, b).run_id
    assert spatial_stage(profile, "cv").folder == spatial_stage(other, "cv").folder


def test_what_changes_results_changes_the_ids(smoke_data):
    profile = get_profile("smoke")
    base = TrainingSet(profile, "cv", targets="spatial", alpha=1.0)
    assert TrainingSet(profile, "cv", targets="spatial", alpha=2.0).tag != base.tag
    assert TrainingSet(profile, "cv", targets="spatial", limit=3).tag != base.tag
    other_seed = get_profile("smoke", data={"seed": profile.data.seed + 1})
    assert spatial_stage(other_seed, "cv").folder != spatial_stage(profile, "cv").folder
    lr = get_profile("smoke", train={"lr": 2e-3})
    assert run_config(lr, base).run_id != run_config(profile, base).run_id


def test_make_data_never_writes_into_a_foreign_split(smoke_data, tmp_path):
    profile = get_profile("smoke")
    foreign = _foreign_copy(profile, "cv", tmp_path)
    before = sorted(p.name for p in foreign.rglob("*"))
    subset = default_subset(profile)
    with pytest.raises(CorpusError, match="did not make"):
        build_subset(profile.data, subset.n_speakers, subset.condition, subset.sample_rate, "cv",
                     root=tmp_path, progress=False)
    assert sorted(p.name for p in foreign.rglob("*")) == before
