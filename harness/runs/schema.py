"""Column names of the per-run results tables (docs/design.md §4): the trainer's logged fields
(``harness.ppo.agent``) after the run's identity columns. Every matrix axis also gets a column
of its own after these."""

from harness.ppo.agent import EPISODE_FIELDS, EVAL_FIELDS, UPDATE_FIELDS

RUN_COLUMNS = ("run_id", "experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps")
"""Identify the run; the same value on every row of its tables."""
UPDATE_COLUMNS = RUN_COLUMNS + UPDATE_FIELDS
EPISODE_COLUMNS = RUN_COLUMNS + EPISODE_FIELDS
EVAL_COLUMNS = RUN_COLUMNS + EVAL_FIELDS
