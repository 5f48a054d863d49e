"""Verdicts on the published claims C1-C4 (docs/design.md §1) from the comparison table.

A claim is judged on *clip-effect* comparisons of the primary family: a clipped variant
against the unclipped variant that matches it in every other setting (so that e.g. reward
normalisation is never confounded with clipping), on the primary metric, over all envs.
``pairs.comparison_pairs`` adds those pairs to the report's comparisons. A verdict never claims
more than the data shows: "not significant" is ``inconclusive``, with the runs that would
decide it, never ``supported`` for a claim of no effect.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from harness.analysis import alpha_spending, effects, meta, over_envs, stats, to_decide
from harness.analysis.pairs import baselines_variants, primary_pairs
from harness.analysis.stability import SPIKE_WINDOW, WITHIN_RUN
from harness.analysis.tables import ALL_ENVS
from harness.ppo.config import PPOConfig
from harness.runs.sequential_record import SequentialRecord
from harness.runs.spec import AnalysisSettings, Experiment

NOT_TESTED = "not tested"


@dataclass(frozen=True)
class Claim:
    """A published claim and our verdict on it (one row of ``claims.csv``)."""

    id: str
    """``C1``..``C4``, or ``C1-stability`` for C1's stability half."""
    statement: str
    source: str
    verdict: str
    """``supported`` | ``contradicted`` | ``inconclusive`` | ``not tested``."""
    evidence: tuple[str, ...]
    """One line per comparison (or reason) behind the verdict; an inconclusive verdict says
    what would decide it."""
    metric: str = ""
    """The score the deciding estimate is on (``final``, ``auc``; ``drawdown`` for
    C1-stability)."""
    estimand: str = ""
    """What the verdict is about: ``random`` (the random-effects mean over envs: a claim about
    tasks) or ``fixed`` (these envs only); empty when not tested."""
    rel_diff: float = math.nan
    """The deciding estimate, relative (rho - 1; for C4 the ratio of the two clip effects; for
    C1-stability the difference in mean worst drawdown, in shares of a run's gain)."""
    rel_ci_low: float = math.nan
    """Its ``1 - 2 level`` interval (the one equivalence and one-sided bounds use); ``level`` is
    alpha, or in a sequential design the last look's one-sided level (``evaluate_claims``)."""
    rel_ci_high: float = math.nan
    confidence: float = math.nan
    """The interval's confidence: ``1 - 2 level``."""
    pred_low: float = math.nan
    """Lower limit of the prediction interval for a new task's effect (gain over random;
    Higgins, Thompson & Spiegelhalter 2009), whichever estimand decides: at ``confidence``
    when the verdict is on random effects, else at the comparisons' ``1 - 2 alpha``
    (descriptive)."""
    pred_high: float = math.nan
    """Its upper limit."""
    tau: float = math.nan
    """Between-env standard deviation of the effect (log gain ratio, REML)."""
    i2: float = math.nan
    """Share of the spread of the per-env estimates due to heterogeneity (Higgins & Thompson
    2002)."""
    n: int = 0
    """Runs of the variant behind the estimate."""
    seeds_needed: float = math.nan
    """Runs per arm and env at which the claim's rule decides with the set power
    (``to_decide``, simulated; C4 and C1-stability: the closed-form count); NaN when none up
    to ``to_decide.CAP`` does or it cannot be estimated (the evidence says which)."""
    p_decide: float = math.nan
    """P(the claim is decided by the design's max) at the current estimate (``to_decide``);
    NaN where not simulated (C4, C1-stability, not tested)."""


CLAIM_COLUMNS = ["claim", "verdict", "metric", "estimand", "rel_diff", "rel_ci_low",
                 "rel_ci_high", "confidence", "pred_low", "pred_high", "tau", "i2", "n",
                 "seeds_needed", "p_decide", "evidence"]


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """``claims.csv``: one row per claim, evidence lines joined by `` | ``."""
    return pd.DataFrame([[c.id, c.verdict, c.metric, c.estimand, c.rel_diff, c.rel_ci_low,
                          c.rel_ci_high, c.confidence, c.pred_low, c.pred_high, c.tau, c.i2,
                          c.n, c.seeds_needed, c.p_decide, " | ".join(c.evidence)]
                         for c in claims],
                        columns=CLAIM_COLUMNS)


