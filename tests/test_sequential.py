"""The group-sequential stopping rule (harness.analysis.sequential): its looks, its levels, and
its error rates simulated over thousands of experiments (vectorised)."""

import math

import numpy as np
import pytest

from harness.analysis import effects, sequential

ALPHA, MARGIN = 0.05, 0.10
EXPERIMENTS = 4000
MC = 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)
LOOKS = sequential.schedule(10, 60, 10)


def test_schedule():
    assert LOOKS == [10, 20, 30, 40, 50, 60]
    assert sequential.schedule(10, 25, 10) == [10, 20, 25]
    assert sequential.schedule(5, 5, 10) == [5]


def test_levels_spend_alpha_mostly_late():
    levels = sequential.look_levels(LOOKS, ALPHA)
    assert levels.sum() == pytest.approx(ALPHA)
    assert (np.diff(levels) > 0).all() and levels[0] < 1e-5
    assert sequential.look_levels([30], ALPHA) == pytest.approx([ALPHA])  # one look: fixed
    with pytest.raises(ValueError, match="increase"):
        sequential.look_levels([20, 10], ALPHA)


def simulate(rho, cv, seed, looks=LOOKS):
    """Every experiment's runs up to the last look; the look j analysis uses the first n_j."""
    rng = np.random.default_rng(seed)
    x = rng.normal(rho * 100, cv * 100, (EXPERIMENTS, looks[-1]))
    y = rng.normal(100, cv * 100, (EXPERIMENTS, looks[-1]))
    return [effects.log_ratio([x[:, :n]], [y[:, :n]]) for n in looks]


def rates(ratios, levels):
    where, verdict = sequential.first_decisions(ratios, levels, MARGIN)
    names = np.array(effects.VERDICTS)[verdict]
    return where, names


@pytest.mark.parametrize("cv", [0.2, 0.5])
def test_no_effect_is_rarely_called_better_or_worse_over_all_looks(cv):
    ratios = simulate(1.0, cv, seed=int(cv * 10))
    _, names = rates(ratios, sequential.look_levels(LOOKS, ALPHA))
    assert np.isin(names, ["better", "worse"]).mean() <= ALPHA + MC
    # testing each look at alpha would not hold: the reason the levels are split
    _, naive = rates(ratios, np.full(len(LOOKS), ALPHA))
    assert np.isin(naive, ["better", "worse"]).mean() > ALPHA + MC


@pytest.mark.parametrize("rho", [1 + MARGIN, 1 - MARGIN])
def test_an_effect_at_the_margin_is_rarely_called_equivalent_over_all_looks(rho):
    ratios = simulate(rho, 0.1, seed=int(rho * 100))
    _, names = rates(ratios, sequential.look_levels(LOOKS, ALPHA))
    assert (names == "equivalent").mean() <= ALPHA + MC


def test_a_large_effect_stops_at_an_early_look():
    ratios = simulate(1.5, 0.2, seed=3)
    where, names = rates(ratios, sequential.look_levels(LOOKS, ALPHA))
    assert (names == "better").mean() > 0.99
    assert (where <= 1).mean() > 0.9  # decided with 10 or 20 runs per arm, not 60


def test_no_effect_with_little_noise_stops_as_equivalent():
    ratios = simulate(1.0, 0.1, seed=4)
    where, names = rates(ratios, sequential.look_levels(LOOKS, ALPHA))
    assert (names == "equivalent").mean() > 0.9
    assert np.median(where) < len(LOOKS) - 1  # before the last look
