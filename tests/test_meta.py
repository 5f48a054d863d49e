"""harness.analysis.meta: random effects over envs, against metafor's printed results and by
simulated coverage (vectorised: thousands of meta-analyses per case, well under a second)."""

import math

import numpy as np
import pytest
import scipy.stats

from harness.analysis import effects, meta

# dat.bcg (Colditz et al. 1994, JAMA 271:698; metafor's example data): BCG vaccine trials,
# tpos, tneg, cpos, cneg; the effect is the log risk ratio.
BCG = np.array([[4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
                [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619],
                [505, 87886, 499, 87892], [29, 7470, 45, 7232], [17, 1699, 65, 1600],
                [186, 50448, 141, 27197], [5, 2493, 3, 2338], [27, 16886, 29, 17825]], float)


def bcg():
    a, b, c, d = BCG.T
    return (np.log(a / (a + b)) - np.log(c / (c + d)),
            1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))


def test_bcg_matches_metafor():
    """metafor 4.x: ``rma(yi, vi, data=escalc("RR", ...dat.bcg), test="knha")`` prints tau^2
    0.3132, estimate -0.7145, se 0.1808, 95% CI [-1.1084, -0.3206] (Wald se 0.1798); method
    "DL" tau^2 0.3088, estimate -0.7141, I^2 92.1173%; "EE" (fixed) -0.4303, Q 152.2330
    (metafor's tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r, checked against
    Stata's metan)."""
    y, v = bcg()
    fixed = meta.fixed_effect(y, v)
    assert float(fixed.estimate) == pytest.approx(-0.4303, abs=5e-5)
    assert float(fixed.q) == pytest.approx(152.2330, abs=5e-5)
    assert float(fixed.i2) == pytest.approx(0.921173, abs=5e-7)
    reml = meta.random_effects(y, v, confidence=0.95)
    assert float(reml.tau2) == pytest.approx(0.3132, abs=5e-5)
    assert float(reml.estimate) == pytest.approx(-0.7145, abs=5e-5)
    assert float(reml.se) == pytest.approx(0.1808, abs=5e-5)
    assert float(reml.wald_se) == pytest.approx(0.1798, abs=5e-5)
    assert (float(reml.ci_low), float(reml.ci_high)) == pytest.approx((-1.1084, -0.3206),
                                                                      abs=5e-5)
    assert float(reml.df) == 12 and int(reml.k) == 13
    # metafor's prediction interval under knha uses t(k - 1): 0.14 to 1.76 on the RR scale;
    # ours is Higgins-Thompson-Spiegelhalter's t(k - 2) from the same tau^2 and se
    t12 = scipy.stats.t.ppf(0.975, 12) * math.sqrt(float(reml.tau2 + reml.se**2))
    assert np.round(np.exp(float(reml.estimate) + np.array([-t12, t12])), 2).tolist() == [
        0.14, 1.76]
    t11 = scipy.stats.t.ppf(0.975, 11) * math.sqrt(float(reml.tau2 + reml.se**2))
    assert (float(reml.pred_low), float(reml.pred_high)) == pytest.approx(
        (float(reml.estimate) - t11, float(reml.estimate) + t11))
    dl = meta.random_effects(y, v, method="dl")
    assert (float(dl.tau2), float(dl.estimate)) == pytest.approx((0.3088, -0.7141), abs=5e-5)


def test_paule_mandel_solves_its_equation_and_makes_hksj_equal_wald():
    y, v = bcg()
    pm = meta.random_effects(y, v, method="pm")
    w = 1 / (v + pm.tau2)
    assert np.sum(w * (y - pm.estimate) ** 2) == pytest.approx(len(y) - 1, rel=1e-9)
    assert float(pm.se) == pytest.approx(float(pm.wald_se))  # q = 1 by construction
    assert float(pm.tau2) == pytest.approx(0.3181, abs=5e-5)


def test_agreeing_envs_give_tau_zero_and_the_fixed_estimate():
    y, v = np.array([0.1, 0.1, 0.1, 0.1, 0.1]), np.array([0.01, 0.02, 0.01, 0.03, 0.02])
    for method in meta.METHODS:
        r = meta.random_effects(y, v, method=method)
        assert float(r.tau2) == 0.0 and float(r.estimate) == pytest.approx(0.1)
    assert float(meta.fixed_effect(y, v).i2) == 0.0


