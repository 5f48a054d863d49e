"""Alpha spending: the stopping rule of a group-sequential comparison (seeds until decided).

A study looks at its comparisons after ``n_1 < n_2 < ... < n_L`` runs per arm and stops a
comparison as soon as it is decided (``better``, ``worse`` or ``equivalent``), adding runs only
where it is not (the design of AdaStop, Mathieu et al. 2024). Looking L times at a test of
level alpha would reject a true null up to ~L times as often, so each look gets a share of
alpha:

- **Shares from an alpha-spending function** (Lan & DeMets 1983) of O'Brien-Fleming type,
  ``alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))`` at information fraction
  ``t = n_j / n_L``: almost nothing is spent on the first, noisiest looks, most on the last, so
  a study that runs to the end loses little power against a fixed design, while a large
  effect still stops early.
- **Exact boundaries** (Lan & DeMets 1983; Jennison & Turnbull 2000, ch. 7): each look's
  level is set so that the probability of a *first* crossing there, given the looks before,
  is what the spending function releases (``boundaries.exact_boundaries``): two-sided for the
  test of equal means, one-sided for each of the two tests of equivalence (``Levels``). The
  union bound (``look_levels``: the look-j test at ``alpha(t_j) - alpha(t_{j-1})``) ignores
  the looks' correlation and really spends only ~0.03 of 0.05. The exact boundaries assume
  jointly normal statistics, which small-n Welch t statistics are not; simulated
  (``tests/test_boundaries.py``, ``tests/test_sequential.py``) they hold alpha within
  Monte-Carlo error at df >= 18, for both kinds of decision. Levels already used by looks
  recorded in ``sequential.json`` (the published studies' first looks were tested at the
  union bound's 1.6e-6 and 6.9e-4) are kept, and later looks spend what they left
  (``levels``).

Within a look, Holm's correction runs over the primary family as in a fixed design.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.stats

from harness.analysis import boundaries, effects, stats
from harness.runs.sequential_record import SequentialRecord
from harness.runs.spec import AnalysisSettings


def spent(fractions: np.ndarray, alpha: float) -> np.ndarray:
    """O'Brien-Fleming-type alpha spent up to each information fraction: [L] -> [L]."""
    z = scipy.stats.norm.ppf(1 - alpha / 2)
    return 2 - 2 * scipy.stats.norm.cdf(z / np.sqrt(np.asarray(fractions, float)))


def look_levels(looks: Sequence[int], alpha: float) -> np.ndarray:
    """The union bound's level of each look, for runs per arm ``looks`` [L] (increasing): [L],
    summing to ``alpha`` (what the published studies' first looks were tested at)."""
    looks = np.asarray(looks, float)
    if len(looks) == 0 or np.any(np.diff(looks) <= 0):
        raise ValueError(f"looks must increase, got {list(looks)}")
    cumulative = spent(looks / looks[-1], alpha)
    return np.diff(cumulative, prepend=0.0)


@dataclass(frozen=True)
class Levels:
    """Nominal levels of a sequential design's looks (exact boundaries). Arrays [L]."""

    equal: np.ndarray
    """Two-sided level of the test of equal means at each look."""
    equivalence: np.ndarray
    """Level of each of the two one-sided tests of equivalence at each look."""


def levels(looks: Sequence[int], alpha: float,
           record: SequentialRecord | None = None) -> Levels:
    """Exact Lan-DeMets levels of runs per arm ``looks`` [L] (``boundaries.exact_boundaries``,
    two-sided and one-sided), keeping the levels of the looks ``record`` has taken (a look
    already tested spent its alpha; later looks spend what is left given it)."""
    done = record.looks[:len(looks)] if record else ()
    looks = tuple(int(n) for n in looks)
    return Levels(_nominal(looks, float(alpha), 2, tuple(k.level for k in done)),
                  _nominal(looks, float(alpha), 1, tuple(k.equivalence_level for k in done)))


@functools.lru_cache(maxsize=1024)
def _nominal(looks: tuple[int, ...], alpha: float, sides: int,
             used: tuple[float, ...]) -> np.ndarray:
    """[L] ``boundaries.exact_boundaries``' nominal levels, the ``used`` ones as recorded (not
    back through the normal quantile); read-only and cached: pricing a plan asks for the same
    designs' levels many times, each a recursive numerical integration."""
    nominal = boundaries.exact_boundaries(looks, alpha, sides=sides, used=used).nominal
    nominal[:len(used)] = used
    nominal.setflags(write=False)
    return nominal


def runs_to_decide(effect: effects.Effect, margin: float, power: float, looks: Sequence[int],
                   alpha: float, record: SequentialRecord | None = None) -> np.ndarray:
    """Runs per arm and env to resolve ``margin`` in a sequential design: the first of
    ``looks`` whose own tests, at its exact levels (``levels``: the looks ``record`` took keep
    their recorded levels), have ``power`` (``Effect.seeds_needed``); past the last look,
    what its levels would need. Conservative, since earlier looks can only stop sooner;
    larger than the fixed-design count at alpha (the late looks of {10, ..., 60} test at
    1.4-3.7%). The closed form of one comparison, for what the simulated rule
    (``to_decide``) does not price: C4's interactions and C1-stability. Fields of ``effect``
    [...] -> [...]."""
    at = levels(looks, alpha, record)
    need = np.stack([np.asarray(effect.seeds_needed(margin, two, power, one), float)
                     for two, one in zip(at.equal, at.equivalence, strict=True)])
    n = np.asarray(looks, float).reshape((-1,) + (1,) * (need.ndim - 1))
    enough = need <= n
    first = np.take_along_axis(np.broadcast_to(n, need.shape), enough.argmax(0)[None], 0)[0]
    return np.where(enough.any(0), first, need[-1])


