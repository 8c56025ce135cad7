"""Tests of the blind-teacher registry (bootsep_lib.spatial.teachers)."""

from __future__ import annotations

import numpy as np
import pytest
from test_spatial import SR, two_source_mixture

from bootsep_lib.config import SpatialConfig
from bootsep_lib.spatial import get_teacher, register_teacher, teacher_names
from bootsep_lib.spatial.teachers import TeacherOutput


def test_unknown_teacher_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown teacher 'auxiva'.*'ipd-gmm'"):
        get_teacher("auxiva")


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        register_teacher("ipd-gmm")(lambda *a, **k: None)
    assert "ipd-gmm" in teacher_names()


def test_ipd_gmm_teacher_masks_and_confidence():
    mix, _ = two_source_mixture()
    cfg = SpatialConfig(jsd_samples=20_000)
    out = get_teacher("ipd-gmm")(mix, SR, cfg, seed=0)
    assert isinstance(out, TeacherOutput) and not out.degenerate
    assert out.masks.shape[0] == cfg.n_sources
    assert out.confidence.shape == out.masks.shape[1:]
    np.testing.assert_allclose(out.masks.sum(0), 1.0, atol=1e-6)
    assert out.confidence.min() >= 0.0 and out.confidence.max() <= 1.0
    assert out.confidence.max() > 0.0


def test_ipd_gmm_teacher_on_silence_is_degenerate():
    out = get_teacher("ipd-gmm")(np.zeros((2, SR)), SR, SpatialConfig())
    assert out.degenerate and not out.confidence.any()
    np.testing.assert_allclose(out.masks.sum(0), 1.0)
