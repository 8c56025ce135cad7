"""Rooms, arrays, images and mixing (bootsep_lib.data.rooms and .acoustics)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bootsep_lib.config import Geometry
from bootsep_lib.data import (
    SPEED_OF_SOUND,
    GeometryError,
    aliasing_frequency,
    draw_levels,
    mix_sources,
    pairwise_distances,
    reference_pair_stats,
    reference_pairs,
    sample_scene,
    simulate,
    tdoa,
)

GEOMETRY = Geometry()


@pytest.mark.parametrize("n_speakers", [2, 3])
def test_scene_constraints_hold_for_many_seeds(n_speakers):
    g = GEOMETRY
    for seed in range(300):
        scene = sample_scene(g, n_speakers, np.random.default_rng(seed), reverberant=True)
        room, c, r = scene.room_dim, scene.array_center, scene.array_radius
        assert g.room_x[0] <= room[0] <= g.room_x[1]
        assert g.room_y[0] <= room[1] <= g.room_y[1]
        assert g.room_z[0] <= room[2] <= g.room_z[1]
        assert np.all(np.abs(c[:2] - room[:2] / 2) <= g.array_center_jitter)
        assert g.array_height[0] <= c[2] <= g.array_height[1]
        assert g.array_radius[0] <= r <= g.array_radius[1]
        mics = scene.mic_positions
        assert mics.shape == (3, g.n_mics)
        to_center = np.linalg.norm(mics - c[:, None], axis=0)
        np.testing.assert_allclose(to_center[:2], r, rtol=1e-9)  # mics 1-2 on the sphere
        np.testing.assert_allclose(mics[:, 0] + mics[:, 1], 2 * c, atol=1e-12)  # opposite
        assert np.all(to_center[2:] <= r + 1e-12)  # the others inside
        d = scene.mic_distances
        assert d[2, 3] >= g.inner_min_spacing
        np.testing.assert_allclose(d[0, 1], 2 * r, rtol=1e-9)
        src = scene.source_positions
        assert src.shape == (n_speakers, 3)
        assert np.all(np.abs(src[:, :2] - c[None, :2]) <= g.speaker_xy_range)
        assert np.all((src[:, 2] >= g.speaker_height[0]) & (src[:, 2] <= g.speaker_height[1]))
        assert np.all(scene.distances >= g.min_distance_to_array)
        sep = pairwise_distances(src.T)[np.triu_indices(n_speakers, 1)]
        assert np.all(sep >= g.min_speaker_distance)
        assert g.t60[0] <= scene.t60 <= g.t60[1]


def test_anechoic_and_reverberant_draws_share_the_geometry():
    a = sample_scene(GEOMETRY, 2, np.random.default_rng(5), reverberant=False)
    b = sample_scene(GEOMETRY, 2, np.random.default_rng(5), reverberant=True)
    assert a.t60 == 0 and b.t60 > 0
    np.testing.assert_array_equal(a.mic_positions, b.mic_positions)
    np.testing.assert_array_equal(a.source_positions, b.source_positions)


def test_geometry_is_read_from_the_dataclass_and_impossible_ones_fail_clearly():
    small = dataclasses.replace(GEOMETRY, array_radius=(0.04, 0.04), room_x=(6.0, 6.0),
                                inner_min_spacing=0.02)
    scene = sample_scene(small, 2, np.random.default_rng(0), reverberant=False)
    assert scene.array_radius == 0.04 and scene.room_dim[0] == 6.0
    assert scene.mic_distances[2, 3] >= 0.02
    tight = dataclasses.replace(small, inner_min_spacing=0.1)  # > the sphere's diameter
    with pytest.raises(GeometryError, match="mics 3-4"):
        sample_scene(tight, 2, np.random.default_rng(0), reverberant=False)
    crowded = dataclasses.replace(GEOMETRY, min_speaker_distance=5.0)
    with pytest.raises(GeometryError, match="speakers"):
        sample_scene(crowded, 2, np.random.default_rng(0), reverberant=False)


def test_derived_angles_and_distances():
    scene = sample_scene(GEOMETRY, 2, np.random.default_rng(1), reverberant=False)
    d = scene.source_positions - scene.array_center
    np.testing.assert_allclose(scene.distances, np.linalg.norm(d, axis=1))
    np.testing.assert_allclose(np.cos(np.radians(scene.azimuths)) * np.hypot(d[:, 0], d[:, 1]),
                               d[:, 0])
    info = scene.to_dict()
    assert len(info["mic_positions"][0]) == GEOMETRY.n_mics and info["t60_requested"] == 0.0


def test_anechoic_images_have_the_geometric_delays():
    rng = np.random.default_rng(3)
    scene = sample_scene(GEOMETRY, 2, rng, reverberant=False)
    fs = 16000
    dry = [rng.standard_normal(4000), rng.standard_normal(3000)]
    images = simulate(scene, dry, fs)
    assert images.shape == (2, 8, 4000)
    assert not np.any(images[1, :, 3000:])
    for s in range(2):
        for k in (1, 2, 3):
            a, b = images[s, 0], images[s, k]
            lags = np.arange(-40, 41)
            xc = [np.dot(a[40:-40], np.roll(b, -lag)[40:-40]) for lag in lags]
            measured = lags[int(np.argmax(xc))]
            assert abs(measured - tdoa(scene, s, 0, k) * fs) <= 1.0


def test_images_are_aligned_to_the_earliest_direct_path():
    scene = sample_scene(GEOMETRY, 2, np.random.default_rng(4), reverberant=False)
    fs = 8000
    impulse = np.zeros(400)
    impulse[0] = 1.0
    images = simulate(scene, [impulse, impulse], fs)
    peaks = np.argmax(np.abs(images), axis=-1)  # (speakers, mics)
    src_mic = np.linalg.norm(scene.source_positions[:, :, None] - scene.mic_positions[None],
                             axis=1)
    expected = (src_mic - src_mic.min()) / SPEED_OF_SOUND * fs
    assert peaks.min() <= 1
    assert np.all(np.abs(peaks - expected) <= 1.0)


@pytest.mark.parametrize("target", [0.3, 0.5])
def test_t60_calibration_reaches_the_target(target):
    scene = sample_scene(GEOMETRY, 1, np.random.default_rng(int(target * 10)), reverberant=True)
    scene.t60 = target
    images = simulate(scene, [np.random.default_rng(0).standard_normal(2000)], 8000)
    assert images.shape == (1, 8, 2000)
    assert abs(scene.t60_measured - target) <= max(0.2 * target, 0.08)
    assert scene.t60_sabine > 0


def test_mix_sources_levels_peak_and_exact_sum():
    rng = np.random.default_rng(0)
    images = [rng.standard_normal((8, 900)), 0.01 * rng.standard_normal((8, 700)),
              rng.standard_normal((8, 800))]
    levels = [1.5, -1.0, -0.5]
    mix, sources = mix_sources(images, levels, peak=0.9)
    assert mix.dtype == np.float32 and sources.dtype == np.float32
    assert mix.shape == (8, 700) and sources.shape == (3, 8, 700)
    assert np.array_equal(mix, sources[0] + sources[1] + sources[2])
    assert abs(np.max(np.abs(mix)) - 0.9) < 1e-6
    power = np.mean(sources[:, 0].astype(np.float64) ** 2, axis=-1)
    rel = 10 * np.log10(power / power[0])
    np.testing.assert_allclose(rel, np.array(levels) - levels[0], atol=1e-4)
    with pytest.raises(ValueError, match="silent"):
        mix_sources([np.zeros((8, 10)), np.ones((8, 10))], [0.0, 0.0])


def test_draw_levels_follow_wsj0_2mix():
    for seed in range(50):
        lv = draw_levels(2, np.random.default_rng(seed), (0.0, 5.0))
        assert lv[0] == pytest.approx(-lv[1])
        assert 0.0 <= lv[0] - lv[1] <= 5.0
        lv3 = draw_levels(3, np.random.default_rng(seed), (0.0, 5.0))
        assert abs(lv3.sum()) < 1e-12 and np.all(lv3[0] - lv3[1:] <= 5.0 + 1e-12)
        assert np.all(lv3[0] >= lv3[1:])


def test_reference_pairs_and_aliasing():
    assert aliasing_frequency(0.2) == pytest.approx(SPEED_OF_SOUND / 0.4)
    scene = sample_scene(GEOMETRY, 2, np.random.default_rng(2), reverberant=False)
    pairs = reference_pairs(scene)
    assert [p["pair"] for p in pairs] == ["1-2", "1-3", "1-4"]
    assert pairs[0]["distance_m"] == pytest.approx(2 * scene.array_radius)
    stats = reference_pair_stats(GEOMETRY, n_scenes=300, seed=0).set_index("pair")
    assert 15.0 <= stats.loc["1-2", "min_cm"] and stats.loc["1-2", "max_cm"] <= 25.0
    assert stats.loc["1-2", "alias_free_share"] == 0.0  # 15-25 cm always aliases below 4 kHz
    assert stats.loc["1-3", "min_cm"] < stats.loc["1-3", "median_cm"] < 25.0