Need = Callable[[effects.Effect], np.ndarray]
"""``need(effect) -> runs per arm and env`` to resolve the margin (``need_for``)."""


def need_for(settings: AnalysisSettings, looks: Sequence[int],
             record: SequentialRecord | None = None) -> Need:
    """Runs per arm and env an effect needs to resolve the margin with the set power:
    ``runs_to_decide`` over ``looks`` in a sequential design (the looks ``record`` took at
    their recorded levels), the fixed-design count at alpha when ``looks`` is empty."""
    a = settings
    if not looks:
        return lambda e: e.seeds_needed(a.margin, a.alpha, a.power)
    return lambda e: runs_to_decide(e, a.margin, a.power, looks, a.alpha, record)


def first_decisions(looks: Sequence[effects.Effect], at: Levels,
                    margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Where and how each comparison stops: ``looks`` [L] of log ratios with fields [...]
    (one per look, from the runs up to that look), ``at`` the looks' ``levels``.

    Returns (look index [...], -1 while undecided; verdict [...] as an index into
    ``effects.VERDICTS``, ``inconclusive`` while undecided). At each look the test of equal
    means runs first, then the two one-sided tests of equivalence, each at that look's levels,
    as ``effects.verdict`` orders them.
    """
    shape = np.shape(looks[0].estimate)
    where = np.full(shape, -1)
    verdict = np.full(shape, effects.VERDICTS.index("inconclusive"))
    for j, (ratio, two, one) in enumerate(zip(looks, at.equal, at.equivalence, strict=True)):
        open_ = where < 0
        differs = open_ & (ratio.p_value() < two) & (ratio.estimate != 0)
        same = open_ & ~differs & (ratio.p_equivalence(margin) < one)
        verdict = np.where(differs, np.where(ratio.estimate > 0, 0, 1), verdict)
        verdict = np.where(same, effects.VERDICTS.index("equivalent"), verdict)
        where = np.where(differs | same, j, where)
    return where, verdict


def decide(scores: pd.DataFrame, pairs: Sequence[tuple[str, str]], seeds: Sequence[int],
           level: float, margin: float, equivalence_level: float | None = None) -> pd.DataFrame:
    """One look: each (variant, control) pair of ``pairs`` (the undecided primary ones) on the
    runs of ``seeds``, over all envs, tested at the look's ``level`` (the one-sided tests of
    equivalence at ``equivalence_level``, default ``level``) with Holm's correction over the
    pairs. ``scores``: ``env_id``, ``variant``, ``seed``, ``score`` per run.

    Returns ``variant``, ``control``, ``n`` (runs per arm and env), ``rel_diff``, ``p_holm``,
    ``p_tost_holm``, ``verdict``.
    """
    scores = scores[scores["seed"].isin(seeds)]
    cells = {k: g["score"].to_numpy(float) for k, g in scores.groupby(["env_id", "variant"])}
    envs = list(dict.fromkeys(scores["env_id"]))
    rows = []
    for variant, control in pairs:
        ratio = effects.log_ratio([cells.get((e, variant), np.zeros(0)) for e in envs],
                                  [cells.get((e, control), np.zeros(0)) for e in envs])
        rows.append({"variant": variant, "control": control, "n": len(seeds),
                     "rel_diff": float(np.expm1(ratio.estimate)),
                     "p": float(ratio.p_value()), "p_tost": float(ratio.p_equivalence(margin))})
    frame = pd.DataFrame(rows, columns=["variant", "control", "n", "rel_diff", "p", "p_tost"])
    frame["p_holm"] = stats.holm(frame["p"].to_numpy(float))
    frame["p_tost_holm"] = stats.holm(frame["p_tost"].to_numpy(float))
    frame["verdict"] = [effects.verdict(r.p_holm, r.p_tost_holm, r.rel_diff, alpha=level,
                                        equivalence_alpha=equivalence_level)
                        for r in frame.itertuples()]
    return frame.drop(columns=["p", "p_tost"])


def decisions(record: SequentialRecord) -> pd.DataFrame:
    """Each primary comparison's last look: where it was decided (or where the study stopped)."""
    rows = [{**asdict(c), "look": look.look} for look in record.looks for c in look.comparisons]
    frame = pd.DataFrame(rows)
    return frame.drop_duplicates(["variant", "control"], keep="last") if len(frame) else frame


def with_decisions(comparisons: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """``comparisons`` whose primary rows carry the sequential design's verdicts: with looks,
    a comparison is decided at its look's level, not by a fixed-design test on all runs.
    The looks decide the fixed-effect ("on these envs") rows; a random-effects row is judged
    by the claims at the last look's level (``claims.evaluate_claims``)."""
    out = comparisons.copy()
    verdicts = {(r.variant, r.control): r.verdict for r in decided.itertuples()}
    primary = (out["family"] == "primary") & (out.get("estimand", "fixed") != "random")
    out.loc[primary, "verdict"] = [verdicts.get((v, c), "inconclusive") for v, c in
                                   zip(out.loc[primary, "variant"], out.loc[primary, "control"],
                                       strict=True)]
    return out

