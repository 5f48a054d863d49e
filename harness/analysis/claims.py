"""Verdicts on the published claims C1-C4 (DESIGN.md §1) from the comparison table.

A claim is judged on *clip-effect* comparisons: a clipped variant against the unclipped
variant that matches it in every other setting, so that e.g. reward normalisation is never
confounded with clipping. ``comparison_pairs`` adds those pairs to the report's comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from harness.analysis.tables import ALL_ENVS, resolved_configs
from harness.ppo.config import PPOConfig
from harness.runs.spec import Experiment

NOT_TESTED = "not tested by this experiment"
BASELINES_EPS = 0.2
"""ppo2 clips the value update with its policy cliprange, 0.2."""


@dataclass(frozen=True)
class Claim:
    """A published claim and our verdict on it."""

    id: str
    statement: str
    source: str
    verdict: str
    """``supported`` | ``contradicted`` | ``inconclusive`` | ``not tested by this experiment``."""
    evidence: tuple[str, ...]
    """One line per comparison (or reason) behind the verdict."""


STATEMENTS = {
    "C1": ("Clipping the value update stabilises learning and improves return.",
           "OpenAI Baselines ppo2 (default on, eps 0.2); TorchRL feature notes"),
    "C2": ("There is no evidence that value clipping helps.",
           "Engstrom et al. 2020, Implementation Matters in Deep Policy Gradients"),
    "C3": ("PPO-style value clipping hurts performance regardless of the threshold.",
           "Andrychowicz et al. 2021, What Matters in On-Policy RL? (C13)"),
    "C4": ("The effect of value clipping depends on reward scaling (eps is in value units).",
           "SB3 clip_range_vf docs; RLlib vf_clip_param docs"),
}


def unclipped_reference(label: str, configs: dict[str, PPOConfig]) -> str | None:
    """The unclipped variant equal to ``label`` in every setting but the value clip."""
    cfg = configs[label]
    if not cfg.clips_value:
        return None
    key = _without_clip(cfg)
    return next((u for u, c in configs.items() if not c.clips_value and _without_clip(c) == key),
                None)


def _without_clip(cfg: PPOConfig) -> PPOConfig:
    return cfg.replace(value_clip="none", vf_clip_eps=PPOConfig.vf_clip_eps)


def comparison_pairs(exp: Experiment) -> list[tuple[str, str]]:
    """(variant, control) pairs of the report: every variant vs the experiment's control,
    then every clipped variant vs its matched unclipped variant when that is another pair."""
    configs = resolved_configs(exp)
    pairs = [(v, exp.control) for v in configs if v != exp.control]
    for label in configs:
        ref = unclipped_reference(label, configs)
        if ref is not None and (label, ref) not in pairs:
            pairs.append((label, ref))
    return pairs


def baselines_variants(exp: Experiment) -> list[str]:
    """Variants set as Baselines ppo2: max-form clip at eps 0.2 (with reward normalisation,
    when the experiment has variants both with and without it)."""
    configs = resolved_configs(exp)
    found = [v for v, c in configs.items()
             if c.value_clip == "max" and c.vf_clip_eps == BASELINES_EPS]
    normalised = [v for v in found if configs[v].normalize_reward]
    return normalised or found


def evaluate_claims(exp: Experiment, comparisons: pd.DataFrame) -> list[Claim]:
    """Verdicts on C1-C4 from ``comparisons`` (``tables.comparison_table`` output)."""
    effects = clip_effects(exp, comparisons)
    configs = resolved_configs(exp)
    primary = effects[effects["primary"]]
    judges: dict[str, Callable[[], tuple[str, list[str]]]] = {
        "C1": lambda: _judge_c1(primary[primary["variant"].isin(baselines_variants(exp))]),
        "C2": lambda: _judge_c2(effects),
        "C3": lambda: _judge_c3(primary[[configs[v].value_clip == "max"
                                         for v in primary["variant"]]]),
        "C4": lambda: _judge_c4(primary, configs),
    }
    claims = []
    for cid, judge in judges.items():
        verdict, evidence = judge()
        claims.append(Claim(cid, *STATEMENTS[cid], verdict, tuple(evidence)))
    return claims


def clip_effects(exp: Experiment, comparisons: pd.DataFrame) -> pd.DataFrame:
    """The clip-effect rows of ``comparisons``, with ``primary`` marking the scope a claim is
    judged on: ``all`` when there are several envs, else the single env."""
    configs = resolved_configs(exp)
    matched = pd.Series([v in configs and unclipped_reference(v, configs) == c
                         for v, c in zip(comparisons["variant"], comparisons["control"],
                                         strict=True)], index=comparisons.index, dtype=bool)
    effects = comparisons.loc[matched].copy()
    with_all = set(effects.loc[effects["scope"] == ALL_ENVS, "variant"])
    effects["primary"] = (effects["scope"] == ALL_ENVS) | ~effects["variant"].isin(with_all)
    return effects


def _judge_c1(rows: pd.DataFrame) -> tuple[str, list[str]]:
    return _unanimous(rows, "better", "needs value_clip=max, vf_clip_eps=0.2 and an "
                      "unclipped variant")


def _judge_c2(rows: pd.DataFrame) -> tuple[str, list[str]]:
    if rows.empty:
        return NOT_TESTED, ["needs a clipped and a matching unclipped variant"]
    better = rows[rows["verdict"] == "better"]
    if not better.empty:
        return "contradicted", _lines(better)
    counts = rows["verdict"].value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    return "supported", [f"no clipped variant is better in any scope ({summary})",
                         *_lines(rows[rows["primary"]])]


def _judge_c3(rows: pd.DataFrame) -> tuple[str, list[str]]:
    return _unanimous(rows, "worse", "needs a value_clip=max variant and a matching unclipped "
                      "variant")


def _unanimous(rows: pd.DataFrame, claimed: str, missing: str) -> tuple[str, list[str]]:
    """Supported when every comparison is ``claimed`` (better or worse), contradicted when
    any shows the opposite direction or equivalence, else inconclusive."""
    if rows.empty:
        return NOT_TESTED, [missing]
    verdicts = set(rows["verdict"])
    if verdicts == {claimed}:
        return "supported", _lines(rows)
    if verdicts & ({"better", "worse", "equivalent"} - {claimed}):
        return "contradicted", _lines(rows)
    return "inconclusive", _lines(rows)


def _judge_c4(rows: pd.DataFrame, configs: dict[str, PPOConfig]) -> tuple[str, list[str]]:
    """Clip effect with vs without reward normalisation, per clip setting."""
    settings: dict[PPOConfig, dict[bool, pd.Series]] = {}
    for _, row in rows.iterrows():
        cfg = configs[row["variant"]]
        settings.setdefault(cfg.replace(normalize_reward=True), {})[cfg.normalize_reward] = row
    both = [s for s in settings.values() if len(s) == 2]
    if not both:
        return NOT_TESTED, ["needs a normalize_reward axis with clipped and unclipped variants"]
    decisive = {"better", "worse", "equivalent"}
    pairs = [(s[True]["verdict"], s[False]["verdict"]) for s in both]
    lines = [line for s in both for line in _lines(pd.DataFrame([s[True], s[False]]))]
    if any(a in decisive and b in decisive and a != b for a, b in pairs):
        return "supported", lines
    if all(a in decisive and a == b for a, b in pairs):
        return "contradicted", lines
    return "inconclusive", lines


def _lines(rows: pd.DataFrame) -> list[str]:
    return [f"{r.variant} vs {r.control} [{r.scope}]: **{r.verdict}** (P(X>Y) "
            f"{r.prob_improvement:.2f}, 95% CI {_interval(r.pi_ci_low, r.pi_ci_high, '.2f')}; "
            f"relative difference {r.rel_diff:+.1%}, 90% CI "
            f"{_interval(r.rel_ci_low, r.rel_ci_high, '+.1%')}; Holm p {r.p_holm:.3g}; "
            f"{r.n} runs)" for r in rows.itertuples()]


def _interval(low: float, high: float, fmt: str) -> str:
    if math.isnan(low) or math.isnan(high):
        return "n/a (one run)"
    return f"[{low:{fmt}}, {high:{fmt}}]"
