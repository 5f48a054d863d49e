"""A variant against its control: the effect estimate, its interval, the tests and the power.

**Estimand.** The ratio of mean scores, rho = E[X] / E[Y] per env (``rel_diff = rho - 1``),
aggregated over envs as the geometric mean of the per-env ratios (each env weighs the same,
whatever its return scale). Every verdict (better, worse, equivalent) is about this one
quantity; ranks (probability of improvement) are reported beside it as rliable's effect size.

**Method.** Inference on the log scale: ``l = log(mean x / mean y)`` with Welch's standard
error ``se^2 = s_x^2 / (n mean_x^2) + s_y^2 / (m mean_y^2)`` (delta method) and
Welch-Satterthwaite degrees of freedom, summed over envs for the aggregate. Why this and not
the alternatives, measured on normal data with coefficients of variation 0.2-0.6 (the range
of MuJoCo final returns) by ``tests/test_effects.py``:

- the percentile bootstrap of the relative difference covered 82% (n = 5) and 86% (n = 10)
  for a nominal 90%, so it granted ``equivalent`` too easily;
- the delta-method interval of the ratio itself is lopsided: its upper limit missed 6-8% of
  the time for a nominal 5%, because a ratio of means is skewed;
- on the log scale the skew mostly cancels: each one-sided limit misses 3.5-5% for a nominal
  5% at n = 5..20, and the two one-sided tests at the margin keep their level.

The log-scale interval is conservative below 5 runs (each limit misses 2.5-4.5% for a
nominal 5% at 2-4 runs), so it is computed from 2 runs per arm on; P(X > Y)'s bootstrap
interval needs ``MIN_POI_RUNS``.

Welch's t also is what Colas et al. (2019, "A Hitchhiker's Guide to Statistical Comparisons
of RL Algorithms") recommend for RL at small n over rank and bootstrap tests.

The log needs both means of an env on the same side of zero. For negative returns the ratio
is oriented so that > 1 still means better (``|mean y| / |mean x|``). When a control mean is
not clearly away from zero (``ratio_defined``: Fieller's condition), a ratio would blow up
(MountainCarContinuous gave "-42.5%, 90% CI [-111%, +225%]"), so the comparison is made on
the difference of means in units of each env's score range instead (``range_difference``,
rliable's min-max normalisation); ``Comparison.normalisation`` says which.

Shapes: a comparison takes k strata (envs), ``xs`` k arrays [n_i] of the variant's scores and
``ys`` k arrays [m_i] of the control's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

from harness.analysis import stats

VERDICTS = ("better", "worse", "equivalent", "inconclusive")
MIN_POI_RUNS = 5
"""Fewest runs per arm for a P(X > Y) interval: with 3 against 3 the bootstrap has so few
distinct values that it printed 0.00 [0.00, 0.00]; from 5 its coverage is ~89% (95% from 10)."""



def small_n_notes(runs: int) -> list[str]:
    """What a comparison cannot give with ``runs`` per arm and env (empty when it can give
    everything): no test or interval below 2 (Welch's t needs a variance per arm), no P(X>Y)
    interval below ``MIN_POI_RUNS``."""
    if runs < 2:
        return [f"{runs} run per arm and env: no comparison can be tested or given an "
                "interval (Welch's t needs 2 runs per arm); the report shows means only"]
    if runs < MIN_POI_RUNS:
        return [f"{runs} runs per arm and env: P(X>Y) gets no interval below {MIN_POI_RUNS} "
                "runs per arm (its bootstrap interval undercovers there); the ratio's "
                "interval and tests are computed"]
    return []

@dataclass(frozen=True)
class Effect:
    """An effect estimated over k envs, with what its tests need: ``log(rho)`` (``scale``
    ``log``, from ``log_ratio``), or the difference of means in units of each env's score
    range (``linear``, from ``range_difference``, for control means near zero). Either way
    ``interval`` and ``mde`` are in the report's units (``rel_diff``), and +-margin bounds
    equivalence.

    Fields are floats, or arrays of one shape [...] (many comparisons at once, as the
    simulations in the tests use them); every method works elementwise.
    """

    estimate: np.ndarray
    """Mean over envs of log(mean x / mean y) (oriented for negative returns), or of
    (mean x - mean y) / range."""
    se: np.ndarray
    """Welch standard error of ``estimate``."""
    df: np.ndarray
    """Welch-Satterthwaite degrees of freedom (inf when the variance is known exactly)."""
    unit_var: np.ndarray
    """``se^2`` for one run per arm and env (squared coefficients of variation over k^2):
    sample sizes scale it as 1 / n."""
    scale: str = "log"
    """``log`` (a ratio of means) or ``linear`` (a range-normalised difference)."""

    def to_report(self, value: np.ndarray) -> np.ndarray:
        """``estimate``'s units to the report's: rho - 1, or the normalised difference."""
        if self.scale == "linear":
            return np.asarray(value)
        with np.errstate(over="ignore"):  # 2 runs can give an interval up to +inf
            return np.expm1(value)

    def bounds(self, margin: float) -> tuple[float, float]:
        """The equivalence margins in ``estimate``'s units."""
        return (-margin, margin) if self.scale == "linear" else (math.log1p(-margin),
                                                                  math.log1p(margin))

    def interval(self, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """Two-sided ``confidence`` interval of the relative difference rho - 1."""
        half = scipy.stats.t.ppf(0.5 + confidence / 2, self.df) * self.se
        return self.to_report(self.estimate - half), self.to_report(self.estimate + half)

    def p_value(self) -> np.ndarray:
        """Two-sided p-value of H0: rho = 1 (the test the interval inverts)."""
        return 2 * scipy.stats.t.sf(np.abs(self._z(0.0)), self.df)

    def p_equivalence(self, margin: float) -> np.ndarray:
        """Two one-sided tests (Schuirmann 1987) of H0: rho <= 1 - margin or rho >= 1 + margin.

        Rejecting at alpha is the same as the 1 - 2 alpha interval lying inside the margins.
        """
        low, high = self.bounds(margin)
        above = scipy.stats.t.sf(self._z(low), self.df)
        below = scipy.stats.t.cdf(self._z(high), self.df)
        return np.maximum(above, below)

    def mde(self, alpha: float, power: float) -> np.ndarray:
        """Smallest relative effect the two-sided level-``alpha`` test detects with ``power``."""
        t = scipy.stats.t.ppf(1 - alpha / 2, self.df) + scipy.stats.t.ppf(power, self.df)
        return self.to_report(t * self.se)

    def seeds_needed(self, margin: float, alpha: float, power: float,
                     equivalence_alpha: float | None = None) -> np.ndarray:
        """Runs per arm (and env) to resolve ``margin`` with ``power`` at ``alpha`` (the one-sided
        tests at ``equivalence_alpha``, default ``alpha``): the larger
        of the two-sided test's count for a true ratio of 1 + margin,
        ``(z_{1-alpha/2} + z_power)^2 (s_x^2 + s_y^2) / delta^2``, and the two one-sided
        tests' count for a true ratio of 1, ``(z_{1-alpha} + z_{1-(1-power)/2})^2 ... /
        delta^2`` (each one-sided test needs power 1 - beta/2 for both to pass with 1 - beta);
        NaN when unknown.

        ``delta = log(1 + margin)``, the nearer of the two log-scale margins (log(1 - margin)
        is farther from 0), so the power is at least ``power`` at both 1 + margin and
        1 - margin and equals it at 1 + margin.
        """
        one_sided = alpha if equivalence_alpha is None else equivalence_alpha
        z = max(scipy.stats.norm.ppf(1 - alpha / 2) + scipy.stats.norm.ppf(power),
                scipy.stats.norm.ppf(1 - one_sided) + scipy.stats.norm.ppf(1 - (1 - power) / 2))
        delta = margin if self.scale == "linear" else math.log1p(margin)
        return np.maximum(2.0, np.ceil(z**2 * self.unit_var / delta**2))

    def minus(self, other: Effect) -> Effect:
        """``self - other`` for independent runs: the interaction of two effects (e.g. the clip
        effect with reward normalisation against without), variances and df combined."""
        if self.scale != other.scale:
            raise ValueError("an interaction needs two effects on one scale")
        var = self.se**2 + other.se**2
        return Effect(self.estimate - other.estimate, np.sqrt(var),
                      _satterthwaite([self.se**2, other.se**2], [self.df, other.df]),
                      self.unit_var + other.unit_var, self.scale)

    def _z(self, bound: float) -> np.ndarray:
        """t statistic against ``bound``. A zero standard error (all runs tied) makes the
        estimate exact: +-inf, or 0 on the bound; NaN stays NaN."""
        gap = np.asarray(self.estimate - bound, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = gap / self.se
            exact = np.where(gap == 0, 0.0, np.copysign(np.inf, gap))
        return np.where(np.asarray(self.se) == 0, exact, z)


@dataclass(frozen=True)
class Moments:
    """One arm's runs in one env, summarised as Welch's statistics need them."""

    mean: np.ndarray
    """[...] the mean score."""
    var: np.ndarray
    """[...] the sample variance (ddof 1; NaN below two runs)."""
    n: int
    """The runs."""


def moments(x: np.ndarray) -> Moments:
    """``Moments`` of ``x`` [..., n] (runs on the last axis)."""
    x = np.asarray(x, float)
    n = x.shape[-1]
    var = x.var(-1, ddof=1) if n > 1 else np.full(x.shape[:-1], np.nan)
    return Moments(x.mean(-1), var, n)


def log_ratio(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> Effect:
    """The aggregate log ratio of means over k envs: ``xs``/``ys`` k arrays [..., n_i] and
    [..., m_i] (runs on the last axis) -> fields [...] (``log_ratio_of`` their moments)."""
    return log_ratio_of([moments(x) for x in xs], [moments(y) for y in ys])


def log_ratio_of(xs: Sequence[Moments], ys: Sequence[Moments]) -> Effect:
    """``log_ratio`` from each env's ``Moments`` (k of each arm, fields [...]).

    NaN where an env has fewer than two runs in an arm or no ratio (means of different sign
    or zero): an aggregate that silently dropped an env would change its meaning.
    """
    def per_env(x: Moments, y: Moments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(x.mean * y.mean > 0, x.mean / y.mean, np.nan)
            # oriented: for negative returns a smaller magnitude is better
            return (np.log(ratio) * np.sign(y.mean), x.var / x.mean**2, y.var / y.mean**2)

    return _over_envs(xs, ys, per_env, "log")


def range_difference(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
                     ranges: Sequence[float]) -> Effect:
    """The difference of means in units of each env's score range (max - min over every run
    of the env, all variants: rliable's min-max normalisation), averaged over k envs, with
    Welch's standard error and df; ``xs``/``ys`` k arrays [..., n_i] / [..., m_i], ``ranges``
    [k] -> fields [...]. For control means too close to zero for a ratio (``ratio_defined``)."""
    scales = iter([r if r > 0 else np.nan for r in ranges])  # no range: NaN, no verdict

    def per_env(x: Moments, y: Moments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = next(scales)
        return (x.mean - y.mean) / r, x.var / r**2, y.var / r**2

    return _over_envs([moments(x) for x in xs], [moments(y) for y in ys], per_env, "linear")


PerEnv = Callable[[Moments, Moments], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""(x, y) an env's moments -> its effect and the variances of one run of each arm in the
effect's units."""


def _over_envs(xs: Sequence[Moments], ys: Sequence[Moments], per_env: PerEnv,
               scale: str) -> Effect:
    """The mean over envs of ``per_env``'s effects, with Welch's standard error, the
    Welch-Satterthwaite df and the variance at one run per arm and env. NaN where an env has
    fewer than two runs in an arm: one run gives no variance, and an
    aggregate that silently dropped an env would change its meaning."""
    if min(m.n for m in [*xs, *ys]) < 2:
        nan = np.full(np.shape(xs[0].mean), np.nan)
        return Effect(nan, nan, nan, nan, scale)
    k = len(xs)
    effects, parts, dofs = [], [], []
    for x, y in zip(xs, ys, strict=True):
        effect, unit_x, unit_y = per_env(x, y)
        effects.append(effect)
        parts += [unit_x / (x.n * k**2), unit_y / (y.n * k**2)]
        dofs += [x.n - 1, y.n - 1]
    unit = sum(v * (d + 1) for v, d in zip(parts, dofs, strict=True))
    return Effect(sum(effects) / k, np.sqrt(sum(parts)), _satterthwaite(parts, dofs), unit,
                  scale)


def ratio_defined(ys: Sequence[np.ndarray], xs: Sequence[np.ndarray], alpha: float) -> bool:
    """Whether a ratio of means is a sound effect: in every env both means lie on the same
    side of zero and the control mean is significantly away from it (|mean| / se above the
    two-sided t quantile: Fieller's condition for a bounded interval of the ratio)."""
    for x, y in zip(xs, ys, strict=True):
        if len(y) < 2 or not np.mean(x) * np.mean(y) > 0:
            return False
        se = np.std(y, ddof=1) / math.sqrt(len(y))
        if not abs(np.mean(y)) > scipy.stats.t.ppf(1 - alpha / 2, len(y) - 1) * se:
            return False
    return True


def _satterthwaite(variances: Sequence[np.ndarray], dofs: Sequence) -> np.ndarray:
    """Welch-Satterthwaite df of a sum of independent variance estimates (inf if all zero)."""
    total = sum(variances)
    den = sum(np.where(np.isfinite(d), v**2 / d, 0.0) for v, d in
              zip(variances, dofs, strict=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, total**2 / den, np.inf)


def welch_diff(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean difference of ``x`` [n] and ``y`` [m] with Welch's ``confidence`` interval
    (NaN interval with fewer than two runs in an arm)."""
    diff = float(np.mean(x) - np.mean(y))
    if min(len(x), len(y)) < 2:
        return diff, math.nan, math.nan
    vx, vy = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2, _satterthwaite(
        [vx, vy], [len(x) - 1, len(y) - 1])) * math.sqrt(vx + vy))
    return diff, diff - half, diff + half


@dataclass(frozen=True)
class Comparison:
    """A variant against a control over k envs (``comparisons.csv`` columns)."""

    n: int
    """Runs of the variant (all envs)."""
    prob_improvement: float
    """Mean over envs of P(X > Y) + 0.5 P(X = Y) (rliable's effect size)."""
    pi_ci_low: float
    """Stratified percentile bootstrap, ``1 - alpha``; descriptive (its coverage is
    simulated in ``tests/test_effects.py``: ~89% at n = 5, ~95% from n = 10 for 95%)."""
    pi_ci_high: float
    mean_diff: float
    """Mean difference in return units (one env; Welch interval), or, over several envs, the
    relative difference (the mean difference in control-mean units) and its interval."""
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    """rho - 1: geometric mean over envs of the ratio of means, minus one."""
    rel_ci_low: float
    """The ``1 - 2 alpha`` interval of rho - 1: the one equivalence is judged on."""
    rel_ci_high: float
    mde: float
    """Smallest relative effect detectable now with ``power`` at ``alpha``."""
    seeds_needed: float
    """Closed-form runs per arm and env to detect ``margin`` with ``power`` at ``alpha`` (NaN:
    unknown); the report replaces it with the simulated count (``to_decide.priced_rows``)."""
    p_value: float
    """Two-sided test of rho = 1 (log-scale Welch t)."""
    log_se: float
    """Standard error of log rho (of the normalised difference with ``score range``), for
    auditing and for interactions."""
    df: float
    """Welch-Satterthwaite degrees of freedom of log rho."""
    p_tost: float
    """Two one-sided tests of |rho - 1| >= margin."""
    normalisation: str
    """``control mean`` (rel_diff is rho - 1) or ``score range`` (rel_diff is the difference
    of means over each env's score range, for control means too near zero for a ratio)."""


def compare(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], *, alpha: float, power: float,
            margin: float, n_boot: int, seed: int,
            ranges: Sequence[float] | None = None) -> Comparison:
    """Compare variant runs ``xs`` (k arrays [n_i]) with control runs ``ys`` (k arrays [m_i]).

    The effect is the ratio of means (``log_ratio``) when ``ratio_defined``; else, given the
    envs' score ``ranges`` [k], the range-normalised difference (``range_difference``)."""
    xs = [np.asarray(x, float) for x in xs]
    ys = [np.asarray(y, float) for y in ys]
    samples = [a for pair in zip(xs, ys, strict=True) for a in pair]
    poi = float(_mean_poi(*samples, axis=-1))
    pi_low, pi_high = (math.nan, math.nan) if min(map(len, samples)) < MIN_POI_RUNS else (
        stats.percentile_ci(stats.bootstrap_distribution(samples, _mean_poi, n_boot=n_boot,
                                                         seed=seed), 1 - alpha))
    ratio = (log_ratio(xs, ys) if ranges is None or ratio_defined(ys, xs, alpha)
             else range_difference(xs, ys, ranges))
    rel = float(ratio.to_report(ratio.estimate))
    rel_low, rel_high = map(float, ratio.interval(1 - 2 * alpha))
    diff = welch_diff(xs[0], ys[0], 1 - alpha) if len(xs) == 1 else (
        rel, *map(float, ratio.interval(1 - alpha)))
    seeds = ratio.seeds_needed(margin, alpha, power)
    return Comparison(
        n=sum(len(x) for x in xs), prob_improvement=poi, pi_ci_low=float(pi_low),
        pi_ci_high=float(pi_high), mean_diff=diff[0], diff_ci_low=diff[1], diff_ci_high=diff[2],
        rel_diff=rel, rel_ci_low=rel_low, rel_ci_high=rel_high,
        mde=float(ratio.mde(alpha, power)), seeds_needed=float(seeds),
        p_value=float(ratio.p_value()), log_se=float(ratio.se), df=float(ratio.df),
        p_tost=float(ratio.p_equivalence(margin)),
        normalisation="control mean" if ratio.scale == "log" else "score range")


def verdict(p_holm: float, p_tost_holm: float, rel_diff: float, *, alpha: float,
            equivalence_alpha: float | None = None) -> str:
    """``better``/``worse`` when the corrected test of rho = 1 rejects at ``alpha`` (direction
    from the estimate); else ``equivalent`` when the corrected two one-sided tests reject at
    ``equivalence_alpha`` (default ``alpha``; a sequential look's one-sided level,
    ``alpha_spending.Levels``): the effect lies within the margin; else ``inconclusive``. A
    significant difference wins over equivalence: with many runs a small real effect is
    still evidence of one."""
    if p_holm < alpha and rel_diff != 0:
        return "better" if rel_diff > 0 else "worse"
    if p_tost_holm < (alpha if equivalence_alpha is None else equivalence_alpha):
        return "equivalent"
    return "inconclusive"


def _mean_poi(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over envs of P(X > Y); samples alternate x_1, y_1, x_2, y_2, ..."""
    return np.mean([stats.probability_of_improvement(x, y, axis=axis)
                    for x, y in zip(samples[::2], samples[1::2], strict=True)], axis=0)
