"""Envs whose scores cannot tell the variants apart, found before any comparison.

When every run of an env sits at the same score (CartPole's 500, InvertedPendulum's 1000) or
each variant's runs score alike, no variance is left to test: Welch's t divides by zero, the
interval collapses to a point and the runs needed to resolve the margin come out as 2 or even
-1. Such an env is flagged and left out of the comparisons and claims on that score, with a
note, rather than reported with confident nonsense.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def saturated_envs(scores: pd.DataFrame) -> dict[str, str]:
    """Env id -> why it cannot discriminate, for each env whose every variant has 2 runs or
    more, all scoring alike (a single run has no spread to judge by). ``scores``: ``env_id``,
    ``variant``, ``score``, one row per run."""
    found = {}
    for env_id, rows in scores.groupby("env_id", sort=False):
        arms = [s.to_numpy(float) for _, s in rows.groupby("variant", sort=False)["score"]]
        if all(len(x) >= 2 and np.ptp(x) == 0 for x in arms):
            values = rows["score"].unique()
            found[env_id] = (f"every run scores {values[0]:g}" if len(values) == 1 else
                             "each variant's runs score alike (zero spread in every arm)")
    return found


def without(scores: pd.DataFrame, envs: dict[str, str]) -> pd.DataFrame:
    """``scores`` less the rows of ``envs``."""
    return scores[~scores["env_id"].isin(list(envs))].reset_index(drop=True)
