"""Column names of the per-run results tables (DESIGN.md §4): written by the trainer, read by
the report. Every matrix axis also gets a column of its own after these."""

RUN_COLUMNS = ("run_id", "experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps")
"""Identify the run; the same value on every row of its tables."""
UPDATE_FIELDS = ("update", "global_step", "episodic_return", "value_loss", "value_loss_unclipped",
                 "value_clip_fraction", "policy_loss", "clip_fraction", "approx_kl", "entropy",
                 "explained_variance", "learning_rate", "sps")
"""One row per PPO update."""
EPISODE_FIELDS = ("global_step", "episode_return", "episode_length")
"""One row per finished training episode (raw return)."""
UPDATE_COLUMNS = RUN_COLUMNS + UPDATE_FIELDS
EPISODE_COLUMNS = RUN_COLUMNS + EPISODE_FIELDS
