"""Monte-Carlo error of a simulated rate, for coverage tests bounded on both sides."""

import math


def mc_bounds(expected: float, simulations: int, k: float = 3.0) -> tuple[float, float]:
    """``expected`` -+ ``k`` binomial standard errors of a rate over ``simulations`` draws:
    where a measured coverage falls unless the interval is too narrow or too wide."""
    error = k * math.sqrt(expected * (1 - expected) / simulations)
    return expected - error, expected + error
