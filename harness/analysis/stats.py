"""Descriptive statistics of RL runs: pure numpy/scipy functions on score arrays.

Follows rliable (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice"):
interquartile mean (IQM) as the robust aggregate, probability of improvement as an effect
size, percentile bootstrap confidence intervals, resampling runs independently within each
env (stratified bootstrap), and Holm's correction. rliable itself cannot be installed beside
pandas 3, so the bootstrap is ``scipy.stats.bootstrap``; every function takes an explicit
seed. The tests behind verdicts live in ``harness.analysis.effects``.

Shapes: ``n`` runs of a variant, ``m`` runs of the control, ``k`` strata (envs). A sequence
of per-env arrays stands for a stratified sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.stats


def iqm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean along ``axis``: the mean of the middle 50% of values.

    ``x``: [..., n] -> [...]. Drops ``floor(n / 4)`` values at each end, as rliable's
    ``scipy.stats.trim_mean(x, 0.25)``.
    """
    return scipy.stats.trim_mean(x, proportiontocut=0.25, axis=axis)


def describe(x: np.ndarray) -> dict[str, float]:
    """Mean, sample std (ddof 1, NaN for one run), median and IQM of ``x``: [n]."""
    x = np.asarray(x, dtype=float)
    return {
        "mean": float(np.mean(x)),
        "std": float(np.std(x, ddof=1)) if x.size > 1 else float("nan"),
        "median": float(np.median(x)),
        "iqm": float(iqm(x)),
    }


def bootstrap_distribution(samples: Sequence[np.ndarray], statistic: Callable[..., np.ndarray],
                           *, n_boot: int, seed: int) -> np.ndarray:
    """Statistic over ``n_boot`` resamplings, each sample resampled with replacement on its own.

    ``samples``: arrays [n_i, ...] resampled along axis 0 (independent samples, so passing one
    array per env and arm is rliable's stratified bootstrap). ``statistic(*samples, axis)``
    returns [...] or [s, ...]. Returns [..., n_boot] or [s, ..., n_boot]; all NaN (last axis
    of length 1) when a sample has fewer than two values: one run gives no interval.
    """
    if any(len(s) < 2 for s in samples):
        return np.full(np.shape(statistic(*samples, axis=0)) + (1,), np.nan)
    with warnings.catch_warnings():  # scipy's own interval is unused: NaNs are ours to handle
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        res = scipy.stats.bootstrap(tuple(samples), statistic, n_resamples=n_boot, axis=0,
                                    vectorized=True, paired=False, method="percentile", rng=seed)
    return res.bootstrap_distribution


def percentile_ci(dist: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of a bootstrap distribution [..., n_boot] -> (low [...], high [...])."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(dist, [tail, 100 - tail], axis=-1)
    return low, high


def iqm_ci(x: np.ndarray, *, n_boot: int, seed: int,
           confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the IQM of ``x``: [n] (NaN when n < 2)."""
    dist = bootstrap_distribution([np.asarray(x, float)], iqm, n_boot=n_boot, seed=seed)
    low, high = percentile_ci(dist, confidence)
    return float(low), float(high)


def mean_ci(values: np.ndarray, *, n_boot: int, seed: int,
            confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs with a bootstrap CI, per column: ``values`` [n_runs, t] -> 3 x [t].

    Used for learning-curve bands; the CI is NaN when there is a single run.
    """
    values = np.asarray(values, float)
    dist = bootstrap_distribution([values], np.mean, n_boot=n_boot, seed=seed)
    low, high = percentile_ci(dist, confidence)
    return values.mean(axis=0), low, high


def probability_of_improvement(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + 0.5 P(X = Y) over all pairs: ``x`` [..., n], ``y`` [..., m] -> [...].

    Equals the Mann-Whitney U statistic of ``x`` divided by n*m (rliable's per-task
    ``probability_of_improvement``); computed from average ranks, so ties count one half.
    """
    x, y = np.moveaxis(np.asarray(x, float), axis, -1), np.moveaxis(np.asarray(y, float), axis, -1)
    n, m = x.shape[-1], y.shape[-1]
    ranks = scipy.stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
    u = ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2
    return u / (n * m)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, [c] -> [c]; NaNs are kept and not counted.

    Step-down: the i-th smallest of c p-values is multiplied by (c - i + 1), then a running
    maximum keeps the adjusted values monotone; capped at 1.
    """
    p = np.asarray(p_values, float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * (len(order) - np.arange(len(order)))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out