STATEMENTS = {
    "C1": ("Clipping the value update stabilises learning and improves return.",
           "OpenAI Baselines ppo2 (default on, eps 0.2); TorchRL feature notes"),
    "C2": ("There is no evidence that value clipping helps; tested as: a benefit of >= margin "
           "is excluded (stronger than 'no evidence').",
           "Engstrom et al. 2020, Implementation Matters in Deep Policy Gradients"),
    "C3": ("PPO-style value clipping hurts performance regardless of the threshold.",
           "Andrychowicz et al. 2021, What Matters in On-Policy RL? (C13)"),
    "C4": ("The effect of value clipping depends on reward scaling (eps is in value units).",
           "SB3 clip_range_vf docs; RLlib vf_clip_param docs"),
}


STABILITY = ("Clipping the value update stabilises learning (within runs: fewer collapses, "
             "shallower drawdowns, fewer value-loss spikes).", STATEMENTS["C1"][1])
MIN_THRESHOLDS, MIN_SPAN = 3, 10.0
"""C3 ("regardless of the threshold") needs this many eps values spanning this factor."""


def claim_pairs(exp: Experiment) -> dict[str, list[tuple[str, str]]]:
    """The comparisons each of C1-C3 is judged on, before any run (C2 and C3 later leave
    out clips that do not act): C1 Baselines' setting, C2 every clipped form, C3 the
    max-form clips when their thresholds span enough (else none)."""
    configs, found = exp.configs, primary_pairs(exp)
    maxed = [(v, c) for v, c in found if configs[v].value_clip == "max"]
    eps = sorted({configs[v].vf_clip_eps for v, _ in maxed})
    spans = len(eps) >= MIN_THRESHOLDS and eps[-1] / eps[0] >= MIN_SPAN
    return {"C1": [(v, c) for v, c in found if v in baselines_variants(exp)], "C2": found,
            "C3": maxed if spans else []}


def planned_estimand(cid: str, exp: Experiment, k: int) -> str:
    """The estimand claim ``cid`` is judged on with ``k`` usable envs (``_estimand``)."""
    declared = dict(exp.analysis.claims).get(cid)
    wanted = declared.estimand if declared else meta.estimand_for(k)
    return "random" if wanted == "random" and k >= meta.MIN_ENVS_RANDOM else "fixed"


