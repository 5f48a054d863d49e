"""Statistics for comparing RL runs: pure numpy/scipy functions on score arrays.

Follows rliable (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice"):
interquartile mean (IQM) as the robust aggregate, probability of improvement as the effect
size, percentile bootstrap confidence intervals, resampling runs independently within each
env (stratified bootstrap). rliable itself cannot be installed beside pandas 3, so the
bootstrap is ``scipy.stats.bootstrap``; every function takes an explicit seed.

Shapes: ``n`` runs of a variant, ``m`` runs of the control, ``k`` strata (envs). A sequence
of per-env arrays stands for a stratified sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

VERDICTS = ("better", "worse", "equivalent", "inconclusive")


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


@dataclass(frozen=True)
class Comparison:
    """A variant against a control over k strata; CIs are percentile bootstrap intervals."""

    n: int
    """Runs of the variant (all strata)."""
    prob_improvement: float
    """Mean over strata of P(X > Y) + 0.5 P(X = Y)."""
    pi_ci_low: float
    pi_ci_high: float
    mean_diff: float
    """Mean over strata of mean(X) - mean(Y)."""
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    """Mean over strata of (mean(X) - mean(Y)) / |mean(Y)|."""
    rel_ci_low: float
    """Lower end of the relative difference's equivalence-level (default 90%) CI."""
    rel_ci_high: float
    p_value: float
    """Two-sided Mann-Whitney U test; van Elteren's stratified version for k > 1."""


def compare(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], *, n_boot: int, seed: int,
            confidence: float = 0.95, equivalence_confidence: float = 0.90) -> Comparison:
    """Compare variant runs ``xs`` (k arrays [n_i]) with control runs ``ys`` (k arrays [m_i]).

    Strata are averaged with equal weight, as rliable's aggregate probability of improvement;
    the bootstrap resamples each (stratum, arm) sample on its own. For k > 1 the inputs should
    be normalised per stratum so the strata share a scale.
    """
    xs = [np.asarray(x, float) for x in xs]
    ys = [np.asarray(y, float) for y in ys]
    point = _effects(*_interleave(xs, ys), axis=-1)
    dist = bootstrap_distribution(_interleave(xs, ys), _effects, n_boot=n_boot, seed=seed)
    (pi_low, diff_low, _), (pi_high, diff_high, _) = percentile_ci(dist, confidence)
    rel_low, rel_high = percentile_ci(dist[2], equivalence_confidence)
    p_value = (mann_whitney_p(xs[0], ys[0]) if len(xs) == 1
               else stratified_mann_whitney_p(xs, ys))
    return Comparison(
        n=sum(len(x) for x in xs),
        prob_improvement=float(point[0]), pi_ci_low=float(pi_low), pi_ci_high=float(pi_high),
        mean_diff=float(point[1]), diff_ci_low=float(diff_low), diff_ci_high=float(diff_high),
        rel_diff=float(point[2]), rel_ci_low=float(rel_low), rel_ci_high=float(rel_high),
        p_value=p_value,
    )


def _interleave(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [a for pair in zip(xs, ys, strict=True) for a in pair]


def _effects(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """[PoI, mean diff, relative diff] averaged over strata; samples alternate x_1, y_1, x_2, ..."""
    per_stratum = []
    for x, y in zip(samples[::2], samples[1::2], strict=True):
        y_mean = np.abs(np.mean(y, axis=axis))
        diff = np.mean(x, axis=axis) - np.mean(y, axis=axis)
        # undefined for a zero control mean: NaN, so no equivalence can be claimed
        rel = np.divide(diff, y_mean, out=np.full_like(diff, np.nan), where=y_mean > 0)
        per_stratum.append(np.stack([probability_of_improvement(x, y, axis=axis), diff, rel]))
    return np.mean(per_stratum, axis=0)


def mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value of ``x`` [n] vs ``y`` [m] (1.0 when all values tie)."""
    if len(x) == 0 or len(y) == 0:
        return float("nan")
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    return float(scipy.stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def stratified_mann_whitney_p(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> float:
    """Two-sided van Elteren test: Mann-Whitney stratified by env, ``xs``/``ys`` k arrays.

    Pooling normalised scores of several envs would mix their spreads and signs; instead each
    env's rank sum enters with weight 1/(N_k + 1) (N_k runs in env k), which weighs envs
    about equally, like the averaged probability of improvement. Normal approximation with
    the tie correction; for one env it equals the asymptotic Mann-Whitney test without
    continuity correction.
    """
    stat = mean = var = 0.0
    for x, y in zip(xs, ys, strict=True):
        n, m = len(x), len(y)
        if n == 0 or m == 0:
            continue
        pooled = np.concatenate([x, y])
        big_n, weight = n + m, 1.0 / (n + m + 1)
        ties = np.unique(pooled, return_counts=True)[1]
        tie_term = (ties**3 - ties).sum() / (big_n * (big_n - 1)) if big_n > 1 else 0.0
        stat += weight * scipy.stats.rankdata(pooled)[:n].sum()
        mean += weight * n * (big_n + 1) / 2
        var += weight**2 * n * m / 12 * (big_n + 1 - tie_term)
    if mean == 0:  # no env with runs in both arms
        return float("nan")
    if var <= 0:  # every value tied within each env
        return 1.0
    return float(2 * scipy.stats.norm.sf(abs(stat - mean) / np.sqrt(var)))


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


def verdict(p_holm: float, prob_improvement: float, rel_ci_low: float, rel_ci_high: float,
            *, margin: float = 0.10, alpha: float = 0.05) -> str:
    """``better``/``worse`` when the corrected test rejects (direction from P(X > Y) vs 0.5),
    ``equivalent`` when the relative difference's CI lies inside (-margin, margin) (an
    equivalence test in the TOST spirit: a 90% CI for a 5% level), else ``inconclusive``."""
    if p_holm < alpha and prob_improvement != 0.5:
        return "better" if prob_improvement > 0.5 else "worse"
    if -margin < rel_ci_low and rel_ci_high < margin:
        return "equivalent"
    return "inconclusive"
