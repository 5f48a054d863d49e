"""Published spreads ``harness plan`` assumes without a pilot, and the anchors that normalise
scores (the published returns themselves: ``runs.references.REFERENCE_RETURNS``)."""

from __future__ import annotations

import math

from harness.runs import references

PUBLISHED_STEPS = 1_000_000
"""Env steps behind the published MuJoCo returns."""
RUN_CV = {
    # our baselines_vs_unclipped study (v5, 10 seeds per arm at its first look, 1M steps): the
    # root mean square of the two arms' std / mean (none, max at 0.2), from its committed
    # report/summary.csv (tests/test_published.py checks these numbers against the file)
    "Hopper": math.sqrt((383.75 / 2002.98) ** 2 + (376.76 / 2151.49) ** 2) / math.sqrt(2),
    "Walker2d": math.sqrt((645.11 / 3162.65) ** 2 + (745.26 / 2635.00) ** 2) / math.sqrt(2),
    "HalfCheetah": math.sqrt((771.49 / 1787.67) ** 2 + (76.39 / 1415.07) ** 2) / math.sqrt(2),
    # CleanRL's 3 seeds (std / mean above): a rough spread where we have no study of our own
    "InvertedPendulum": 22.20 / 963.09,
    "Humanoid": 49.08 / 716.11,
}
"""Spread of one run's final score across seeds, relative to the mean (coefficient of
variation), per env family: what ``harness plan`` assumes without a pilot."""


def run_cv(env_id: str) -> tuple[float, str]:
    """The assumed coefficient of variation of ``env_id``'s final score, and where it is from
    (envs without a published spread get the largest known one: plan for the worst case)."""
    family = env_id.rpartition(":")[2].split("-v")[0]
    if family in RUN_CV:
        return RUN_CV[family], "published"
    return max(RUN_CV.values()), "assumed (no published spread: the largest known)"


def anchors() -> dict[str, tuple[float, float]]:
    """Env id -> (random policy's score, published PPO score) where both are known
    (``harness/runs/reference_scores.csv``): the reference normalisation's 0 and 1."""
    return {env: (r.random_mean, r.published) for env, r in references.read().items()
            if math.isfinite(r.published) and r.published != r.random_mean}
