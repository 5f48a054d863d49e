"""Does a variant make learning more stable? Within runs, and (descriptively) across seeds.

C1 says value clipping *stabilises* learning; Baselines means the optimisation within a run.
Three per-run measures of it, each compared against the control per env and over envs (the
equal-weight mean of the per-env differences: "on these envs"):

- **Collapses**: a run *collapses* when its learning curve (per-update mean return, smoothed
  over ``SMOOTH_SHARE`` of its updates, at least ``SMOOTH_UPDATES``) falls, after a peak, by
  more than ``COLLAPSE_DROP`` of what it had gained since its first update (the "performance
  collapse" of Patterson et al. 2024 and Chan et al. 2020's drawdown, made a yes/no per run).
  Counts are compared with Fisher's exact test (envs pooled: every env has the same number
  of seeds per arm, so pooling does not confound).
- **Worst drawdown**: the largest share of its gain a run loses after a peak (same smoothed
  curve), compared as a difference of means with Welch's interval and test, and two
  one-sided tests at +-``margin`` (in shares of the gain).
- **Value-loss spikes**: the share of a run's updates whose ``value_loss_unclipped`` exceeds
  ``analysis.spike_factor`` (default 10) times the median of its previous ``SPIKE_WINDOW``
  updates, compared as a difference of mean shares (Welch).

The spread across seeds (the mean absolute deviation of each run's score from its arm's
median, the Brown-Forsythe spread, as a ratio of means with ``effects.log_ratio``) is kept as
a description: less spread can come from every run sitting in one mode of a bimodal env
(``modes``), which is not stabilisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from harness.analysis import alpha_spending, effects
from harness.analysis.tables import ALL_ENVS
from harness.runs.sequential_record import SequentialRecord
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
SPIKE_WINDOW = 20
"""Updates before the current one whose median is the reference (the loss trends over
training, so a run-wide median would count its early updates as spikes)."""
STABILITY_COLUMNS = ["scope", "variant", "control", "n", "dispersion_ratio", "dispersion_ci_low",
                     "dispersion_ci_high", "dispersion_p", "dispersion_p_tost", "seeds_needed",
                     "collapses", "control_n", "control_collapses", "collapse_p",
                     "drawdown", "control_drawdown", "drawdown_diff", "drawdown_ci_low",
                     "drawdown_ci_high", "drawdown_p", "drawdown_p_tost", "drawdown_seeds_needed",
                     "spike_rate", "control_spike_rate", "spike_diff", "spike_ci_low",
                     "spike_ci_high", "spike_p"]
WITHIN_RUN = {"collapse": "collapse_p", "drawdown": "drawdown_p", "spikes": "spike_p"}
"""The within-run senses C1-stability is judged on, and their p-value columns."""


def max_drawdown(curve: np.ndarray) -> float:
    """Largest fraction of the gain so far (peak - first value) lost after a peak: [t] -> float.

    0 for a curve that never falls below its running peak or never rises above its start; at
    most 1: a run that falls below its start has lost all of its gain (uncapped, a run that
    barely learns, as on Ant, gave 10 or more from a gain of noise, and its arm's mean).
    """
    curve = np.asarray(curve, float)
    if curve.size == 0:
        return 0.0
    peak = np.maximum.accumulate(curve)
    gain = peak - curve[0]
    lost = np.divide(peak - curve, gain, out=np.zeros_like(curve), where=gain > 0)
    return float(min(lost.max(), 1.0))


def spike_rate(losses: np.ndarray, factor: float = AnalysisSettings.spike_factor) -> float:
    """Share of updates whose loss exceeds ``factor`` times the median of the previous
    ``SPIKE_WINDOW``: [t] -> float (NaN values skipped; NaN with no full window)."""
    losses = pd.Series(np.asarray(losses, float)).dropna()
    reference = losses.shift(1).rolling(SPIKE_WINDOW, min_periods=SPIKE_WINDOW).median()
    judged = reference.notna()
    if not judged.any():
        return np.nan
    return float((losses[judged] > factor * reference[judged]).mean())


RUN_COLUMNS = ["run_id", "env_id", "variant", "drawdown", "collapsed", "spike_rate"]


def run_stability(updates: pd.DataFrame,
                  spike_factor: float = AnalysisSettings.spike_factor) -> pd.DataFrame:
    """Per run: ``RUN_COLUMNS`` (the worst drawdown, whether it collapsed, its spike rate at
    ``spike_factor``, ``analysis.spike_factor``).

    ``updates``: the updates table (``episodic_return`` per update, NaN updates skipped;
    ``value_loss_unclipped``, NaN spike rate where a trainer does not log it).
    """
    rows = []
    ordered = updates.sort_values(["run_id", "global_step"])
    for (run_id, env_id, variant), run in ordered.groupby(["run_id", "env_id", "variant"]):
        returns = run["episodic_return"].dropna()
        window = max(SMOOTH_UPDATES, int(SMOOTH_SHARE * len(returns)))
        drawdown = max_drawdown(returns.rolling(window, min_periods=1).mean().to_numpy())
        losses = run.get("value_loss_unclipped", pd.Series(np.nan, index=run.index))
        rows.append({"run_id": run_id, "env_id": env_id, "variant": variant,
                     "drawdown": drawdown, "collapsed": drawdown > COLLAPSE_DROP,
                     "spike_rate": spike_rate(losses.to_numpy(), spike_factor)})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def deviations(scores: np.ndarray) -> np.ndarray:
    """Absolute deviations from the median: [n] -> [n] (the Brown-Forsythe spread)."""
    return np.abs(scores - np.median(scores))


def stability_table(scores: pd.DataFrame, runs: pd.DataFrame,
                    pairs: Sequence[tuple[str, str]], settings: AnalysisSettings,
                    level: float | None = None, looks: Sequence[int] = (),
                    record: SequentialRecord | None = None) -> pd.DataFrame:
    """Per (variant, control) pair, per env and over all envs: the dispersion ratio with its
    ``1 - level`` interval (``level``: alpha unless given; a sequential design passes the
    last look's share, ``claims.evaluate_claims``) and tests, the runs to resolve the margin
    (over ``looks`` when given, ``record``'s at their recorded levels,
    ``alpha_spending.need_for``), the collapse counts with
    Fisher's p, and the mean drawdown and spike rate of each arm with the difference's
    ``1 - 2 level`` interval (the one equivalence uses) and Welch's test.

    ``scores``: ``env_id``, ``variant``, ``score`` per run (the primary metric); ``runs``:
    ``run_stability`` output.
    """
    by_cell = {k: g["score"].to_numpy(float) for k, g in scores.groupby(["env_id", "variant"])}
    need = alpha_spending.need_for(settings, looks, record)
    within = {k: g for k, g in runs.groupby(["env_id", "variant"])}
    envs = list(dict.fromkeys(scores["env_id"]))
    rows = []
    level = settings.alpha if level is None else level
    for variant, control in pairs:
        cells = [e for e in envs if (e, variant) in by_cell and (e, control) in by_cell]
        scopes = [(e, [e]) for e in cells] + ([(ALL_ENVS, cells)] if len(cells) > 1 else [])
        for scope, members in scopes:
            rows.append(_row(scope, variant, control, members, by_cell, within, settings,
                             level, need))
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


def _row(scope: str, variant: str, control: str, envs: list[str], by_cell: dict,
         within: dict, settings: AnalysisSettings, level: float,
         need: alpha_spending.Need) -> dict:
    ratio = effects.log_ratio([deviations(by_cell[e, variant]) for e in envs],
                              [deviations(by_cell[e, control]) for e in envs])
    low, high = ratio.interval(1 - level)
    x, y = (_column(within, envs, arm, "collapsed") for arm in (variant, control))
    table = [[x.sum(), len(x) - x.sum()], [y.sum(), len(y) - y.sum()]]
    fisher = scipy.stats.fisher_exact(table).pvalue if len(x) and len(y) else np.nan
    seeds = need(ratio)
    return {"scope": scope, "variant": variant, "control": control,
            "n": sum(len(by_cell[e, variant]) for e in envs),
            "dispersion_ratio": float(np.exp(ratio.estimate)),
            "dispersion_ci_low": float(low) + 1, "dispersion_ci_high": float(high) + 1,
            "dispersion_p": float(ratio.p_value()),
            "dispersion_p_tost": float(ratio.p_equivalence(settings.margin)),
            "seeds_needed": float(seeds),
            "collapses": int(x.sum()), "control_n": len(y), "control_collapses": int(y.sum()),
            "collapse_p": float(fisher),
            **_difference("drawdown", within, envs, variant, control, level, settings, need),
            **_difference("spike_rate", within, envs, variant, control, level, settings, need)}


def _column(within: dict, envs: list[str], arm: str, column: str) -> np.ndarray:
    """``column`` of ``arm``'s runs in ``envs``, concatenated: [runs]."""
    return np.concatenate([within[e, arm][column].to_numpy() if (e, arm) in within
                           else np.zeros(0) for e in envs])


def _difference(measure: str, within: dict, envs: list[str], variant: str, control: str,
                level: float, settings: AnalysisSettings, need: alpha_spending.Need) -> dict:
    """Each arm's mean of a per-run ``measure`` (``drawdown`` or ``spike_rate``) and the mean
    over envs of the per-env differences, with Welch's interval and test (an env where a
    run lacks the measure leaves it NaN; so does a measure equal in every run of both arms)."""
    xs, ys = ([np.asarray(within[e, arm][measure], float) if (e, arm) in within
               else np.zeros(0) for e in envs] for arm in (variant, control))
    usable = all(np.isfinite(a).all() and len(a) for a in [*xs, *ys])
    name = "spike" if measure == "spike_rate" else measure
    out = {measure: np.mean(np.concatenate(xs)) if usable else np.nan,
           f"control_{measure}": np.mean(np.concatenate(ys)) if usable else np.nan}
    # every run of both arms alike (runs that never gain, or a saturated env): no spread to
    # test against, so no interval, test or count (issue 23: no confident nonsense)
    flat = usable and all(np.ptp(a) == 0 for a in [*xs, *ys])
    d = effects.range_difference(xs, ys, [1.0] * len(envs)) if usable and not flat else None
    low, high = d.interval(1 - 2 * level) if d else (np.nan, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # no variance anywhere: no test
        p = float(d.p_value()) if d else np.nan
    out |= {f"{name}_diff": float(d.estimate) if d else np.nan, f"{name}_ci_low": float(low),
            f"{name}_ci_high": float(high), f"{name}_p": p}
    if measure == "drawdown":
        seeds = need(d) if d else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            out |= {"drawdown_p_tost": float(d.p_equivalence(settings.margin)) if d else np.nan,
                    "drawdown_seeds_needed": float(seeds)}
    return out