def test_batches_and_nan_envs():
    y, v = bcg()
    batch = meta.random_effects(np.stack([y, y[::-1]]), np.stack([v, v[::-1]]))
    assert batch.estimate.shape == (2,) and batch.tau2[0] == pytest.approx(batch.tau2[1])
    holed = meta.random_effects(np.append(y, np.nan), np.append(v, 1.0))
    assert int(holed.k) == 13 and float(holed.tau2) == pytest.approx(float(batch.tau2[0]))
    one = meta.random_effects(y[:1], v[:1])
    assert math.isnan(float(one.ci_low)) and math.isnan(float(one.pred_low))
    none = meta.random_effects(np.full(3, np.nan), np.ones(3))  # every env left out
    assert int(none.k) == 0 and math.isnan(float(none.wald_se))
    assert math.isnan(float(meta.fixed_effect(np.full(3, np.nan), np.ones(3)).se))


def test_min_envs_and_estimand():
    assert meta.MIN_ENVS_RANDOM == 5
    assert meta.estimand_for(4) == "fixed" and meta.estimand_for(5) == "random"


def test_heterogeneous_envs_decide_alone_but_not_as_a_claim_about_tasks():
    """Hand-made: six envs alternating +25% and -25%, 20 seeds each, 1% noise. Every env is
    decided on its own (better or worse at p < 1e-10); on these envs the fixed-effect average
    (-3%) is even 'equivalent' within +-10%; but the random-effects interval does not exclude
    +-10% and the prediction interval for a new task spans both +-20%."""
    rng = np.random.default_rng(0)
    k, n, margin = 6, 20, 0.10
    rhos = np.array([1.25, 0.75] * (k // 2))
    xs = [rng.normal(1000 * r, 10, n) for r in rhos]
    ys = [rng.normal(1000, 10, n) for _ in rhos]
    per_env = [effects.log_ratio([x], [yy]) for x, yy in zip(xs, ys, strict=True)]
    assert all(float(e.p_value()) < 1e-10 for e in per_env)
    y = np.array([float(e.estimate) for e in per_env])
    v = np.array([float(e.se) ** 2 for e in per_env])
    fixed = meta.fixed_effect(y, v).effect()
    assert float(fixed.p_equivalence(margin)) < 0.05  # "equivalent" on these envs only
    r = meta.random_effects(y, v, confidence=0.90)
    low, high = np.expm1([float(r.ci_low), float(r.ci_high)])
    assert low < -margin and high > margin  # neither better, worse nor equivalent
    assert float(r.effect().p_value()) > 0.05 and float(r.effect().p_equivalence(margin)) > 0.05
    assert np.expm1(float(r.pred_low)) < -0.2 and np.expm1(float(r.pred_high)) > 0.2
    assert float(r.tau) == pytest.approx(0.280, abs=0.01) and float(r.i2) > 0.99


# --- simulated coverage of the HKSJ interval --------------------------------------------

DATASETS = 8000
NOMINAL = 0.90
MC = 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / DATASETS)
"""Three Monte-Carlo standard errors of a coverage near 90% (0.010)."""
SLACK = 0.02
"""Allowed departure of the true coverage from nominal: HKSJ is exact only for known v_i;
with Welch variances from 5-20 seeds it covers 87.8-89.5% (measured over 20,000 datasets per
case: k = 3/5/11/20 x tau = 0/0.05/0.12 gave 0.895 0.889 0.878 / 0.895 0.888 0.884 /
0.892 0.888 0.886 / 0.892 0.889 0.889, each tail missing 5.1-6.3%)."""


def env_estimates(rng, k, tau, datasets, mu=0.0):
    """Per-env Welch log ratios of normal scores, drawn as sufficient statistics: each env
    has 5-20 seeds per arm, a coefficient of variation 0.2-0.5 in both arms, control mean
    1000 and true log ratio ``mu + tau z``. Returns (y, v), each [datasets, k].

    The spread scales with each arm's mean (one cv per env): with a fixed sd instead, envs
    with a larger effect would also be more precise, weigh more, and pull the weighted mean
    up (a 3-point lopsidedness of the tails at tau = 0.12, k >= 11)."""
    n = rng.integers(5, 21, (datasets, k))
    cv = rng.uniform(0.2, 0.5, (datasets, k))
    theta = mu + tau * rng.standard_normal((datasets, k))

    def arm(mean):
        sd = cv * mean
        return (rng.normal(mean, sd / np.sqrt(n)), sd**2 * rng.chisquare(n - 1) / (n - 1))

    mx, sx2 = arm(1000 * np.exp(theta))
    my, sy2 = arm(1000.0)
    return np.log(mx / my), sx2 / (n * mx**2) + sy2 / (n * my**2)


@pytest.mark.parametrize("k", [3, 5, 11, 20])
@pytest.mark.parametrize("tau", [0.0, 0.05, 0.12])
def test_hksj_coverage_is_nominal_on_both_sides(k, tau):
    rng = np.random.default_rng(1000 * k + int(tau * 100))
    y, v = env_estimates(rng, k, tau, DATASETS, mu=0.05)
    r = meta.random_effects(y, v, confidence=NOMINAL)
    covered = np.mean((r.ci_low <= 0.05) & (r.ci_high >= 0.05))
    assert NOMINAL - SLACK - MC <= covered <= NOMINAL + SLACK + MC, covered
    # each tail misses about (1 - nominal) / 2: the interval is not lopsided
    assert abs(np.mean(r.ci_low > 0.05) - np.mean(r.ci_high < 0.05)) < 0.02
    if tau == 0.0 and k <= 5:
        # the max(1, q) safeguard over-covers where envs agree: why it is not the default
        floored = meta.random_effects(y, v, confidence=NOMINAL, floor=True)
        assert np.mean((floored.ci_low <= 0.05) & (floored.ci_high >= 0.05)) > 0.95


@pytest.mark.parametrize("k", [5, 11])
def test_prediction_interval_covers_a_new_task(k):
    """A new env's true effect, theta_new ~ N(mu, tau^2), against the 90% prediction
    interval. Known weakness, measured (20,000 datasets): where tau is no larger than the
    within-env noise, tau^2 from few envs is imprecise and the interval undercovers: 0.92 /
    0.87 / 0.82 at k = 5 and tau = 0 / 0.05 / 0.12, 0.93 / 0.82 / 0.85 at k = 20 (Partlett &
    Riley 2017, Stat Med 36:301, report the same for REML with the t(k - 2) interval). A
    wide prediction interval is informative; a narrow one may be too narrow."""
    rng = np.random.default_rng(k)
    tau = 0.12
    y, v = env_estimates(rng, k, tau, DATASETS)
    r = meta.random_effects(y, v, confidence=NOMINAL)
    new = tau * rng.standard_normal(DATASETS)
    covered = np.mean((r.pred_low <= new) & (new <= r.pred_high))
    assert 0.78 <= covered <= NOMINAL + MC, covered


# --- the gain-over-random scale -----------------------------------------------------------

def test_gain_log_ratio_by_hand():
    """HalfCheetah-like: a random policy scores -280; arms at 1720 and 1220 (gains 2000 and
    1500): the log ratio of gains is log(4 / 3) whatever the sign of the raw returns."""
    x, y = np.array([1700.0, 1740.0]), np.array([1200.0, 1240.0])
    g = meta.gain_log_ratio(x, y, -280.0)
    assert bool(g.usable) and float(g.estimate) == pytest.approx(math.log(2000 / 1500))
    s2 = np.var(x, ddof=1)
    assert float(g.variance) == pytest.approx(s2 / (2 * 2000**2) + s2 / (2 * 1500**2))
    assert meta.gain_exclusion(x, y, -280.0) == ""
    # Reacher-like negative returns: random -43, arms -5 and -10: gains 38 and 33
    r = meta.gain_log_ratio(np.array([-5.0, -5.2, -4.8]), np.array([-10.0, -9.5, -10.5]), -43.0)
    assert float(r.estimate) == pytest.approx(math.log(38 / 33))


def test_an_env_whose_control_does_not_beat_random_is_left_out_with_a_reason():
    y = np.array([-250.0, -320.0, -200.0, -300.0])  # mean -267.5 against random -280
    x = np.array([500.0, 700.0, 600.0, 650.0])
    g = meta.gain_log_ratio(x, y, -280.0)
    assert not bool(g.usable) and math.isnan(float(g.estimate))
    assert "control does not clearly beat a random policy" in meta.gain_exclusion(x, y, -280.0)
    worse = meta.gain_exclusion(np.array([-290.0, -300.0]), np.array([900.0, 1000.0]), -280.0)
    assert "variant does not beat a random policy" in worse
    batch = meta.gain_log_ratio(np.stack([x, x]), np.stack([y, y + 2000]), -280.0)
    assert batch.usable.tolist() == [False, True]
