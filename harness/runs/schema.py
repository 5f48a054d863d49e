"""Column names of the per-run results tables (docs/design.md §4): the trainer's logged fields
(``harness.ppo.agent``) after the run's identity columns. Every matrix axis also gets a column
of its own after these."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from harness.ppo.agent import EPISODE_FIELDS, EVAL_FIELDS, UPDATE_FIELDS

if TYPE_CHECKING:
    from harness.runs.spec import RunSpec

RUN_COLUMNS = ("run_id", "experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps")
"""Identify the run; the same value on every row of its tables."""
UPDATE_COLUMNS = RUN_COLUMNS + UPDATE_FIELDS
EPISODE_COLUMNS = RUN_COLUMNS + EPISODE_FIELDS
EVAL_COLUMNS = RUN_COLUMNS + EVAL_FIELDS


def with_run_columns(frame: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """``frame`` (logged fields) after ``spec``'s ``RUN_COLUMNS`` and one column per axis."""
    values = (spec.run_id, spec.experiment, spec.env_id, spec.seed, spec.variant,
              spec.ppo.value_clip, spec.ppo.applied_vf_clip_eps)
    meta = {**dict(zip(RUN_COLUMNS, values, strict=True)), **dict(spec.columns)}
    head = pd.DataFrame({k: [v] * len(frame) for k, v in meta.items()}, index=frame.index)
    return pd.concat([head, frame], axis=1)
