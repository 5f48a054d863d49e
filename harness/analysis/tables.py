"""Score frames -> the report's tables (summary, comparisons, curve bands, eps sweep).

The glue between tidy pandas frames and the pure array functions of ``harness.analysis.stats``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from harness.analysis import effects, over_envs, stats
from harness.runs.spec import AnalysisSettings, Experiment, env_family

SUMMARY_COLUMNS = ["env_id", "variant", "n_runs", "mean", "std", "median", "iqm",
                   "iqm_ci_low", "iqm_ci_high"]
COMPARISON_COLUMNS = ["scope", "variant", "control", "metric", "family", "n",
                      "prob_improvement", "pi_ci_low", "pi_ci_high", "mean_diff", "diff_ci_low",
                      "diff_ci_high", "rel_diff", "rel_ci_low", "rel_ci_high", "mde",
                      "seeds_needed", "to_decide", "p_value", "p_holm", "verdict", "normalisation",
                      "log_se", "df", "p_tost", "p_tost_holm", *over_envs.RANDOM_COLUMNS]
AUDIT_COLUMNS = ["log_se", "df", "p_tost", "p_tost_holm"]
"""Behind each verdict (``effects.Comparison``), in the CSV for auditing, not in report.md."""
FAMILIES = ("primary", "secondary")
ALL_ENVS = "all"
PAPERS_ENVS = "papers' envs"
"""The scope of the fixed-effect reading on the papers' five tasks inside a larger population
(issue 27's secondary estimand): a reproduction of the papers' setting, not a claim about
tasks."""
PAPERS_TASKS = ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid")
"""The MuJoCo tasks of Andrychowicz et al. 2021 (and a superset of Engstrom et al. 2020's
Hopper, Walker2d and Humanoid), by base name: any version, with or without env arguments."""


def papers_envs(envs: Sequence[str]) -> list[str] | None:
    """The env labels of ``envs`` that are the papers' tasks (``PAPERS_TASKS``), when ``envs``
    holds each exactly once and more besides; else None (no population to read them out
    of, or an ambiguous one)."""
    found = [e for e in envs if env_family(e) in PAPERS_TASKS]
    names = sorted(map(env_family, found))
    return found if names == sorted(PAPERS_TASKS) and len(envs) > len(found) else None


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


def comparison_table(scores: dict[str, pd.DataFrame], pairs: Sequence[tuple[str, str]], *,
                     primary: Collection[tuple[str, str]], settings: AnalysisSettings,
                     n_boot: int, seed: int,
                     random_scores: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each (variant, control) pair per env and, with several envs, over all envs, for each
    metric of ``scores`` (``final``/``auc`` -> frame with ``env_id``, ``variant``, ``score``).

    Family ``primary``: the ``primary`` pairs (those the claims are judged on) on the primary
    metric, over all envs when there are several, else on the one env; ``secondary``:
    everything else. Holm's correction runs within each family (a confirmatory test does not
    pay for exploratory rows), on the difference tests and on the equivalence tests alike.

    Over several envs each pair has two rows: estimand ``fixed`` (the equal-weight average
    "on these envs") and, given the envs' ``random_scores``, estimand ``random`` (the
    random-effects mean on the gain-over-random scale, ``over_envs.random_row``: a claim about
    tasks). The two estimates of one pair answer different questions and are corrected apart:
    Holm runs within each family and estimand. Where the envs hold the papers' five tasks and
    more (``papers_envs``), each pair also has a secondary fixed row over those five (scope
    ``PAPERS_ENVS``), the papers' setting reproduced inside the population.
    """
    rows = []
    for metric, frame in scores.items():
        by_cell = {key: g["score"].to_numpy(float)
                   for key, g in frame.groupby(["env_id", "variant"], sort=False)}
        envs = list(dict.fromkeys(frame["env_id"]))
        by_env = frame.groupby("env_id")["score"]
        ranges = (by_env.max() - by_env.min()).to_dict()  # the fallback normaliser
        for variant, control in pairs:
            cells = [(env, by_cell[env, variant], by_cell[env, control]) for env in envs
                     if (env, variant) in by_cell and (env, control) in by_cell]
            scopes = [(env, [env], [x], [y]) for env, x, y in cells]
            papers = papers_envs([e for e, _, _ in cells])
            if papers:
                scopes.append((PAPERS_ENVS, papers, *zip(*[(x, y) for e, x, y in cells
                                                           if e in papers], strict=True)))
            if len(cells) > 1:
                scopes.append((ALL_ENVS, [e for e, _, _ in cells], [x for _, x, _ in cells],
                               [y for _, _, y in cells]))
            for i, (scope, scope_envs, xs, ys) in enumerate(scopes):
                is_primary = (metric == settings.metric and i == len(scopes) - 1
                              and (variant, control) in primary)
                rows.append({"scope": scope,
                             "variant": variant, "control": control, "metric": metric,
                             "family": FAMILIES[0 if is_primary else 1], "estimand": "fixed",
                             "k_envs": len(scope_envs)}
                            | _compare(xs, ys, [ranges[e] for e in scope_envs], settings,
                                       n_boot, seed))
                if scope == ALL_ENVS and random_scores is not None:
                    rows.append(rows[-1] | over_envs.random_row(
                        scope_envs, xs, ys, random_scores, alpha=settings.alpha,
                        power=settings.power, margin=settings.margin))
    frame = pd.DataFrame(rows, columns=[c for c in COMPARISON_COLUMNS
                                        if c not in ("p_holm", "p_tost_holm", "verdict")])
    for family, estimand in itertools.product(FAMILIES, ("fixed", "random")):
        rows_of = (frame["family"] == family) & (frame["estimand"] == estimand)
        for p, adjusted in (("p_value", "p_holm"), ("p_tost", "p_tost_holm")):
            frame.loc[rows_of, adjusted] = stats.holm(frame.loc[rows_of, p].to_numpy(float))
    frame["verdict"] = [effects.verdict(r.p_holm, r.p_tost_holm, r.rel_diff,
                                        alpha=settings.alpha) for r in frame.itertuples()]
    return frame[COMPARISON_COLUMNS]


def _compare(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], ranges: Sequence[float],
             settings: AnalysisSettings, n_boot: int, seed: int) -> dict:
    result = effects.compare(xs, ys, alpha=settings.alpha, power=settings.power,
                             margin=settings.margin, n_boot=n_boot, seed=seed, ranges=ranges)
    return dataclasses.asdict(result)


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
    configs = exp.configs
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
