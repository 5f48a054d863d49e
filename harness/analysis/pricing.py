"""Decisions priced by simulation: what a claim's design can decide, before its runs.

A claim needs several comparisons (C2: every clipped form against unclipped; C3: every
threshold), each over k envs, tested at the design's looks with Holm's correction over the
comparisons still open and each look's level. A closed-form sample size counts one
comparison at one assumed effect; this module instead *runs the rule*: it draws each
comparison's scores per env from the pilot's means and spreads (normal, the variant's mean
``exp(theta)`` times the control's), replays the looks exactly as the runner decides them,
and reports, at each true effect (by default 0, +-margin/2, +-margin), the probability that
every comparison of the claim is decided by the design's last look, and the expected runs.
What a claim needs in runs, and whether its design can decide it, is ``to_decide``'s (built on
``price``).

Shapes: ``c`` comparisons, ``m`` controls, ``k`` envs, ``N`` simulated studies, ``L`` looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.analysis import alpha_spending, effects, meta
from harness.runs.sequential_record import SequentialRecord


@dataclass(frozen=True)
class ClaimRule:
    """A claim's decision rule and the pilot it is priced under."""

    control_mean: np.ndarray
    """[k] or [m, k]: each control's pilot mean score per env (non-zero)."""
    control_sd: np.ndarray
    """[k] or [m, k]: each control's pilot standard deviation per env."""
    variant_cv: np.ndarray
    """[c, k] each variant's pilot coefficient of variation (sd / mean) per env: its sd
    scales with its mean as the true effect moves it."""
    looks: tuple[int, ...]
    """Runs per arm and env at each look, increasing (one look: a fixed design)."""
    alpha: float = 0.05
    """Spent over the looks; each look's tests run at its share (``levels``)."""
    margin: float = 0.10
    """Equivalence margin on the ratio of means (+-margin)."""
    exact: bool = True
    """Exact Lan-DeMets boundaries (the runner's ``alpha_spending.levels``); False: the union
    bound (``alpha_spending.look_levels``, the same level for both kinds of test)."""
    aggregate: str = "fixed"
    """``fixed``: ``effects.log_ratio``'s mean over envs (Welch); ``random``: the
    random-effects HKSJ interval over envs (``meta``)."""
    tau: float = 0.0
    """Between-env sd of the true log ratios drawn for each comparison and env."""
    control_of: tuple[int, ...] = ()
    """[c] the row of ``control_mean`` each comparison's control is (empty: row 0 for all):
    comparisons that share a control share its drawn runs, as in the study."""
    record: SequentialRecord | None = None
    """Looks a study already took: their recorded levels are kept, later looks spend what
    they left (``alpha_spending.levels``)."""

    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """(two-sided levels of the test of equal means [L], one-sided levels of each of the
        two tests of equivalence [L])."""
        if not self.exact:
            union = alpha_spending.look_levels(self.looks, self.alpha)
            return union, union
        at = alpha_spending.levels(self.looks, self.alpha, self.record)
        return at.equal, at.equivalence


@dataclass(frozen=True)
class Price:
    """What a rule decides at one true effect, over N simulated studies."""

    effect: float
    """True relative effect rho - 1 of every comparison (its log is the mean over envs)."""
    p_decide: float
    """P(every comparison of the claim is decided by the last look)."""
    p_decide_each: np.ndarray
    """[c] P(that comparison is decided by the last look)."""
    p_by_look: np.ndarray
    """[L] P(every comparison of the claim is decided by look j)."""
    verdicts: np.ndarray
    """[c, 4] share of studies ending in each of ``effects.VERDICTS`` per comparison."""
    expected_runs: float
    """E[runs per arm and env when the claim stops] (the last look if it never decides)."""
    expected_total: float
    """E[runs over every arm and env]: each variant stops at its decision, the control at the
    claim's end."""
    studies: int
    """N, the simulated studies (Monte-Carlo error about sqrt(p (1 - p) / N))."""


