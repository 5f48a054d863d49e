"""Per-run numbers: final, area-under-curve and evaluation scores, and learning curves on a
common grid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

RUN_KEYS = ["run_id", "env_id", "variant", "seed"]
SCORE_NAMES = {"final": "final score", "auc": "area under the curve", "eval": "eval score"}
"""What each metric's score is called on plot axes."""
LAST_EPISODES = 100
"""Final score window: openrlbenchmark/CleanRL tables report the mean of the last 100 episodes."""
FALLBACK_SHARE = 0.1
"""Runs with fewer episodes than the window are scored on their last 10% of env steps."""


def final_scores(episodes: pd.DataFrame, last_n: int = LAST_EPISODES,
                 total_steps: Callable[[str], int] | None = None) -> pd.DataFrame:
    """Mean raw ``episode_return`` of each run's last ``last_n`` training episodes.

    With ``total_steps`` (env id -> env steps per run, e.g. ``Experiment.steps``), a run that
    finished fewer than ``last_n``
    episodes is scored on the episodes that ended in its last ``FALLBACK_SHARE`` of training
    instead (its last episode if none did), so a few long episodes do not turn the final
    score into the whole-training average; ``window`` is then the share of training the
    scored episodes span (from the earliest one's end to the end of training), else NaN.

    ``episodes``: the episodes table. Returns one row per run: ``RUN_KEYS`` + ``score`` +
    ``window``; runs with no finished episode are absent.
    """
    ordered = episodes.sort_values(["run_id", "global_step"], kind="stable")
    last = ordered.groupby("run_id", sort=False).tail(last_n)
    budget = (ordered["env_id"].map(total_steps) if total_steps is not None
              else pd.Series(np.nan, index=ordered.index))
    if total_steps is not None:
        counts = ordered.groupby("run_id", sort=False)["global_step"].transform("size")
        late = ordered[(counts < last_n)
                       & (ordered["global_step"] > (1 - FALLBACK_SHARE) * budget)]
        few = set(ordered.loc[counts < last_n, "run_id"])
        lone = ordered[ordered["run_id"].isin(few - set(late["run_id"]))]
        last = pd.concat([last[~last["run_id"].isin(few)], late,
                          lone.groupby("run_id", sort=False).tail(1)])
    scores = _per_run_mean(last, "episode_return")
    start = last.groupby("run_id")["global_step"].min()
    steps = budget.groupby(ordered["run_id"]).first()
    scores["window"] = 1 - scores["run_id"].map(start) / scores["run_id"].map(steps)
    return scores


def auc_scores(updates: pd.DataFrame) -> pd.DataFrame:
    """Mean of ``episodic_return`` over a run's updates: the normalised area under its curve.

    Every update covers the same number of env steps, so the mean over updates is the area
    under the return-vs-steps curve divided by the steps (a sample-efficiency score). Updates
    in which no episode ended (NaN) are skipped. Returns ``RUN_KEYS`` + ``score``.
    """
    return _per_run_mean(updates.dropna(subset=["episodic_return"]), "episodic_return")


def eval_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """Mean ``episode_return`` of each run's last evaluation (the one after its last update).

    The final score of Andrychowicz et al. 2021 and rl-zoo3: the policy the run ends with,
    acting on its mean action on episodes apart from training, rather than the noisy policies
    of its last training episodes. ``evals``: the evals table. Returns ``RUN_KEYS`` +
    ``score``; runs without evaluations are absent.
    """
    last = evals["evaluation"] == evals.groupby("run_id")["evaluation"].transform("max")
    return _per_run_mean(evals[last], "episode_return")


def eval_returns(evals: pd.DataFrame) -> pd.DataFrame:
    """Each run's mean ``episode_return`` per evaluation: ``RUN_KEYS`` + ``global_step``,
    ``episode_return`` (one row per evaluation; ``run_curves`` draws it as a curve)."""
    means = evals.groupby([*RUN_KEYS, "global_step"], sort=True)["episode_return"].mean()
    return means.reset_index().astype({"episode_return": float})


def _per_run_mean(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    scores = frame.groupby(RUN_KEYS, sort=True)[column].mean().rename("score")
    return scores.reset_index().astype({"score": float})


def run_curves(updates: pd.DataFrame, metric: str, n_points: int = 100) -> pd.DataFrame:
    """Each run's ``metric`` linearly interpolated onto a per-env grid of ``n_points`` steps
    (one, when the env's runs logged a single step).

    Runs of one env can log at different steps (different ``num_steps``), so curves are put on
    a shared grid before they are averaged. NaN values (no episode ended) are skipped; beyond a
    run's first/last value the curve is held flat. Returns ``RUN_KEYS`` + ``global_step``,
    ``value``; runs with no finite value are absent.
    """
    columns: dict[str, list] = {k: [] for k in [*RUN_KEYS, "global_step", "value"]}
    for _, env_updates in updates.groupby("env_id", sort=True):
        # unique: runs that logged one step only (two updates, the first dropped) get one point
        grid = np.unique(np.linspace(env_updates["global_step"].min(),
                                     env_updates["global_step"].max(), n_points))
        finite = env_updates.dropna(subset=[metric]).sort_values("global_step", kind="stable")
        steps, values = finite["global_step"].to_numpy(float), finite[metric].to_numpy(float)
        for keys, rows in finite.groupby(RUN_KEYS, sort=True).indices.items():
            for key, value in zip(RUN_KEYS, keys, strict=True):
                columns[key].append(np.repeat(value, len(grid)))
            columns["global_step"].append(grid)
            columns["value"].append(np.interp(grid, steps[rows], values[rows]))
    if not columns["value"]:
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})
