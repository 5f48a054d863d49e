"""Does a variant make learning more stable? Spread across seeds and collapses within runs.

C1 says value clipping *stabilises* learning. Two measurable senses, each compared against
the control with a test of known level:

- **Dispersion across seeds**: the mean absolute deviation of each run's score from its
  arm's median in that env (the spread measure of the Brown-Forsythe test, robust to the
  bimodal outcomes RL often has), compared as a ratio of means with ``effects.log_ratio``:
  the same estimator, interval and power as the scores themselves (ratio < 1: less spread).
- **Collapses within a run**: a run *collapses* when its learning curve (per-update mean
  return, smoothed over ``SMOOTH_SHARE`` of its updates, at least ``SMOOTH_UPDATES``) falls,
  after a peak, by more than ``COLLAPSE_DROP`` of what it had gained since its first update
  (the "performance collapse" of Patterson et al. 2024 and Chan et al. 2020's drawdown, made
  a yes/no per run).
  Collapse counts are compared with Fisher's exact test (envs pooled: every env has the
  same number of seeds per arm, so pooling does not confound).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from harness.analysis import alpha_spending, effects
from harness.analysis.tables import ALL_ENVS
from harness.runs.spec import AnalysisSettings

COLLAPSE_DROP = 0.5
"""A collapse loses more than this fraction of the gain made up to the peak."""
SMOOTH_UPDATES = 5
"""Smallest rolling window (updates): one bad update is not a collapse."""
SMOOTH_SHARE = 0.05
"""Rolling window as a share of the run's updates: a collapse lasts a few percent of training.
With a window of 5 updates, 19 of 20 Hopper runs of the published study "collapsed" on
episode-to-episode noise; over 5% of training (24 updates) none did, while 5 HalfCheetah runs
still do (the flips onto its back that this env is known for)."""
STABILITY_COLUMNS = ["scope", "variant", "control", "n", "dispersion_ratio", "dispersion_ci_low",
                     "dispersion_ci_high", "dispersion_p", "dispersion_p_tost", "seeds_needed",
                     "collapses", "control_n", "control_collapses", "collapse_p"]


def max_drawdown(curve: np.ndarray) -> float:
    """Largest fraction of the gain so far (peak - first value) lost after a peak: [t] -> float.

    0 for a curve that never falls below its running peak or never rises above its start.
    """
    curve = np.asarray(curve, float)
    if curve.size == 0:
        return 0.0
    peak = np.maximum.accumulate(curve)
    gain = peak - curve[0]
    lost = np.divide(peak - curve, gain, out=np.zeros_like(curve), where=gain > 0)
    return float(lost.max())


def collapses(updates: pd.DataFrame) -> pd.DataFrame:
    """Per run: ``run_id``, ``env_id``, ``variant``, ``drawdown`` and ``collapsed``.

    ``updates``: the updates table (``episodic_return`` per update; NaN updates skipped).
    """
    rows = []
    finite = updates.dropna(subset=["episodic_return"]).sort_values(["run_id", "global_step"])
    for (run_id, env_id, variant), run in finite.groupby(["run_id", "env_id", "variant"]):
        window = max(SMOOTH_UPDATES, int(SMOOTH_SHARE * len(run)))
        smooth = run["episodic_return"].rolling(window, min_periods=1).mean()
        drawdown = max_drawdown(smooth.to_numpy())
        rows.append({"run_id": run_id, "env_id": env_id, "variant": variant,
                     "drawdown": drawdown, "collapsed": drawdown > COLLAPSE_DROP})
    return pd.DataFrame(rows, columns=["run_id", "env_id", "variant", "drawdown", "collapsed"])


def deviations(scores: np.ndarray) -> np.ndarray:
    """Absolute deviations from the median: [n] -> [n] (the Brown-Forsythe spread)."""
    return np.abs(scores - np.median(scores))


def stability_table(scores: pd.DataFrame, runs: pd.DataFrame,
                    pairs: Sequence[tuple[str, str]], settings: AnalysisSettings,
                    level: float | None = None, looks: Sequence[int] = ()) -> pd.DataFrame:
    """Per (variant, control) pair, per env and over all envs: the dispersion ratio with its
    ``1 - level`` interval (``level``: alpha unless given; a sequential design passes the
    last look's share, ``claims.evaluate_claims``) and tests, the runs to resolve the margin
    (over ``looks`` when given, ``alpha_spending.need_for``), and the collapse counts with
    Fisher's p.

    ``scores``: ``env_id``, ``variant``, ``score`` per run (the primary metric); ``runs``:
    ``collapses`` output.
    """
    by_cell = {k: g["score"].to_numpy(float) for k, g in scores.groupby(["env_id", "variant"])}
    need = alpha_spending.need_for(settings, looks)
    fell = {k: g["collapsed"].to_numpy(bool) for k, g in runs.groupby(["env_id", "variant"])}
    envs = list(dict.fromkeys(scores["env_id"]))
    rows = []
    for variant, control in pairs:
        cells = [e for e in envs if (e, variant) in by_cell and (e, control) in by_cell]
        scopes = [(e, [e]) for e in cells] + ([(ALL_ENVS, cells)] if len(cells) > 1 else [])
        for scope, members in scopes:
            rows.append(_row(scope, variant, control, members, by_cell, fell, settings,
                             settings.alpha if level is None else level, need))
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


def _row(scope: str, variant: str, control: str, envs: list[str], by_cell: dict,
         fell: dict, settings: AnalysisSettings, level: float, need: alpha_spending.Need) -> dict:
    ratio = effects.log_ratio([deviations(by_cell[e, variant]) for e in envs],
                              [deviations(by_cell[e, control]) for e in envs])
    low, high = ratio.interval(1 - level)
    x = np.concatenate([fell.get((e, variant), np.zeros(0, bool)) for e in envs])
    y = np.concatenate([fell.get((e, control), np.zeros(0, bool)) for e in envs])
    table = [[x.sum(), len(x) - x.sum()], [y.sum(), len(y) - y.sum()]]
    fisher = scipy.stats.fisher_exact(table).pvalue if len(x) and len(y) else np.nan
    seeds = need(ratio)
    return {"scope": scope, "variant": variant, "control": control,
            "n": sum(len(by_cell[e, variant]) for e in envs),
            "dispersion_ratio": float(np.exp(ratio.estimate)),
            "dispersion_ci_low": float(low) + 1, "dispersion_ci_high": float(high) + 1,
            "dispersion_p": float(ratio.p_value()),
            "dispersion_p_tost": float(ratio.p_equivalence(settings.margin)),
            "seeds_needed": int(seeds) if seeds == seeds else -1,
            "collapses": int(x.sum()), "control_n": len(y), "control_collapses": int(y.sum()),
            "collapse_p": float(fisher)}
