"""harness.analysis.stability: drawdowns, collapses and value-loss spikes by hand, the
dispersion test's error rates by simulation, and the stability table on a hand-made pair."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from harness.analysis import effects, stability
from harness.runs.spec import AnalysisSettings

ALPHA = 0.05
DATASETS = 4000
MC = 3 * math.sqrt(ALPHA * (1 - ALPHA) / DATASETS)


@pytest.mark.parametrize("curve, expected", [
    ([0, 10, 10, 10], 0.0),         # never falls
    ([0, 10, 4, 10], 0.6),          # lost 6 of the 10 gained, then recovered
    ([5, 4, 3], 0.0),               # never gained: nothing to lose
    ([0, 1, -10], 1.0),             # fell below its start: all of the gain, no more
    ([0, 4, 2, 20, 15], 0.5),       # the early dip (2 of 4) is the largest fraction
    ([], 0.0),
])
def test_max_drawdown_by_hand(curve, expected):
    assert stability.max_drawdown(np.array(curve, float)) == pytest.approx(expected)


def test_collapse_needs_more_than_half_of_the_gain_lost_over_several_updates():
    steady = np.linspace(0, 100, 40)
    fallen = np.r_[np.linspace(0, 100, 20), np.full(20, 20.0)]
    blip = steady.copy()
    blip[30] = 0.0  # one bad update: smoothed away
    rows = [pd.DataFrame({"run_id": name, "env_id": "E", "variant": "v",
                          "global_step": np.arange(40), "episodic_return": curve})
            for name, curve in (("steady", steady), ("fallen", fallen), ("blip", blip))]
    found = stability.run_stability(pd.concat(rows)).set_index("run_id")["collapsed"]
    assert found.to_dict() == {"blip": False, "fallen": True, "steady": False}


def test_a_spike_is_a_jump_of_the_loss_above_its_recent_median():
    """A trend is not a spike (the reference follows it); one jump of 50x in 40 judged
    updates is; the first ``SPIKE_WINDOW`` updates have no reference."""
    trend = np.geomspace(1.0, 0.01, 60)
    jumped = trend.copy()
    jumped[45] *= 50
    assert stability.spike_rate(trend) == 0.0
    assert stability.spike_rate(jumped) == pytest.approx(1 / 40)
    assert np.isnan(stability.spike_rate(trend[:stability.SPIKE_WINDOW]))


def test_the_spike_factor_is_the_declared_one():
    """``analysis.spike_factor`` sets the jump that counts. On this falling trend the previous
    20 updates' median is about 2.3x the current loss, so a 15x jump (6.6x the median) is a
    spike at factor 3, not at the default 10; a 50x jump (22x) is one at 10, not at 100.
    ``run_stability`` uses it."""
    trend = np.geomspace(1.0, 0.01, 60)
    fifteen, fifty = trend.copy(), trend.copy()
    fifteen[45] *= 15
    fifty[45] *= 50
    assert stability.spike_rate(fifteen) == 0.0
    assert stability.spike_rate(fifteen, 3.0) == pytest.approx(1 / 40)
    assert stability.spike_rate(fifty, 100.0) == 0.0
    run = pd.DataFrame({"run_id": "r", "env_id": "E", "variant": "v", "global_step": range(60),
                        "episodic_return": 1.0, "value_loss_unclipped": fifteen})
    assert stability.run_stability(run)["spike_rate"].tolist() == [0.0]
    assert stability.run_stability(run, 3.0)["spike_rate"].tolist() == [pytest.approx(1 / 40)]


def deviations(x):
    return np.abs(x - np.median(x, axis=-1, keepdims=True))


@pytest.mark.parametrize("n", [5, 10, 20])
def test_dispersion_test_keeps_its_level_with_equal_spreads(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(1000, 200, (2, DATASETS, n))
    rejected = effects.log_ratio([deviations(x)], [deviations(y)]).p_value() < ALPHA
    assert np.mean(rejected) <= ALPHA + MC


def test_dispersion_interval_covers_the_spread_ratio():
    """Normal runs with sd 100 and 200: the mean absolute deviations have ratio 0.5."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(1000, 100, (DATASETS, 20)), rng.normal(1000, 200, (DATASETS, 20))
    low, high = effects.log_ratio([deviations(x)], [deviations(y)]).interval(1 - ALPHA)
    assert np.mean((low <= -0.5) & (high >= -0.5)) >= 1 - ALPHA - MC


def test_stability_table_on_a_hand_made_pair():
    scores = pd.DataFrame({"env_id": "E", "variant": ["a"] * 4 + ["b"] * 4,
                           "score": [9.0, 10, 10, 11, 0, 10, 10, 20]})
    runs = pd.DataFrame({"env_id": "E", "variant": ["a"] * 4 + ["b"] * 4,
                         "collapsed": [False] * 4 + [True, True, False, False],
                         "drawdown": [0.1, 0.2, 0.1, 0.2, 0.6, 0.7, 0.2, 0.3],
                         "spike_rate": [0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2]})
    table = stability.stability_table(scores, runs, [("a", "b")], AnalysisSettings())
    row = table.iloc[0]
    assert list(table.columns) == stability.STABILITY_COLUMNS
    assert row["dispersion_ratio"] == pytest.approx(0.5 / 5.0)  # mean |dev|: 0.5 vs 5
    assert (row["collapses"], row["control_collapses"], row["control_n"]) == (0, 2, 4)
    assert row["collapse_p"] == pytest.approx(0.4286, abs=1e-4)  # Fisher, 0/4 vs 2/4
    assert (row["drawdown"], row["control_drawdown"]) == pytest.approx((0.15, 0.45))
    assert row["drawdown_diff"] == pytest.approx(-0.3)
    assert row["drawdown_ci_low"] < -0.3 < row["drawdown_ci_high"]
    assert row["spike_diff"] == pytest.approx(-0.1)
    assert row["drawdown_p"] == pytest.approx(scipy.stats.ttest_ind(
        [0.1, 0.2, 0.1, 0.2], [0.6, 0.7, 0.2, 0.3], equal_var=False).pvalue)