def evaluate_claims(exp: Experiment, comparisons: pd.DataFrame, stability: pd.DataFrame,
                    level: float | None = None, inactive: Sequence[str] = (), *,
                    equivalence_level: float | None = None,
                    modes: pd.DataFrame | None = None,
                    price: to_decide.Pricer | None = None,
                    record: SequentialRecord | None = None) -> list[Claim]:
    """Verdicts on C1 (return and stability), C2, C3 and C4 from the primary family of
    ``comparisons`` (``tables.comparison_table``) and from ``stability``
    (``stability.stability_table``, its interval at ``level``; ``modes``:
    ``modes.mode_table``, for a note where one env's modes drive the spread across seeds).

    C2 and C3, claims about clipping in every form and at every threshold, leave out the
    ``inactive`` variants (``pairs.inactive_clips``): a clip that does not act is the unclipped
    loss, and its `equivalent` would contradict "hurts regardless of the threshold" vacuously.

    ``level`` is what the claims' own tests of equal means spend: alpha in a fixed design (the
    default). A sequential design re-judges every claim at each look, so there it is the last
    look's exact two-sided level, as for the primary comparisons, and ``equivalence_level``
    (default ``level``) that look's one-sided level, which the tests of equivalence and the
    ``1 - 2 equivalence_level`` intervals use: repeated confidence intervals (Jennison &
    Turnbull 2000, ch. 9), valid whichever look one reads. C1's verdicts are the looks' own.

    ``price`` (``to_decide.pricer``) gives C1-C3 their runs to decide and P(decide by max):
    the claim's own rule (all its comparisons, the design's looks) simulated at the current
    estimate; C4 (an interaction) and C1-stability keep the closed-form count
    (``alpha_spending.need_for``, at the levels ``record``'s looks were tested at).
    """
    configs = exp.configs
    settings = exp.analysis
    need = alpha_spending.need_for(settings, exp.looks if level is not None else (), record)
    primary = clip_effects(exp, comparisons)
    primary = primary[primary["family"] == "primary"]
    if "estimand" not in primary:  # a table without over-env estimates: every row is fixed
        primary = primary.assign(estimand="fixed")
    described = primary  # the spread beside a fixed verdict is at 1 - 2 alpha (Claim.pred_low)
    one = level if equivalence_level is None else equivalence_level
    if level is not None:
        primary = _at_look(primary, (level, one), settings.power, len(exp.envs))
    level = settings.alpha if level is None else level
    one = level if one is None else one
    idle = [f"{v}: its clip does not act (mean value clip fraction after the first update "
            f"below analysis.active_clip {settings.active_clip:.0%}), so it is the unclipped "
            "loss up to rounding; left out" for v in inactive if v in set(primary["variant"])]
    fixed = _with_spread(primary[primary["estimand"] == "fixed"], described)

    def rows_for(cid: str, keep: pd.Series) -> tuple[pd.DataFrame, str, list[str]]:
        estimand, notes = _estimand(cid, exp, primary[keep & (primary["estimand"] == "random")])
        chosen = primary[primary["estimand"] == "random"] if estimand == "random" else fixed
        return chosen[keep.reindex(chosen.index)], estimand, notes

    design = exp.looks or (len(exp.seeds),)

    def judged(cid: str, keep: pd.Series, judge, extra=()) -> Claim:
        rows, estimand, notes = rows_for(cid, keep)
        verdict, evidence, row = judge(rows)
        if row is None:  # not tested: the estimand says nothing
            return _claim(cid, (verdict, evidence, row), one, "")
        found = None if price is None else price(
            list(zip(rows["variant"], rows["control"], strict=True)), estimand, design)
        decide = [found.line()] if found and verdict == "inconclusive" else []
        claim = _claim(cid, (verdict, [*notes, *evidence, *decide, *extra], row), one, estimand)
        return claim if found is None else dataclasses.replace(
            claim, seeds_needed=found.count(), p_decide=found.p_decide)

    baselines = primary["variant"].isin(baselines_variants(exp))
    acting = ~primary["variant"].isin(inactive)
    maxed = primary["variant"].map(lambda v: configs[v].value_clip == "max").astype(bool)
    return [
        judged("C1", baselines, lambda r: _judge_c1(r, one)),
        _stability_claim(fixed[baselines.reindex(fixed.index)], stability,
                         pd.DataFrame() if modes is None else modes, settings, level),
        judged("C2", acting, lambda r: _judge_c2(r, settings.margin, one), idle),
        judged("C3", acting & maxed, lambda r: _judge_c3(r, configs, one), idle),
        _claim("C4", _judge_c4(fixed, configs, exp, (level, one), need), one, "fixed"),
    ]


def _estimand(cid: str, exp: Experiment, random: pd.DataFrame) -> tuple[str, list[str]]:
    """The estimand claim ``cid`` is judged on, with evidence lines saying which and why:
    the one ``analysis.claims`` declares, else ``random`` from ``meta.MIN_ENVS_RANDOM``
    usable envs on (``meta.estimand_for``); ``random`` needs that many envs on the gain scale
    (``random``: the claim's random-effects rows), else it falls back to ``fixed`` "on these
    envs only", never a claim about tasks."""
    plan = dict(exp.analysis.claims).get(cid)
    k = int(random["k_envs"].min()) if len(random) else 0
    wanted = plan.estimand if plan else meta.estimand_for(k)
    why = "as declared in analysis.claims" if plan else f"{k} envs usable on the gain scale"
    if wanted == "random" and k >= meta.MIN_ENVS_RANDOM:
        return "random", [f"estimand: random effects over {k} envs, a claim about tasks "
                          f"({why}); the fixed-effect row 'on these envs' is in "
                          "comparisons.csv as a secondary reading"]
    if wanted == "random":
        why = (f"declared random, but only {k} envs are usable for random effects (fewer "
               f"than {meta.MIN_ENVS_RANDOM}: the interval would say more about t(k - 1) than "
               "about tasks)")
    return "fixed", [f"estimand: fixed effect, on these envs only ({why}), not a claim about "
                     "tasks"]