def draw_scores(rule: ClaimRule, effect: float | np.ndarray, studies: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores up to the last look at true relative effects ``effect`` (a float, or
    [c, k] per comparison and env): (variants [N, c, k, n_max], each comparison's control
    [N, c, k, n_max], the same draws where comparisons share a control)."""
    mean = np.atleast_2d(np.asarray(rule.control_mean, float))
    sd = np.atleast_2d(np.asarray(rule.control_sd, float))
    cv = np.asarray(rule.variant_cv, float)
    c, k = cv.shape
    n = rule.looks[-1]
    of = np.asarray(rule.control_of or (0,) * c)
    theta = np.log1p(np.broadcast_to(effect, (c, k))) + \
        rule.tau * rng.standard_normal((studies, c, k))
    variant_mean = mean[of] * np.exp(theta)
    variants = variant_mean[..., None] + (np.abs(variant_mean) * cv)[..., None] * \
        rng.standard_normal((studies, c, k, n))
    control = mean[..., None] + sd[..., None] * rng.standard_normal((studies, *mean.shape, n))
    return variants, control[:, of]


def holm_rows(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis, NaNs left out (``stats.holm`` per row):
    [..., c] -> [..., c]."""
    p = np.asarray(p, float)
    order = np.argsort(np.where(np.isnan(p), np.inf, p), axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, -1)
    m = (~np.isnan(p)).sum(-1, keepdims=True)
    scaled = np.where(np.isnan(ranked), np.nan, ranked * (m - np.arange(p.shape[-1])))
    scaled = np.minimum(np.fmax.accumulate(np.nan_to_num(scaled, nan=-np.inf), axis=-1), 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, scaled, -1)
    return np.where(np.isnan(p), np.nan, out)


class Prefix:
    """Running sums of one arm's drawn scores along the runs, so that every look's moments
    cost one read instead of a pass over its first n runs (a design of 20 looks reads 200
    runs, not 2,100). Centred on each cell's first run, where float cancellation in
    ``sum x^2 - n mean^2`` is negligible at the spreads of RL returns (cv >= 0.01: relative
    error below 1e-11)."""

    def __init__(self, scores: np.ndarray) -> None:
        """``scores`` [N, c, k, n]: runs on the last axis."""
        self.first = scores[..., :1]
        centred = scores - self.first
        self.sums = np.cumsum(centred, -1)
        self.squares = np.cumsum(centred**2, -1)

    def at(self, n: int, env: int | slice) -> effects.Moments:
        """The first ``n`` runs' moments in ``env`` (fields [N, c] or [N, c, k])."""
        total, squares = self.sums[:, :, env, n - 1], self.squares[:, :, env, n - 1]
        return effects.Moments(self.first[:, :, env, 0] + total / n,
                               np.maximum(squares - total**2 / n, 0.0) / (n - 1), n)


def _look_effect(rule: ClaimRule, variants: Prefix, control: Prefix, n: int) -> effects.Effect:
    """Each comparison's over-env effect from the first ``n`` runs: fields [N, c]."""
    k = control.sums.shape[2]
    if rule.aggregate == "fixed":
        return effects.log_ratio_of([variants.at(n, e) for e in range(k)],
                                    [control.at(n, e) for e in range(k)])
    per_env = effects.log_ratio_of([variants.at(n, slice(None))], [control.at(n, slice(None))])
    shape = variants.sums.shape[:3]
    y, v = np.broadcast_to(per_env.estimate, shape), np.broadcast_to(per_env.se, shape) ** 2
    return meta.random_effects(y, v, confidence=1 - 2 * rule.alpha).effect()


def decide(rule: ClaimRule, variants: np.ndarray,
           control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replay the looks on drawn scores (``draw_scores``): at each look, the comparisons
    still open are tested (equal means first, then the two one-sided tests, as
    ``effects.verdict``), Holm-corrected over the open ones, at the look's levels.

    Returns (look index [N, c], -1 if never decided; verdict [N, c] as an index into
    ``effects.VERDICTS``)."""
    if rule.aggregate not in ("fixed", "random"):
        raise ValueError(f"aggregate must be fixed or random, got {rule.aggregate!r}")
    levels, tost_levels = rule.levels()
    shape = variants.shape[:2]
    variants, control = Prefix(variants), Prefix(control)
    where = np.full(shape, -1)
    verdict = np.full(shape, effects.VERDICTS.index("inconclusive"))
    for j, n in enumerate(rule.looks):
        open_ = where < 0
        if not open_.any():
            break
        ratio = _look_effect(rule, variants, control, n)
        p = holm_rows(np.where(open_, ratio.p_value(), np.nan))
        p_tost = holm_rows(np.where(open_, ratio.p_equivalence(rule.margin), np.nan))
        differs = open_ & (p < levels[j]) & (ratio.estimate != 0)
        same = open_ & ~differs & (p_tost < tost_levels[j])
        verdict = np.where(differs, np.where(ratio.estimate > 0, 0, 1), verdict)
        verdict = np.where(same, effects.VERDICTS.index("equivalent"), verdict)
        where = np.where(differs | same, j, where)
    return where, verdict


def price(rule: ClaimRule, effect: float | np.ndarray, *, studies: int = 4000, seed: int = 0,
          chunk: int = 2000) -> Price:
    """Simulate ``studies`` studies of ``rule`` at a true relative effect ``effect`` (a float
    for every comparison and env, or [c, k]; spread by ``rule.tau``), in chunks of ``chunk``
    studies."""
    rng = np.random.default_rng(seed)
    wheres, verdicts = [], []
    for start in range(0, studies, chunk):
        variants, control = draw_scores(rule, effect, min(chunk, studies - start), rng)
        where, verdict = decide(rule, variants, control)
        wheres.append(where)
        verdicts.append(verdict)
    where, verdict = np.concatenate(wheres), np.concatenate(verdicts)
    looks = np.asarray(rule.looks, float)
    last = len(looks) - 1
    decided = where >= 0
    stop_each = looks[np.where(decided, where, last)]  # [N, c]
    stop = looks[np.where(decided.all(1), where.max(1), last)]  # [N]
    k = np.asarray(rule.variant_cv).shape[1]
    claim_at = np.where(decided.all(1), where.max(1), len(looks))  # [N]
    by_look = (claim_at[:, None] <= np.arange(len(looks))).mean(0)
    shares = np.stack([(verdict == i).mean(0) for i in range(len(effects.VERDICTS))], -1)
    return Price(effect=float(np.mean(effect)), p_decide=float(decided.all(1).mean()),
                 p_decide_each=decided.mean(0), p_by_look=by_look, verdicts=shares,
                 expected_runs=float(stop.mean()),
                 expected_total=float(k * (stop + stop_each.sum(1)).mean()), studies=studies)


def price_table(rule: ClaimRule, *, studies: int = 4000, seed: int = 0) -> list[Price]:
    """``price`` at true effects 0, +-margin/2 and +-margin (the same seed for each: common
    random numbers, so differences between effects are not Monte-Carlo noise)."""
    m = rule.margin
    return [price(rule, e, studies=studies, seed=seed) for e in (-m, -m / 2, 0.0, m / 2, m)]
