"""Train one run with its plug-in trainer (``harness.runs.trainers``) into the results
schema's tables: the runner's side of the ``function(run, log)`` contract."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd

from harness.ppo.agent import EPISODE_FIELDS, UPDATE_FIELDS
from harness.runs.schema import with_run_columns
from harness.runs.spec import RunSpec
from harness.runs.trainers import resolve
from harness.runs.trainers.contract import Log, Run

INTEGER_FIELDS = ("update", "global_step", "episode_length")
"""Logged fields stored as int64 (as the harness trainer writes them); the rest are float64."""

Tables = tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None]
"""A run's ``updates`` and ``episodes`` tables, and its failure record (None if it finished)."""


def train_with(spec: RunSpec, progress: Callable[[int], None] | None = None) -> Tables:
    """Train ``spec`` with its plug-in trainer; an exception becomes a failed run, with the
    step of the last update logged before it."""
    log = Log(progress)
    try:
        resolve(spec.ppo.trainer)(Run.of(spec), log)
    except Exception as e:  # whatever the user's code raises: the other runs go on
        failure = {"reason": f"{type(e).__name__}: {e}", "update": len(log.updates) or None,
                   "global_step": log.last_step, "traceback": traceback.format_exc()}
        return pd.DataFrame(), pd.DataFrame(), failure
    if not log.updates:
        failure = {"reason": "the trainer returned without logging an update (log.update)",
                   "update": None, "global_step": None}
        return pd.DataFrame(), pd.DataFrame(), failure
    return (with_run_columns(_table(log.updates, UPDATE_FIELDS), spec),
            with_run_columns(_table(log.episodes, EPISODE_FIELDS), spec), None)


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """``rows`` with every column of ``columns`` in order (NaN where a row has none)."""
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({c: "int64" if c in INTEGER_FIELDS else "float64" for c in columns})