def _with_spread(fixed: pd.DataFrame, primary: pd.DataFrame) -> pd.DataFrame:
    """``fixed`` rows with the between-env spread (prediction interval, tau, I^2) of their
    pair's random-effects row, for the claims table: how much the envs disagree is worth
    knowing whichever estimand decides."""
    random = primary[primary["estimand"] == "random"].set_index(["variant", "control"])
    spread = ["pred_low", "pred_high", "tau", "i2"]
    out = fixed.copy()
    for column in spread:
        if column in random:
            out[column] = [random[column].get((v, c), math.nan) for v, c in
                           zip(fixed["variant"], fixed["control"], strict=True)]
    return out


def _at_look(rows: pd.DataFrame, levels: tuple[float, float], power: float,
             n_envs: int) -> pd.DataFrame:
    """``rows`` with the interval (``1 - 2 one``) and detectable effect of a look at
    ``levels`` (two-sided, one-sided ``one``) instead of a fixed design's at alpha (their runs
    to decide already count the looks: ``to_decide.priced_rows``)."""
    level, one = levels
    out = rows.copy()
    for i, row in rows.iterrows():
        e = _effect(row, n_envs)
        low, high = e.interval(1 - 2 * one)
        if row["estimand"] == "random":  # judged here; seeds cannot narrow tau (over_envs)
            half = scipy.stats.t.ppf(1 - one, row["k_envs"] - 2) * math.hypot(row["tau"],
                                                                                row["log_se"])
            centre = math.log1p(row["rel_diff"])
            with np.errstate(over="ignore"):  # t(k - 2) at a tiny level: a limit of +inf
                pred = np.expm1([centre - half, centre + half])
            out.loc[i, ["rel_ci_low", "rel_ci_high", "mde", "pred_low", "pred_high"]] = [
                float(low), float(high), float(e.mde(level, power)),
                float(pred[0]), float(pred[1])]
            out.loc[i, "verdict"] = effects.verdict(row["p_holm"], row["p_tost_holm"],
                                                    row["rel_diff"], alpha=level,
                                                    equivalence_alpha=one)
            continue
        out.loc[i, ["rel_ci_low", "rel_ci_high", "mde"]] = [float(low), float(high),
                                                            float(e.mde(level, power))]
    return out


Judgement = tuple[str, list[str], "pd.Series | None"]
"""Verdict, evidence lines, and the row whose estimate the claims table shows."""


def _noting(lines: list[str], judgement: Judgement) -> Judgement:
    """``judgement`` with ``lines`` added to its evidence."""
    verdict, evidence, row = judgement
    return verdict, [*evidence, *lines], row


def _claim(cid: str, judgement: Judgement, level: float, estimand: str) -> Claim:
    verdict, evidence, row = judgement
    if row is None:
        return Claim(cid, *STATEMENTS[cid], verdict, tuple(evidence))
    spread = {k: float(row.get(k, math.nan)) for k in ("pred_low", "pred_high", "tau", "i2")}
    return Claim(cid, *STATEMENTS[cid], verdict, tuple(evidence), metric=row["metric"],
                 estimand=estimand, rel_diff=row["rel_diff"], rel_ci_low=row["rel_ci_low"],
                 rel_ci_high=row["rel_ci_high"], confidence=1 - 2 * level, **spread,
                 n=int(row["n"]), seeds_needed=float(row["seeds_needed"]))


def clip_effects(exp: Experiment, comparisons: pd.DataFrame) -> pd.DataFrame:
    """The clip-effect rows of ``comparisons``: a clipped variant against the unclipped
    variant equal to it in every other setting."""
    keys = set(primary_pairs(exp))
    matched = pd.Series([pair in keys for pair in zip(comparisons["variant"],
                                                      comparisons["control"], strict=True)],
                        index=comparisons.index, dtype=bool)
    return comparisons.loc[matched].copy()


