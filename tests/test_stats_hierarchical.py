"""The hierarchical (seeds x mixtures) bootstrap against hand-worked and brute-force cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bootsep_lib.eval.stats import (
    bootstrap_ci,
    hierarchical_ci,
    hierarchical_means,
    hierarchical_paired_ci,
    seed_matrix,
)


def exact_distribution(x: np.ndarray) -> dict[float, float]:
    """Every equally likely (seed draw, mixture draw) of the crossed bootstrap, enumerated."""
    n_seeds, n_mix = x.shape
    dist: dict[float, float] = {}
    draws = list(itertools.product(itertools.product(range(n_seeds), repeat=n_seeds),
                                   itertools.product(range(n_mix), repeat=n_mix)))
    for seeds, mixes in draws:
        value = round(float(np.mean([[x[s, m] for m in mixes] for s in seeds])), 9)
        dist[value] = dist.get(value, 0.0) + 1.0 / len(draws)
    return dist


def test_hand_worked_two_seeds_two_mixtures():
    # X[s, m] = 4 s + 2 m, so a resample's mean is 4 mean(s*) + 2 mean(m*), where mean(s*)
    # and mean(m*) are 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4 each, independently:
    # mean 3, variance 16/8 + 4/8 = 2.5, and the nine outcomes below (worked by hand).
    x = np.array([[0.0, 2.0], [4.0, 6.0]])
    by_hand = {0.0: 1 / 16, 1.0: 2 / 16, 2.0: 3 / 16, 3.0: 4 / 16, 4.0: 3 / 16, 5.0: 2 / 16,
               6.0: 1 / 16}
    assert exact_distribution(x) == pytest.approx(by_hand)
    means = hierarchical_means(x, n_boot=200_000, seed=1)
    values, counts = np.unique(np.round(means, 9), return_counts=True)
    assert dict(zip(values.tolist(), (counts / means.size).tolist(), strict=True)) == \
        pytest.approx(by_hand, abs=0.005)
    assert means.mean() == pytest.approx(3.0, abs=0.01)
    assert means.var() == pytest.approx(2.5, rel=0.02)
    mean, low, high = hierarchical_ci(x, n_boot=200_000, seed=1)
    # 2.5% and 97.5% quantiles of the hand-worked distribution: P(<= 0) = 1/16 > 2.5%
    assert (mean, low, high) == (3.0, 0.0, 6.0)


def test_matches_enumeration_of_a_three_by_three_case():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 3))
    exact = exact_distribution(x)
    support = np.array(list(exact))
    prob = np.array(list(exact.values()))
    exact_mean = float(np.sum(support * prob))
    exact_var = float(np.sum(prob * (support - exact_mean) ** 2))
    means = hierarchical_means(x, n_boot=400_000, seed=2)
    assert means.mean() == pytest.approx(exact_mean, abs=0.005)
    assert means.var() == pytest.approx(exact_var, rel=0.02)
    lo_exact, hi_exact = _exact_quantiles(support, prob, (0.025, 0.975))
    _, low, high = hierarchical_ci(x, n_boot=400_000, seed=2)
    assert low == pytest.approx(lo_exact, abs=0.02)
    assert high == pytest.approx(hi_exact, abs=0.02)


def _exact_quantiles(support, prob, qs):
    order = np.argsort(support)
    cdf = np.cumsum(prob[order])
    return [float(support[order][np.searchsorted(cdf, q)]) for q in qs]


def test_one_seed_is_the_mixture_bootstrap():
    x = np.random.default_rng(0).normal(size=40)
    _, low, high = hierarchical_ci(x[None, :], n_boot=50_000, seed=3)
    _, blow, bhigh = bootstrap_ci(x, n_boot=50_000, seed=4)
    assert low == pytest.approx(blow, abs=0.03)
    assert high == pytest.approx(bhigh, abs=0.03)


def test_seed_noise_widens_the_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(size=50)
    same = np.vstack([base, base, base])
    shifted = same + np.array([[-1.0], [0.0], [1.0]])  # seed offsets, mixtures unchanged
    _, lo1, hi1 = hierarchical_ci(same, seed=0)
    _, lo2, hi2 = hierarchical_ci(shifted, seed=0)
    assert hi2 - lo2 > 2 * (hi1 - lo1)


def test_paired_difference_cancels_what_arms_share():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 30)) * 5 + rng.normal(size=(3, 1)) * 3
    mean, low, high = hierarchical_paired_ci(a + 0.7, a)
    assert (mean, low, high) == pytest.approx((0.7, 0.7, 0.7))
    with pytest.raises(ValueError, match="shape"):
        hierarchical_paired_ci(a, a[:2])


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
              elements=st.floats(-50, 50)),
       st.floats(-10, 10), st.floats(0.1, 5))
def test_interval_properties(x, shift, scale):
    mean, low, high = hierarchical_ci(x, n_boot=500, seed=0)
    assert low <= mean + 1e-9 or np.isclose(low, mean)
    assert x.min() - 1e-9 <= low <= high <= x.max() + 1e-9
    m2, l2, h2 = hierarchical_ci(scale * x + shift, n_boot=500, seed=0)
    assert (m2, l2, h2) == pytest.approx((scale * mean + shift, scale * low + shift,
                                          scale * high + shift), abs=1e-6)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        hierarchical_ci(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError):
        hierarchical_ci(np.zeros((0, 3)))
    with pytest.raises(ValueError):
        hierarchical_ci(np.ones((2, 2)), ci=1.5)


def test_seed_matrix_aligns_by_id_and_refuses_mismatches():
    t0 = pd.DataFrame({"id": ["b", "a"], "v": [2.0, 1.0]})
    t1 = pd.DataFrame({"id": ["a", "b"], "v": [3.0, 4.0]})
    ids, x = seed_matrix({0: t0, 1: t1}, "v")
    assert ids == ["a", "b"]
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="other mixtures"):
        seed_matrix({0: t0, 1: t1.iloc[:1]}, "v")
