"""harness.analysis.stats on hand-computed cases, plus bootstrap coverage and reproducibility."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats

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


@pytest.mark.parametrize("p_holm, poi, ci, expected", [
    (0.01, 0.9, (0.2, 0.4), "better"),
    (0.01, 0.1, (-0.4, -0.2), "worse"),
    (0.04, 0.8, (-0.05, 0.05), "better"),      # a significant test wins over equivalence
    (0.20, 0.6, (-0.05, 0.09), "equivalent"),
    (0.20, 0.6, (-0.05, 0.10), "inconclusive"),  # touches the margin
    (0.20, 0.6, (-0.12, 0.05), "inconclusive"),
    (0.05, 0.9, (0.2, 0.4), "inconclusive"),     # p must be below alpha
    (float("nan"), float("nan"), (float("nan"), float("nan")), "inconclusive"),
])
def test_verdict_rules(p_holm, poi, ci, expected):
    assert stats.verdict(p_holm, poi, *ci, margin=0.10) == expected


def test_verdict_margin_is_configurable():
    assert stats.verdict(0.5, 0.5, -0.15, 0.15, margin=0.2) == "equivalent"
    assert stats.verdict(0.5, 0.5, -0.15, 0.15, margin=0.1) == "inconclusive"


def test_compare_point_estimates_over_strata():
    xs = [np.array([1.0, 2.0]), np.array([10.0, 20.0])]
    ys = [np.array([0.0, 1.0]), np.array([10.0, 10.0])]
    c = stats.compare(xs, ys, n_boot=200, seed=0)
    assert c.n == 4
    assert c.prob_improvement == pytest.approx((0.875 + 0.75) / 2)
    assert c.mean_diff == pytest.approx((1.0 + 5.0) / 2)
    assert c.rel_diff == pytest.approx((1.0 / 0.5 + 5.0 / 10.0) / 2)
    assert c.p_value == pytest.approx(stats.stratified_mann_whitney_p(xs, ys))
    assert c.pi_ci_low <= c.prob_improvement <= c.pi_ci_high


def test_single_run_gives_nan_intervals():
    assert all(math.isnan(v) for v in stats.iqm_ci(np.array([1.0]), n_boot=100, seed=0))
    c = stats.compare([np.array([1.0])], [np.array([0.0, 1.0])], n_boot=100, seed=0)
    assert math.isnan(c.pi_ci_low) and math.isnan(c.rel_ci_high)
    assert c.prob_improvement == 0.75


def test_stratified_mann_whitney_hand_case():
    # per env: rank sum of x = 3 + 4 = 7, N = 4, weight 1/5 -> T = 2.8, E = 2, Var = 2/15
    xs, ys = [np.array([2.0, 3.0])] * 2, [np.array([0.0, 1.0])] * 2
    z = 0.8 / math.sqrt(2 / 15)
    assert stats.stratified_mann_whitney_p(xs, ys) == pytest.approx(2 * scipy.stats.norm.sf(z))


def test_stratified_mann_whitney_with_one_env_is_the_asymptotic_test():
    x, y = np.array([1.0, 2, 2, 5, 7, 9]), np.array([0.0, 2, 3, 3, 4])
    expected = scipy.stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=False).pvalue
    assert stats.stratified_mann_whitney_p([x], [y]) == pytest.approx(expected)


def test_scope_all_test_is_stratified_not_pooled():
    """Better in both envs, but one env's normalised scores sit near -1 and the other's near 1
    (a negative-return env): pooling mixes the envs' spread into the test, stratifying does not."""
    rng = np.random.default_rng(0)
    ys = [rng.normal(-1.0, 0.3, 20), rng.normal(1.0, 0.3, 20)]
    xs = [rng.normal(-0.7, 0.3, 20), rng.normal(1.3, 0.3, 20)]
    pooled = stats.mann_whitney_p(np.concatenate(xs), np.concatenate(ys))
    stratified = stats.compare(xs, ys, n_boot=200, seed=0).p_value
    assert stratified < 1e-5 and pooled > 1000 * stratified


def test_identical_samples_are_not_significant():
    assert stats.mann_whitney_p(np.ones(5), np.ones(5)) == 1.0


def test_bootstrap_is_reproducible():
    x = np.random.default_rng(1).normal(size=20)
    assert stats.iqm_ci(x, n_boot=1000, seed=3) == stats.iqm_ci(x, n_boot=1000, seed=3)
    assert stats.iqm_ci(x, n_boot=1000, seed=3) != stats.iqm_ci(x, n_boot=1000, seed=4)
    ys = [np.random.default_rng(2).normal(size=20)]
    assert stats.compare([x], ys, n_boot=500, seed=3) == stats.compare([x], ys, n_boot=500,
                                                                       seed=3)


def test_iqm_ci_covers_the_true_centre():
    """IQM of a symmetric distribution is its centre; 95% CIs should cover it ~95% of the time."""
    rng = np.random.default_rng(0)
    hits = [lo <= 3.0 <= hi for lo, hi in
            (stats.iqm_ci(rng.normal(3.0, 1.0, 40), n_boot=1000, seed=i) for i in range(100))]
    assert 0.85 <= np.mean(hits) <= 1.0


def test_stratified_probability_of_improvement_ci_covers_the_truth():
    """Two envs with known P(X > Y) for normals: Phi(d / sqrt(2)); the aggregate is their mean."""
    rng = np.random.default_rng(0)
    shifts, scales = (0.5, -0.3), (1.0, 100.0)
    truth = np.mean([scipy.stats.norm.cdf(d / math.sqrt(2)) for d in shifts])
    hits = []
    for i in range(60):
        xs = [rng.normal(d * s, s, 25) for d, s in zip(shifts, scales, strict=True)]
        ys = [rng.normal(0.0, s, 25) for s in scales]
        c = stats.compare(xs, ys, n_boot=1000, seed=i)
        hits.append(c.pi_ci_low <= truth <= c.pi_ci_high)
    assert 0.85 <= np.mean(hits) <= 1.0


def test_mean_ci_per_column():
    values = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    mean, low, high = stats.mean_ci(values, n_boot=500, seed=0)
    np.testing.assert_allclose(mean, [2.0, 10.0])
    assert low.shape == high.shape == (2,)
    assert 0.0 <= low[0] < 2.0 < high[0] <= 4.0
    assert low[1] == high[1] == 10.0