def _judge_c1(rows: pd.DataFrame, alpha: float) -> Judgement:
    """Supported if Baselines' setting is ``better``; contradicted if ``worse`` or
    ``equivalent`` (it does not help); else inconclusive."""
    if rows.empty:
        return NOT_TESTED, ["needs value_clip=max, vf_clip_eps=0.2 and an unclipped variant"], None
    verdicts = set(rows["verdict"])
    if verdicts == {"better"}:
        return "supported", _lines(rows, alpha), _widest(rows)
    if verdicts & {"worse", "equivalent"}:
        return "contradicted", _lines(rows, alpha), _widest(rows)
    return "inconclusive", _lines(rows, alpha), _widest(rows)


def _judge_c2(rows: pd.DataFrame, margin: float, alpha: float) -> Judgement:
    """Supported only when a benefit of ``margin`` or more is excluded for every clipped
    variant (upper limit of the 1 - 2 alpha interval, i.e. a one-sided level-alpha bound,
    below +margin) and nothing is ``better``; contradicted when something is ``better``.
    Absence of a significant benefit alone is not evidence of no benefit."""
    if rows.empty:
        return NOT_TESTED, ["needs a clipped and a matching unclipped variant"], None
    better = rows[rows["verdict"] == "better"]
    if not better.empty:
        return "contradicted", _lines(better, alpha), _widest(better)
    decisive = rows.loc[rows["rel_ci_high"].fillna(np.inf).idxmax()]
    plain = ("the plain fact, beside it: no significant benefit (no clipped variant is "
             "`better` after Holm); alone that is absence of evidence, not evidence of absence")
    if (rows["rel_ci_high"] < margin).all():
        excluded = (f"a benefit of {margin:+.0%} or more is excluded for every clipped variant "
                    "(upper limits below it): stronger than 'no evidence'")
        return "supported", [excluded, plain, *_lines(rows, alpha)], decisive
    return "inconclusive", [f"a benefit of {margin:+.0%} is not excluded (the claim as tested: "
                            "stronger than 'no evidence')", plain, *_lines(rows, alpha)], decisive


def _judge_c3(rows: pd.DataFrame, configs: dict[str, PPOConfig], alpha: float) -> Judgement:
    """Needs >= 3 thresholds spanning a factor of 10; supported only if ``worse`` at every
    threshold; contradicted if any is ``better`` or ``equivalent``."""
    eps = sorted({configs[v].vf_clip_eps for v in rows["variant"]})
    if len(eps) < MIN_THRESHOLDS or eps[-1] / eps[0] < MIN_SPAN:
        have = ", ".join(f"{e:g}" for e in eps) or "none"
        return NOT_TESTED, [f"needs value_clip=max at >= {MIN_THRESHOLDS} vf_clip_eps values "
                            f"spanning a factor of {MIN_SPAN:g} against a matching unclipped "
                            f"variant (has: {have})"], None
    verdicts = set(rows["verdict"])
    if verdicts == {"worse"}:
        return "supported", _lines(rows, alpha), _widest(rows)
    if verdicts & {"better", "equivalent"}:
        decisive = rows[rows["verdict"].isin(["better", "equivalent"])]
        return "contradicted", _lines(rows, alpha), _widest(decisive)
    return "inconclusive", _lines(rows, alpha), _widest(rows)


