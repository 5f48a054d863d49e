"""An over-env comparison as a claim about tasks: random effects on the gain-over-random scale.

The report's ``all`` rows average the per-env log ratios of mean scores with equal weights:
the effect *on these envs* (estimand ``fixed``, a reproduction of a paper's setting). A claim
about PPO in general is about the effect on a typical task, which the envs sample; its row
(estimand ``random``) is the random-effects mean of the per-env log ratios of the *gains over
a random policy* (``meta.gain_log_ratio`` with the committed random scores,
``runs.references``), so that envs with negative returns or a negative random score join one
average, with the Hartung-Knapp-Sidik-Jonkman interval on t(k - 1) (Hartung & Knapp 2001;
IntHout et al. 2014), tau, I^2 (Higgins & Thompson 2002), Cochran's Q and the prediction
interval for a new task (Higgins, Thompson & Spiegelhalter 2009). An env whose control does
not clearly beat random, or without a committed random score, is left out with a note
(``exclusions``). Its interval cannot shrink below about ``t(k - 1) tau / sqrt(k)`` however
many seeds are run: only more envs narrow it (``seed_floor``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.stats

from harness.analysis import meta
from harness.runs.spec import gym_id

GAIN = "gain over random"
"""``comparisons.csv`` ``normalisation`` of a random-effects row."""
RANDOM_COLUMNS = ["estimand", "k_envs", "pred_low", "pred_high", "tau", "i2", "q_p"]
"""``comparisons.csv`` columns of the over-env estimates (NaN where they do not apply)."""


def random_score(env: str, scores: Mapping[str, float]) -> float | None:
    """The committed random-policy score of the env labelled ``env`` (by label, then by its
    gym id), or None."""
    return scores.get(env, scores.get(gym_id(env)))


def exclusions(envs: Sequence[str], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
               scores: Mapping[str, float], alpha: float) -> dict[str, str]:
    """Envs left out of the gain-scale average and why: ``xs``/``ys`` the k envs' variant
    and control runs (arrays [n_i], [m_i])."""
    out = {}
    for env, x, y in zip(envs, xs, ys, strict=True):
        score = random_score(env, scores)
        reason = ("no random-policy score committed (runs/reference_scores.csv)"
                  if score is None else meta.gain_exclusion(x, y, score, alpha=alpha))
        if reason:
            out[env] = reason
    return out


def random_row(envs: Sequence[str], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
               scores: Mapping[str, float], *, alpha: float, power: float,
               margin: float) -> dict:
    """The random-effects ``comparisons.csv`` fields of one over-env comparison (envs as
    ``exclusions``); intervals at ``1 - 2 alpha`` as every row's, the difference interval at
    ``1 - alpha``; NaN below 2 usable envs (prediction interval: below 3)."""
    left_out = exclusions(envs, xs, ys, scores, alpha)
    used = [(x, y, random_score(e, scores)) for e, x, y in zip(envs, xs, ys, strict=True)
            if e not in left_out]
    gains = [meta.gain_log_ratio(x, y, s, alpha=alpha) for x, y, s in used]
    re = meta.random_effects(np.array([float(g.estimate) for g in gains]),
                             np.array([float(g.variance) for g in gains]),
                             confidence=1 - 2 * alpha)
    effect = re.effect()
    with np.errstate(invalid="ignore"):
        low, high = (float(np.expm1(v)) for v in effect.interval(1 - alpha))
        rel = float(np.expm1(re.estimate))
        return {"n": sum(len(x) for x, _, _ in used), "mean_diff": rel, "diff_ci_low": low,
                "diff_ci_high": high, "rel_diff": rel,
                "rel_ci_low": float(np.expm1(re.ci_low)),
                "rel_ci_high": float(np.expm1(re.ci_high)),
                "mde": float(effect.mde(alpha, power)), "seeds_needed": math.nan,
                "p_value": float(effect.p_value()), "log_se": float(re.se),
                "df": float(re.df), "p_tost": float(effect.p_equivalence(margin)),
                "normalisation": GAIN, "estimand": "random", "k_envs": int(re.k),
                "pred_low": float(np.expm1(re.pred_low)),
                "pred_high": float(np.expm1(re.pred_high)), "tau": float(re.tau),
                "i2": float(re.i2), "q_p": float(re.q_p)}


def seed_floor(tau: float, k: int, confidence: float) -> float:
    """The half-width (log scale) the HKSJ ``confidence`` interval of k envs approaches as
    seeds grow: ``t_{(1+confidence)/2}(k - 1) tau / sqrt(k)`` (NaN below 2 envs)."""
    if k < 2 or math.isnan(tau):
        return math.nan
    return float(scipy.stats.t.ppf(0.5 + confidence / 2, k - 1) * tau / math.sqrt(k))
