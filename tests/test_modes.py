"""harness.analysis.modes: bimodality on hand-made data, its false-positive rate by
simulation, and the mode-share table."""

import numpy as np
import pandas as pd
import pytest

from harness.analysis import modes


def test_a_clearly_bimodal_env_is_detected():
    """HalfCheetah-like: 14 runs near 1,400 and 6 near 3,000."""
    rng = np.random.default_rng(0)
    runs = np.concatenate([rng.normal(1400, 100, 14), rng.normal(3000, 300, 6)])
    assert float(modes.bimodality_p(runs)) < 0.01
    mix = modes.fit(runs)
    assert float(mix.low) == pytest.approx(1400, abs=150)
    assert float(mix.high) == pytest.approx(3000, abs=300)
    assert float(mix.share_high) == pytest.approx(0.3, abs=0.05)
    assert 1600 < float(mix.boundary()) < 2800


@pytest.mark.parametrize("n", [12, 20])
def test_unimodal_normal_runs_are_rarely_called_bimodal(n):
    """One normal: the p-value's false-positive rate at 0.05 is 0.05 within Monte-Carlo
    error (1,000 datasets, plus the null's own bootstrap error)."""
    x = np.random.default_rng(n).normal(2000, 500, (1000, n))
    rate = np.mean(modes.bimodality_p(x) < 0.05)
    assert 0.025 <= rate <= 0.075, rate


def test_too_few_runs_give_no_test():
    assert np.isnan(modes.bimodality_p(np.arange(5.0)))


def test_mode_shares_per_arm_with_fisher():
    """The issue's case: ppo2's clip never reaches HalfCheetah's high mode (0/20 runs) while
    unclipped does 5/20 times: Fisher's p 0.047."""
    rng = np.random.default_rng(1)
    clipped = rng.normal(1400, 120, 20)
    unclipped = np.concatenate([rng.normal(1400, 100, 15), rng.normal(3000, 400, 5)])
    split = modes.split_modes(clipped, unclipped)
    assert (split.high_x, split.high_y) == (0, 5)
    assert split.fisher_p == pytest.approx(0.0471, abs=1e-4)
    scores = pd.DataFrame({
        "env_id": ["HalfCheetah-v5"] * 40 + ["Hopper-v5"] * 40,
        "variant": (["clip"] * 20 + ["none"] * 20) * 2,
        "score": np.concatenate([clipped, unclipped, rng.normal(2000, 300, 40)])})
    table = modes.mode_table(scores, "none").set_index("env_id")
    cheetah, hopper = table.loc["HalfCheetah-v5"], table.loc["Hopper-v5"]
    assert cheetah["bimodal"] and cheetah["p_bimodal_control"] < 0.05
    assert (cheetah["high_runs"], cheetah["high_runs_control"]) == (0, 5)
    assert cheetah["fisher_p"] == pytest.approx(0.0471, abs=1e-4)
    assert not hopper["bimodal"] and np.isnan(hopper["fisher_p"])