def _judge_c4(rows: pd.DataFrame, configs: dict[str, PPOConfig], exp: Experiment,
              levels: tuple[float, float], need: alpha_spending.Need) -> Judgement:
    """The interaction: CI of log(clip effect with reward normalisation) - log(without), per
    clip setting. Supported if one excludes 0 (Holm over the settings, at the two-sided
    level of ``levels``), contradicted if all lie within +-margin (two one-sided tests at the
    one-sided level), else inconclusive. Comparing the two verdict
    labels would not test an interaction ("significant vs not" is not a difference)."""
    settings: dict[PPOConfig, dict[bool, pd.Series]] = {}
    for _, row in rows.iterrows():
        cfg = configs[row["variant"]]
        settings.setdefault(cfg.replace(normalize_reward=True), {})[cfg.normalize_reward] = row
    both = [s for s in settings.values() if len(s) == 2]
    if not both:
        return NOT_TESTED, ["needs a normalize_reward axis with clipped and matching unclipped "
                            "variants"], None
    mixed = [s for s in both if s[True].get("normalisation") != s[False].get("normalisation")]
    if mixed:  # a ratio and a range-normalised difference do not subtract
        return "inconclusive", [f"{s[True]['variant']}: the clip effects with and without "
                                "reward normalisation are normalised differently (a control "
                                "mean near zero), so their difference is undefined"
                                for s in mixed], None
    a, (level, one) = exp.analysis, levels
    effects_ = [_interaction(s[True], s[False], len(exp.envs)) for s in both]
    p_holm = stats.holm(np.array([float(d.p_value()) for d in effects_]))
    p_tost = np.array([float(d.p_equivalence(a.margin)) for d in effects_])
    rows_out = [_interaction_row(d, s[True], one, need)
                for d, s in zip(effects_, both, strict=True)]
    lines = [_interaction_line(r, s, p, q) for r, s, p, q in
             zip(rows_out, both, p_holm, p_tost, strict=True)]
    decisive = int(np.nanargmin(p_holm)) if not np.isnan(p_holm).all() else 0
    if (p_holm < level).any():
        return "supported", lines, rows_out[decisive]
    if (p_tost < one).all():
        return "contradicted", lines, rows_out[decisive]
    return "inconclusive", lines + _undecided(pd.DataFrame(rows_out)), rows_out[decisive]


def _interaction(with_norm: pd.Series, without: pd.Series, n_envs: int) -> effects.Effect:
    return _effect(with_norm, n_envs).minus(_effect(without, n_envs))


def _effect(row: pd.Series, n_envs: int) -> effects.Effect:
    """A comparison row's effect back from its columns (``unit_var`` from se and the runs
    per arm and env)."""
    per_env = row["n"] / (n_envs if row["scope"] == ALL_ENVS else 1)
    linear = row.get("normalisation") == "score range"
    return effects.Effect(row["rel_diff"] if linear else math.log1p(row["rel_diff"]),
                          row["log_se"], row["df"], row["log_se"] ** 2 * per_env,
                          "linear" if linear else "log")


def _interaction_row(d: effects.Effect, like: pd.Series, level: float,
                     need: alpha_spending.Need) -> pd.Series:
    low, high = d.interval(1 - 2 * level)
    seeds = need(d)
    return pd.Series({"metric": like["metric"], "rel_diff": float(d.to_report(d.estimate)),
                      "rel_ci_low": float(low), "rel_ci_high": float(high), "n": like["n"],
                      "seeds_needed": float(seeds)})


def _interaction_line(row: pd.Series, pair: dict[bool, pd.Series], p_holm: float,
                      p_tost: float) -> str:
    return (f"{pair[True]['variant']}: clip effect with reward normalisation "
            f"{pair[True]['rel_diff']:+.1%}, without ({pair[False]['variant']}) "
            f"{pair[False]['rel_diff']:+.1%}; ratio of the two {row['rel_diff']:+.1%}, CI "
            f"{_interval(row['rel_ci_low'], row['rel_ci_high'], '+.1%')}; Holm p "
            f"{p_holm:.3g}; equivalence p {p_tost:.3g}")


