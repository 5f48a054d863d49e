"""Runs to decide, priced by simulation: the one answer ``harness plan``, ``harness run
--dry-run`` and the report (``comparisons.csv`` ``seeds_needed``, ``claims.csv``
``seeds_needed`` and ``p_decide``, report.md's "to decide") all print.

``to_decide`` runs a claim's (or one comparison's) actual rule (``pricing``: every comparison,
the design's looks and max, Holm within looks, the exact Lan-DeMets levels of the looks a
study already took, random effects over envs where that is the estimand) under the current
data's (or a pilot's) means and spreads, and answers: the probability that the rule decides by
the design's max, and the fewest runs per arm and env at which that probability reaches the
set power: within the design, the first of its looks (a fixed design: the fewest runs); beyond
it, "not decidable within this design" and the max that would do, stepping the design's own
schedule, or that no max up to ``CAP`` does (random effects over few envs: the interval does
not shrink below about tau / sqrt(k), ``over_envs.seed_floor``).

``pricer`` builds the rule from scores: each arm's per-env mean and sd are taken as the
truth, so the effect priced is the current estimate, per env (on the gain-over-random scale
for random effects, as ``over_envs``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from harness.analysis import over_envs, pricing, tables
from harness.runs.sequential_record import SequentialRecord
from harness.runs.spec import AnalysisSettings

STUDIES = 2000
"""Simulated studies behind P(decide): Monte-Carlo error sqrt(p (1 - p) / N), at most 1.1
points (0.9 at p = 0.8)."""
SEARCH_STUDIES = 1000
"""Studies per candidate max while searching the runs that reach the power: 1.3 points at
p = 0.8, so the count found is within about one step of the exact one."""
CAP = 200
"""The largest max (runs per arm and env) searched: beyond it, "no max up to CAP"."""
SEED = 0
"""One generator seed for every surface, so plan, dry-run and report print one number."""


@dataclass(frozen=True)
class ToDecide:
    """What a claim's (or a comparison's) design can decide, at the effect priced."""

    runs: float
    """Fewest runs per arm and env at which P(decide) reaches ``power``: the first look of
    the design that does, else the max a longer design needs; NaN when none up to ``cap``
    does or the data cannot be priced."""
    p_decide: float
    """P(decided by the design's max) at the effect priced (NaN when not priced)."""
    design_max: int
    """The design's max: its last look (a fixed design: its seeds)."""
    power: float
    """The target probability (``analysis.power``)."""
    why: str = ""
    """Why no count: too few runs to price, or the envs' spread bounds the interval."""
    cap: int = CAP
    """The largest max searched."""

    @property
    def decidable(self) -> bool:
        """Within this design: P(decide by max) reaches ``power``."""
        return self.runs <= self.design_max

    def count(self) -> float:
        """``seeds_needed`` as the CSVs write it: the runs, NaN (an empty cell) without one."""
        return float(self.runs)

    def note(self) -> str:
        """The CSVs' ``to_decide`` cell: empty when decidable within the design."""
        if self.decidable:
            return ""
        if math.isnan(self.p_decide):
            return f"not priced: {self.why}"
        head = (f"not decidable within this design (P(decided by {self.design_max}) "
                f"{self.p_decide:.2f})")
        if math.isnan(self.runs):
            return (f"{head}: no max up to {self.cap} runs per arm and env reaches "
                    f"{self.power:.0%}" + (f" ({self.why})" if self.why else ""))
        return f"{head}: a max of {self.runs:.0f} runs per arm and env would reach {self.power:.0%}"

    def line(self) -> str:
        """The one line every surface prints."""
        if self.decidable:
            return (f"to decide: {self.runs:.0f} runs per arm and env (P(decided by "
                    f"{self.design_max}) {self.p_decide:.2f}, simulated)")
        return f"to decide: {self.note()}"


def to_decide(rule: pricing.ClaimRule, effect: float | np.ndarray, *, power: float,
              cap: int = CAP, studies: int = STUDIES, seed: int = SEED) -> ToDecide:
    """Price ``rule`` at true relative effect ``effect`` (float or [c, k]) (module
    docstring)."""
    looks, n_max = rule.looks, rule.looks[-1]
    here = pricing.price(rule, effect, studies=studies, seed=seed)
    out = ToDecide(math.nan, here.p_decide, n_max, power, cap=cap)

    def reaches(design: tuple[int, ...]) -> bool:
        return pricing.price(replace(rule, looks=design), effect, studies=SEARCH_STUDIES,
                             seed=seed).p_decide >= power

    if here.p_decide >= power:
        if len(looks) > 1:
            return replace(out, runs=looks[int(np.argmax(here.p_by_look >= power))])
        fewest = _first([(n,) for n in range(2, n_max)], reaches)
        return replace(out, runs=fewest[-1] if fewest else n_max)
    step = looks[-1] - looks[-2] if len(looks) > 1 else 1
    longer = [(*looks, *range(n_max + step, m + 1, step)) if len(looks) > 1 else (m,)
              for m in range(n_max + step, cap + 1, step)]
    found = _first(longer, reaches)
    why = ("the envs' spread bounds the random-effects interval: more envs are needed, "
           "not seeds" if rule.aggregate == "random" else "")
    return replace(out, runs=found[-1] if found else math.nan, why="" if found else why)


def _first(designs: list[tuple[int, ...]], reaches: Callable[[tuple[int, ...]], bool]
           ) -> tuple[int, ...] | None:
    """The first of ``designs`` (ordered by max) that ``reaches``, by bisection (P(decide)
    grows with the max); None when the last does not."""
    if not designs or not reaches(designs[-1]):
        return None
    low, high = 0, len(designs) - 1
    while low < high:
        mid = (low + high) // 2
        if reaches(designs[mid]):
            high = mid
        else:
            low = mid + 1
    return designs[low]


def unpriced(why: str, design_max: int, power: float) -> ToDecide:
    """A count the data cannot give (``why``)."""
    return ToDecide(math.nan, math.nan, design_max, power, why=why)


Pricer = Callable[..., ToDecide]
"""``price(pairs, estimand, looks, envs=None) -> ToDecide``: a claim's comparisons (variant,
control) over ``envs`` (default the pricer's), judged on ``estimand`` (``fixed`` |
``random``) at ``looks``."""


def pricer(scores: pd.DataFrame, envs: Sequence[str], settings: AnalysisSettings, *,
           record: SequentialRecord | None = None,
           random_scores: Mapping[str, float] | None = None) -> Pricer:
    """Prices rules on ``scores`` (``env_id``, ``variant``, ``score`` per run), taking each
    arm's per-env mean and sd as the truth (the envs' spread of true effects is in the
    per-env ratios priced: ``ClaimRule.tau`` stays 0, not counting it twice); ``record``'s
    looks keep their levels (for the design's own looks only); ``random_scores`` put
    random-effects rules on the gain scale."""
    cells = scores.groupby(["env_id", "variant"])["score"].agg(["mean", "std", "count"])
    done: dict[tuple, ToDecide] = {}  # claims with the same comparisons (C1, C2) price once

    def price(pairs: Sequence[tuple[str, str]], estimand: str, looks: Sequence[int],
              over: Sequence[str] | None = None) -> ToDecide:
        key = (tuple(pairs), estimand, tuple(looks), None if over is None else tuple(over))
        if key not in done:
            done[key] = priced(pairs, estimand, tuple(int(n) for n in looks), over)
        return done[key]

    def priced(pairs: Sequence[tuple[str, str]], estimand: str, looks: tuple[int, ...],
               over: Sequence[str] | None) -> ToDecide:
        used = [e for e in (envs if over is None else over)
                if all((e, a) in cells.index and cells.loc[(e, a), "count"] >= 2
                       for p in pairs for a in p)]
        offset = dict.fromkeys(used, 0.0)
        if estimand == "random":
            used, offset = _gain_envs(scores, pairs, used, random_scores or {}, settings.alpha)
        if not used or not pairs:
            return unpriced("too few runs to estimate the spread", looks[-1], settings.power)
        controls = list(dict.fromkeys(c for _, c in pairs))
        mean = {a: np.array([cells.loc[(e, a), "mean"] - offset[e] for e in used])
                for p in pairs for a in p}
        sd = {a: np.array([cells.loc[(e, a), "std"] for e in used]) for p in pairs for a in p}
        ratio = np.array([mean[v] / mean[c] for v, c in pairs])
        if not np.all(np.isfinite(ratio) & (ratio > 0)):
            return unpriced("a mean near zero or of the other sign: no ratio", looks[-1],
                            settings.power)
        rule = pricing.ClaimRule(
            control_mean=np.array([mean[c] for c in controls]),
            control_sd=np.array([sd[c] for c in controls]),
            variant_cv=np.array([sd[v] / np.abs(mean[v]) for v, _ in pairs]),
            looks=looks, alpha=settings.alpha, margin=settings.margin, aggregate=estimand,
            control_of=tuple(controls.index(c) for _, c in pairs),
            record=record if record and looks == _taken_prefix(record, looks) else None)
        return to_decide(rule, ratio - 1, power=settings.power)

    return price


def _taken_prefix(record: SequentialRecord, looks: tuple[int, ...]) -> tuple[int, ...]:
    """``looks`` when the record's looks are its first ones (the record's design), else ()."""
    taken = tuple(k.runs_per_arm for k in record.looks)
    return looks if looks[:len(taken)] == taken else ()


def _gain_envs(scores: pd.DataFrame, pairs: Sequence[tuple[str, str]], envs: Sequence[str],
               random_scores: Mapping[str, float], alpha: float
               ) -> tuple[list[str], dict[str, float]]:
    """Envs every pair keeps on the gain-over-random scale (``over_envs.exclusions``) and
    their random scores (the offset of each arm's mean)."""
    by = {k: g["score"].to_numpy(float) for k, g in scores.groupby(["env_id", "variant"])}
    left = set()
    for v, c in pairs:
        left |= set(over_envs.exclusions(envs, [by[e, v] for e in envs],
                                         [by[e, c] for e in envs], random_scores, alpha))
    kept = [e for e in envs if e not in left]
    return kept, {e: float(over_envs.random_score(e, random_scores)) for e in kept}


def priced_rows(comparisons: pd.DataFrame, prices: Mapping[str, Pricer], *,
                design: Sequence[int], looks: Sequence[int]) -> pd.DataFrame:
    """``comparisons`` (``tables.comparison_table``) with ``seeds_needed`` and ``to_decide``
    from pricing each row alone (``prices``: metric -> ``Pricer``): a primary row at the
    sequential design's ``looks`` when it has them, every other row as a fixed design of
    ``design`` runs; ``seeds_needed`` NaN (an empty cell) where ``to_decide`` says why."""
    out = comparisons.copy()
    found = []
    papers = tables.papers_envs(list(dict.fromkeys(
        comparisons.loc[comparisons["k_envs"] == 1, "scope"])))
    for r in comparisons.itertuples():
        at = looks if looks and r.family == "primary" else design
        over = {tables.ALL_ENVS: None, tables.PAPERS_ENVS: papers}.get(r.scope, [r.scope])
        found.append(prices[r.metric]([(r.variant, r.control)], r.estimand, at, over))
    out["seeds_needed"] = [t.count() for t in found]
    out["to_decide"] = [t.note() for t in found]
    return out


def row_text(seeds_needed: float, note: str) -> str:
    """A ``comparisons.csv`` row's runs to decide, in words (``priced_rows``)."""
    if note:
        return note
    return f"{seeds_needed:.0f} runs per arm and env decide it (simulated)"
