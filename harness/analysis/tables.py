"""Score frames -> the report's tables (summary, comparisons, curve bands, eps sweep).

The glue between tidy pandas frames and the pure array functions of ``harness.analysis.stats``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.analysis import stats
from harness.ppo.config import PPOConfig
from harness.runs.spec import Experiment

SUMMARY_COLUMNS = ["env_id", "variant", "n_runs", "mean", "std", "median", "iqm",
                   "iqm_ci_low", "iqm_ci_high"]
COMPARISON_COLUMNS = ["scope", "variant", "control", "n", "prob_improvement", "pi_ci_low",
                      "pi_ci_high", "mean_diff", "diff_ci_low", "diff_ci_high", "p_value",
                      "p_holm", "verdict"]
EQUIVALENCE_COLUMNS = ["rel_diff", "rel_ci_low", "rel_ci_high"]
"""Relative difference (mean diff / |control mean|) and its 90% CI, which the verdict uses."""
ALL_ENVS = "all"


def resolved_configs(exp: Experiment) -> dict[str, PPOConfig]:
    """Each variant's full PPO config (the experiment's ``ppo:`` plus its overrides)."""
    return {v.label: exp.ppo.replace(**v.as_dict()) for v in exp.variants}


def in_experiment_order(scores: pd.DataFrame, exp: Experiment) -> pd.DataFrame:
    """Rows sorted by the experiment's env order, then variant order, then seed."""
    env_rank = {e: i for i, e in enumerate(exp.envs)}
    variant_rank = {v.label: i for i, v in enumerate(exp.variants)}
    order = pd.DataFrame({"e": scores["env_id"].map(env_rank),
                          "v": scores["variant"].map(variant_rank), "s": scores["seed"]})
    return scores.loc[order.sort_values(["e", "v", "s"]).index].reset_index(drop=True)


def summary_table(scores: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """Per env x variant: run count, mean, std, median, IQM and its 95% bootstrap CI.

    ``scores``: ``env_id``, ``variant``, ``score`` per run; row order follows ``scores``.
    """
    rows = []
    for (env_id, variant), group in scores.groupby(["env_id", "variant"], sort=False):
        x = group["score"].to_numpy(float)
        low, high = stats.iqm_ci(x, n_boot=n_boot, seed=seed)
        rows.append({"env_id": env_id, "variant": variant, "n_runs": len(x),
                     **stats.describe(x), "iqm_ci_low": low, "iqm_ci_high": high})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def comparison_table(scores: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, n_boot: int,
                     seed: int, margin: float) -> pd.DataFrame:
    """Each (variant, control) pair per env and, with several envs, over all envs.

    ``scope = all`` divides each env's scores by |mean control score| in that env (so the
    control's mean is 1 when returns are positive) and stratifies the bootstrap by env.
    Holm's correction runs over every row. Returns ``COMPARISON_COLUMNS`` plus
    ``EQUIVALENCE_COLUMNS``.
    """
    by_cell = {key: g["score"].to_numpy(float)
               for key, g in scores.groupby(["env_id", "variant"], sort=False)}
    envs = list(dict.fromkeys(scores["env_id"]))
    rows = []
    for variant, control in pairs:
        cells = [(env, by_cell[env, variant], by_cell[env, control]) for env in envs
                 if (env, variant) in by_cell and (env, control) in by_cell]
        for env, x, y in cells:
            rows.append(_comparison_row(env, variant, control, [x], [y], n_boot, seed))
        scaled = [(x / abs(y.mean()), y / abs(y.mean())) for _, x, y in cells if y.mean() != 0]
        if len(scaled) > 1:
            xs, ys = zip(*scaled, strict=True)
            rows.append(_comparison_row(ALL_ENVS, variant, control, xs, ys, n_boot, seed))
    measured = [c for c in COMPARISON_COLUMNS if c not in ("p_holm", "verdict")]
    frame = pd.DataFrame(rows, columns=[*measured, *EQUIVALENCE_COLUMNS])
    frame["p_holm"] = stats.holm(frame["p_value"].to_numpy(float))
    frame["verdict"] = [stats.verdict(r.p_holm, r.prob_improvement, r.rel_ci_low, r.rel_ci_high,
                                      margin=margin) for r in frame.itertuples()]
    return frame[[*COMPARISON_COLUMNS, *EQUIVALENCE_COLUMNS]]


def _comparison_row(scope: str, variant: str, control: str, xs: Sequence[np.ndarray],
                    ys: Sequence[np.ndarray], n_boot: int, seed: int) -> dict:
    result = stats.compare(xs, ys, n_boot=n_boot, seed=seed)
    return {"scope": scope, "variant": variant, "control": control} | dataclasses.asdict(result)


Band = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``band(values [n_runs, t], *, n_boot, seed) -> (centre, ci_low, ci_high)``, each [t]."""


def curve_bands(curves: pd.DataFrame, *, n_boot: int, seed: int, band: Band = stats.mean_ci,
                centre: str = "mean") -> pd.DataFrame:
    """A curve over runs with a 95% bootstrap band, per env x variant x grid step.

    ``curves``: ``scores.run_curves`` output; ``band`` aggregates the runs (the mean by
    default) and ``centre`` names its column. Returns ``env_id``, ``variant``,
    ``global_step``, ``centre``, ``ci_low``, ``ci_high``.
    """
    parts = []
    for (env_id, variant), group in curves.groupby(["env_id", "variant"], sort=False):
        wide = group.pivot(index="run_id", columns="global_step", values="value")
        middle, low, high = band(wide.to_numpy(float), n_boot=n_boot, seed=seed)
        parts.append(pd.DataFrame({"env_id": env_id, "variant": variant,
                                   "global_step": wide.columns.to_numpy(float), centre: middle,
                                   "ci_low": low, "ci_high": high}))
    columns = ["env_id", "variant", "global_step", centre, "ci_low", "ci_high"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def eps_sweep_table(summary: pd.DataFrame, exp: Experiment) -> pd.DataFrame:
    """Final-score IQM against ``vf_clip_eps``; empty unless the clipped variants use 2+ eps.

    Clipped variants are grouped into ``series`` (value_clip mode plus any other axis), one
    line each; unclipped variants keep ``vf_clip_eps`` NaN and serve as the reference level.
    """
    configs = resolved_configs(exp)
    if len({c.vf_clip_eps for c in configs.values() if c.clips_value}) < 2:
        return pd.DataFrame(columns=["series", "vf_clip_eps", *SUMMARY_COLUMNS])
    other_axes = [a for a in exp.axes if a not in ("value_clip", "vf_clip_eps")]

    def series(label: str) -> str:
        cfg = configs[label]
        if not cfg.clips_value:
            return label
        return ",".join([f"value_clip={cfg.value_clip}",
                         *(f"{a}={_label_value(getattr(cfg, a))}" for a in other_axes)])

    sweep = summary[summary["variant"].isin(configs)].copy()
    sweep.insert(0, "series", sweep["variant"].map(series))
    sweep.insert(1, "vf_clip_eps", [configs[v].applied_vf_clip_eps for v in sweep["variant"]])
    return sweep.sort_values(["series", "vf_clip_eps"], kind="stable")


def _label_value(value: object) -> str:
    """A setting as variant labels spell it (YAML booleans)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
