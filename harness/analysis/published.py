"""Published spreads ``harness plan`` assumes without a pilot (per run and between envs), and
the anchors that normalise scores (the published returns themselves:
``runs.references.REFERENCE_RETURNS``)."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from harness.runs import references
from harness.runs.spec import env_family, gym_id

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


BETWEEN_ENV_TAU = 0.141023
"""Between-env sd of the true log ratio of gains over a random policy that ``harness plan``
assumes without a pilot: our baselines_vs_unclipped study's REML tau (Baselines' max at 0.2
against the unclipped loss over the papers' five envs, 10 seeds per arm), its committed
report/comparisons.csv, primary row with estimand random (tests/test_published.py checks it).
One clip form on five envs is a rough estimate; meta-analyses plan with such an assumed tau
(Borenstein et al. 2009, Introduction to Meta-Analysis, ch. 29)."""


def run_cv(env_id: str) -> tuple[float, str]:
    """The assumed coefficient of variation of ``env_id``'s final score, and where it is from
    (envs without a published spread get the largest known one: plan for the worst case)."""
    family = env_family(env_id.rpartition(":")[2])
    if family in RUN_CV:
        return RUN_CV[family], "published"
    return max(RUN_CV.values()), "assumed (no published spread: the largest known)"


def anchors() -> dict[str, tuple[float, float]]:
    """Env id -> (random policy's score, published PPO score) where both are known
    (``harness/runs/reference_scores.csv``): the reference normalisation's 0 and 1."""
    return {env: (r.random_mean, r.published) for env, r in references.read().items()
            if math.isfinite(r.published) and r.published != r.random_mean}


def env_scale(env_id: str) -> tuple[float, float]:
    """(random policy's score, control's mean score) of ``env_id`` in a pilot of the published
    spreads: its ``anchors`` (by label, then by gym id), else (0, 1): the unit scale, on which
    the gain over random is the score itself."""
    known = anchors()
    return known.get(env_id) or known.get(gym_id(env_id)) or (0.0, 1.0)


def normal_quantiles(k: int) -> np.ndarray:
    """[k] standard-normal quantiles at (i + 0.5) / k, i = 0 .. k - 1, rescaled to sample sd
    (ddof 1) exactly 1 (mean 0 by symmetry; k = 1: [0]): deterministic draws whose spread is
    exactly the one asked for."""
    z = scipy.stats.norm.ppf((np.arange(k) + 0.5) / k)
    return z / z.std(ddof=1) if k > 1 else np.zeros(k)