def _stability_claim(rows: pd.DataFrame, stability: pd.DataFrame, modes: pd.DataFrame,
                     a: AnalysisSettings, level: float) -> Claim:
    """C1's stability half on Baselines' setting at the primary scope, judged within runs
    (``stability.WITHIN_RUN``: collapses, worst drawdown, value-loss spikes), Holm over the
    three at ``level``: supported if one is significantly lower and none higher, contradicted
    if one is higher and none lower, or if none differs and the worst drawdown is equivalent
    within +-margin of the gain (two one-sided tests at ``level``); else inconclusive. The
    spread across seeds is described beside it, with a note where one env's modes drive it."""
    keys = set(zip(rows["scope"], rows["variant"], rows["control"], strict=True))
    found = stability[pd.Series([k in keys for k in zip(
        stability["scope"], stability["variant"], stability["control"], strict=True)],
        index=stability.index, dtype=bool)]
    if found.empty:
        return Claim("C1-stability", *STABILITY, NOT_TESTED,
                     ("needs value_clip=max, vf_clip_eps=0.2 and an unclipped variant",))
    r = found.iloc[0]
    signs = np.sign([r.collapses / r.n - r.control_collapses / r.control_n,
                     r.drawdown_diff, r.spike_diff])
    p_holm = stats.holm(np.array([r[c] for c in WITHIN_RUN.values()], float))
    decided = np.nan_to_num(p_holm, nan=1.0) < level
    calmer, wilder = (decided & (signs < 0)).any(), (decided & (signs > 0)).any()
    same = not decided.any() and r.drawdown_p_tost < level
    verdict = ("inconclusive" if calmer and wilder else "supported" if calmer
               else "contradicted" if wilder or same else "inconclusive")
    evidence = [_within_run_line(r, p_holm, level, a), _spread_line(r, level),
                *_mode_notes(r, stability, modes)]
    if verdict == "inconclusive" and r.drawdown_seeds_needed == r.drawdown_seeds_needed:
        evidence.append(f"about {r.drawdown_seeds_needed:.0f} runs per arm and env would resolve a "
                        f"difference of {a.margin:.0%} of the gain in worst drawdown")
    elif verdict == "inconclusive":  # no spread in either arm (stability._difference)
        evidence.append("the worst drawdown does not vary between runs here: more runs of "
                        "these settings cannot resolve it")
    return Claim("C1-stability", *STABILITY, verdict, tuple(evidence), metric="drawdown",
                 estimand="fixed", rel_diff=r.drawdown_diff, rel_ci_low=r.drawdown_ci_low,
                 rel_ci_high=r.drawdown_ci_high, confidence=1 - 2 * level, n=int(r.n),
                 seeds_needed=float(r.drawdown_seeds_needed))


def _within_run_line(r, p_holm: np.ndarray, level: float, a: AnalysisSettings) -> str:
    ci = confidence(1 - 2 * level)
    return (f"{r.variant} vs {r.control} [{r.scope}], within runs (Holm over the three at "
            f"{level:.3g}): collapses {r.collapses}/{r.n} vs {r.control_collapses}/"
            f"{r.control_n} (Fisher p {r.collapse_p:.3g}, Holm p {p_holm[0]:.3g}); worst "
            f"drawdown {r.drawdown:.1%} vs {r.control_drawdown:.1%} of the gain, difference "
            f"{100 * r.drawdown_diff:+.1f} points, {ci} CI "
            f"{_interval(100 * r.drawdown_ci_low, 100 * r.drawdown_ci_high, '+.1f')} (Holm p "
            f"{p_holm[1]:.3g}; equivalence within ±{100 * a.margin:.0f} points p "
            f"{r.drawdown_p_tost:.3g}); "
            f"value-loss spikes (updates whose plain squared error exceeds "
            f"{a.spike_factor:g} times the median of the previous {SPIKE_WINDOW}) "
            f"{r.spike_rate:.1%} vs {r.control_spike_rate:.1%} of updates, difference "
            f"{100 * r.spike_diff:+.1f} points, {ci} CI "
            f"{_interval(100 * r.spike_ci_low, 100 * r.spike_ci_high, '+.1f')} "
            f"(Holm p {p_holm[2]:.3g})")


def _spread_line(r, level: float) -> str:
    return (f"spread across seeds, described, not judged (mean absolute deviation from the "
            f"median, ratio to the control's): {r.dispersion_ratio:.2f}, "
            f"{confidence(1 - level)} CI "
            f"{_interval(r.dispersion_ci_low, r.dispersion_ci_high, '.2f')}, p "
            f"{r.dispersion_p:.3g}")


