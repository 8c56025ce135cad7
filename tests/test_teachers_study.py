"""Tests of the teacher stage and study (bootsep_lib.studies.teacher_stage / .teachers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_teachers_bss import four_mic_mixture

from bootsep_lib import dsp, targets
from bootsep_lib.config import get_profile
from bootsep_lib.data.training_set import TrainingSet
from bootsep_lib.studies.teacher_stage import teacher_mixture, teacher_options, teacher_stage
from bootsep_lib.studies.teachers import Arm, best_teacher, room_subset, student_arms

SR = 8000


@pytest.mark.parametrize("name", ["ipd-gmm", "auxiva-2ch"])
def test_labels_do_not_depend_on_the_references(name):
    """The stage hands the teacher the mixture only: other references change the scores and
    the ground-truth labels, never the pseudo labels or the confidence."""
    profile = get_profile("smoke")
    mix, refs = four_mic_mixture(1.5)
    rng = np.random.default_rng(0)
    row_a, arrays_a = teacher_mixture(mix, refs, SR, profile, name)
    row_b, arrays_b = teacher_mixture(mix, rng.standard_normal(refs.shape), SR, profile, name)
    np.testing.assert_array_equal(arrays_a["labels"], arrays_b["labels"])
    np.testing.assert_array_equal(arrays_a["post"], arrays_b["post"])
    assert row_a["si_sdr"] != row_b["si_sdr"]
    assert not np.array_equal(arrays_a["truth"], arrays_b["truth"])


def test_teacher_options_only_what_a_teacher_declares():
    profile = get_profile("smoke")
    assert teacher_options("ipd-gmm", profile) == {}
    assert teacher_options("auxiva-2ch", profile) == {"n_iter": profile.teachers.n_iter}


def test_best_teacher_is_the_validation_maximum():
    table = pd.DataFrame({
        "room": ["reverb"] * 6, "split": ["cv", "cv", "cv", "cv", "tt", "tt"],
        "teacher": ["a", "a", "b", "b", "a", "b"], "si_sdr": [1.0, 2.0, 3.0, 0.5, 9.0, 0.0]})
    assert best_teacher(table, "reverb") == "b"  # 1.75 > 1.5; the test split is ignored
    assert best_teacher(table, "reverb", among=("a",)) == "a"


def test_student_arms_per_room():
    profile = get_profile("smoke")
    table = pd.DataFrame([{"room": r, "split": "cv", "teacher": t, "si_sdr": float(i)}
                          for r in profile.teachers.rooms
                          for i, t in enumerate(profile.teachers.teachers)])
    arms = student_arms(profile, table)
    n = len(profile.teachers.teachers)
    assert len(arms) == len(profile.teachers.rooms) * (n + 2)
    assert Arm("reverb", None, 0.0) in arms
    assert Arm("reverb", profile.teachers.teachers[-1], 0.0) in arms


@pytest.mark.slow
def test_training_set_takes_a_named_teachers_labels(smoke_data):
    profile = get_profile("smoke")
    subset = room_subset(profile, "reverb")
    n = profile.teachers.n_valid
    stage = teacher_stage(profile, "cv", subset, "auxiva-2ch", n, progress=False)
    assert len(stage.table) == n and stage.bank["offsets"][-1] == stage.bank["labels"].shape[0]
    sets = {name: TrainingSet(profile, "cv", targets="spatial", alpha=1.0, subset=subset,
                              limit=n, teacher=name) for name in ("ipd-gmm", "auxiva-2ch")}
    gt = TrainingSet(profile, "cv", subset=subset, limit=n)
    assert len({s.tag for s in (*sets.values(), gt)}) == 3
    item = sets["auxiva-2ch"][0]
    arrays = stage.arrays(0)
    np.testing.assert_array_equal(item["labels"].numpy(), arrays["labels"])
    mix = sets["auxiva-2ch"]._read("mix", stage.table["id"][0])
    magnitude = np.abs(dsp.stft(mix, SR, profile.spatial.window_ms, profile.spatial.hop_ms))
    expected = arrays["post"].astype(np.float32) * magnitude / magnitude.sum()
    np.testing.assert_allclose(item["weights"].numpy(), expected, rtol=1e-5, atol=1e-9)
    assert targets.magnitude_weights(magnitude).shape == expected.shape
