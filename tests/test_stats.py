"""harness.analysis.stats on hand-computed cases, plus bootstrap coverage and reproducibility."""

import itertools
import math

import numpy as np
import pytest
from montecarlo import mc_bounds

from harness.analysis import stats


def test_iqm_drops_a_quarter_at_each_end():
    assert stats.iqm(np.arange(1, 9)) == 4.5  # mean of 3, 4, 5, 6
    assert stats.iqm(np.array([0, 1, 2, 3, 100])) == 2.0  # floor(5/4) = 1 dropped per end
    rows = np.array([[1, 2, 3, 4], [10, 0, 0, 10]])
    np.testing.assert_allclose(stats.iqm(rows, axis=-1), [2.5, 5.0])


def test_describe():
    d = stats.describe(np.array([1.0, 2.0, 3.0, 10.0]))
    assert d == pytest.approx({"mean": 4.0, "std": math.sqrt(50 / 3), "median": 2.5,
                               "iqm": 2.5})
    assert math.isnan(stats.describe(np.array([5.0]))["std"])


@pytest.mark.parametrize("x, y, expected", [
    ([1, 2, 3], [2, 2, 2], 0.5),          # 3 losses, 3 ties, 3 wins
    ([3, 4], [1, 2, 3], 11 / 12),         # 3 -> 2.5 of 3, 4 -> 3 of 3
    ([0, 0], [1, 1], 0.0),
    ([5], [5], 0.5),
])
def test_probability_of_improvement_hand_cases(x, y, expected):
    assert stats.probability_of_improvement(np.array(x), np.array(y)) == pytest.approx(expected)


def test_probability_of_improvement_matches_pair_counting_with_ties_and_batches():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, (4, 7)), rng.integers(0, 5, (4, 6))
    brute = [np.mean([(a > b) + 0.5 * (a == b) for a, b in itertools.product(xr, yr)])
             for xr, yr in zip(x, y, strict=True)]
    np.testing.assert_allclose(stats.probability_of_improvement(x, y), brute)
    np.testing.assert_allclose(stats.probability_of_improvement(x.T, y.T, axis=0), brute)


def test_holm_hand_case():
    # sorted: .01*4 = .04, .03*3 = .09, .04*2 = .08 -> .09 (monotone), .20*1 = .20
    p = np.array([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(stats.holm(p), [0.04, 0.09, 0.09, 0.20])
    np.testing.assert_allclose(stats.holm(np.array([0.5, 0.5])), [1.0, 1.0])


def test_holm_ignores_nan():
    out = stats.holm(np.array([0.01, np.nan, 0.02]))
    np.testing.assert_allclose(out, [0.02, np.nan, 0.02])


def test_single_run_gives_nan_intervals():
    assert all(math.isnan(v) for v in stats.iqm_ci(np.array([1.0]), n_boot=100, seed=0))


def test_bootstrap_is_reproducible():
    x = np.random.default_rng(1).normal(size=20)
    assert stats.iqm_ci(x, n_boot=1000, seed=3) == stats.iqm_ci(x, n_boot=1000, seed=3)
    assert stats.iqm_ci(x, n_boot=1000, seed=3) != stats.iqm_ci(x, n_boot=1000, seed=4)


def test_iqm_ci_covers_the_true_centre():
    """IQM of a symmetric distribution is its centre; 95% CIs should cover it 95% of the time,
    up to the Monte-Carlo error of 400 simulations (measured over 2,000: 94.6%)."""
    rng = np.random.default_rng(0)
    sims = 400
    hits = [lo <= 3.0 <= hi for lo, hi in
            (stats.iqm_ci(rng.normal(3.0, 1.0, 40), n_boot=1000, seed=i) for i in range(sims))]
    low, high = mc_bounds(0.95, sims)
    assert low <= np.mean(hits) <= high


def test_mean_ci_per_column():
    values = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    mean, low, high = stats.mean_ci(values, n_boot=500, seed=0)
    np.testing.assert_allclose(mean, [2.0, 10.0])
    assert low.shape == high.shape == (2,)
    assert 0.0 <= low[0] < 2.0 < high[0] <= 4.0
    assert low[1] == high[1] == 10.0