def _mode_notes(r, stability: pd.DataFrame, modes: pd.DataFrame) -> list[str]:
    """A note when the spread's most extreme env is bimodal (``modes.mode_table``): less
    spread from sitting in one mode is not stabilisation."""
    per_env = stability[(stability["variant"] == r.variant) & (stability["control"] == r.control)
                        & (stability["scope"] != ALL_ENVS)]
    if r.scope != ALL_ENVS:
        per_env = per_env[per_env["scope"] == r.scope]
    distance = np.log(per_env["dispersion_ratio"]).abs().dropna()  # NaN: a spread of 0
    if distance.empty or modes.empty:
        return []
    extreme = per_env.loc[distance.idxmax()]
    found = modes[(modes["env_id"] == extreme.scope) & (modes["variant"] == r.variant)
                  & (modes["control"] == r.control) & modes["bimodal"]]
    if found.empty:
        return []
    m = found.iloc[0]
    return [f"the spread is driven by {m.env_id} (ratio {extreme.dispersion_ratio:.2f}, the "
            f"furthest from 1), whose runs fall in two modes (near {m.low_mean:.0f} and "
            f"{m.high_mean:.0f}): {m.high_runs:.0f}/{m.n} {r.variant} runs vs "
            f"{m.high_runs_control:.0f}/{m.n_control} {r.control} runs in its high mode "
            f"(Fisher p {m.fisher_p:.3g}); less spread from sitting in one mode is not "
            "stabilisation"]


def _widest(rows: pd.DataFrame) -> pd.Series:
    """The row needing the most seeds (NaN: more than any count): the one that decides when
    the claim is settled."""
    return rows.loc[rows["seeds_needed"].fillna(np.inf).idxmax()]


def _undecided(rows: pd.DataFrame) -> list[str]:
    """C4's "to decide" (its interactions are not simulated): the closed-form runs per arm
    and env the most demanding undecided interaction needs (``rows``, with
    ``seeds_needed``)."""
    need = rows["seeds_needed"].max() if len(rows) else math.nan
    return [f"to decide: about {need:.0f} runs per arm and env (closed form, the most any "
            "undecided interaction needs to resolve the margin with the set power)"
            if need == need else "to decide: more runs (too few to estimate how many)"]


def _lines(rows: pd.DataFrame, alpha: float) -> list[str]:
    return [_line(r, alpha) for r in rows.itertuples()]


def _line(r, alpha: float) -> str:
    """One comparison's evidence; a random-effects row says what seeds cannot narrow."""
    common = (f"relative difference {r.rel_diff:+.1%}, {confidence(1 - 2 * alpha)} CI "
              f"{_interval(r.rel_ci_low, r.rel_ci_high, '+.1%')} ({decides_at(alpha)}); Holm p "
              f"{r.p_holm:.3g}, equivalence Holm p {r.p_tost_holm:.3g}")
    if getattr(r, "estimand", "fixed") != "random":
        return (f"{r.variant} vs {r.control} [{r.scope}, {r.metric}]: **{r.verdict}** ({common}; "
                f"P(X>Y) {r.prob_improvement:.2f}; {r.n} runs; detectable now {r.mde:+.0%}; "
                f"{to_decide.row_text(r.seeds_needed, getattr(r, 'to_decide', ''))})")
    floor = over_envs.seed_floor(r.tau, int(r.k_envs), 1 - 2 * alpha)
    return (f"{r.variant} vs {r.control} [random effects over {r.k_envs} envs, gain over "
            f"random, {r.metric}]: **{r.verdict}** ({common}; prediction interval for a new "
            f"task {_interval(r.pred_low, r.pred_high, '+.1%')}; tau {r.tau:.3f}, I² "
            f"{r.i2:.0%}, Cochran's Q p {r.q_p:.3g}; no number of seeds narrows this interval "
            f"below ±{math.expm1(floor):.1%}: only more envs do; "
            f"{to_decide.row_text(r.seeds_needed, getattr(r, 'to_decide', ''))})")


def decides_at(level: float) -> str:
    """Beside every interval shown with a verdict, which level decides: the interval is the
    unadjusted ``1 - 2 level`` one, while the verdict compares Holm-adjusted p-values with
    ``level`` (the rule of every interval in the report, in one place)."""
    return f"unadjusted; the verdict is Holm-adjusted p against {level:.3g}"


def confidence(level: float) -> str:
    """A confidence level as a percentage, to two significant digits of what it leaves out:
    90%, 95%, 99.86%, 99.99968%."""
    out = 100 * (1 - level)
    digits = max(0, 1 - math.floor(math.log10(out))) if out > 0 else 0
    text = f"{100 * level:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _interval(low: float, high: float, fmt: str) -> str:
    if math.isnan(low) or math.isnan(high):
        return "n/a (too few runs)"
    return f"[{low:{fmt}}, {high:{fmt}}]"
