"""Export run files to TensorBoard: one TensorBoard run per harness run.

CleanRL, SB3 and rl-zoo3 users read their runs in TensorBoard (or W&B's TensorBoard sync), so
the tags follow CleanRL's ``ppo_continuous_action``: ``losses/*`` and ``charts/*`` against
``global_step``. Each update logs one point per scalar; each finished episode logs its raw
return and length (``charts/episodic_return``, ``charts/episodic_length``), as CleanRL does;
each evaluation of the deterministic policy its mean return and length (``eval/mean_reward``,
``eval/mean_ep_length``, as SB3's ``EvalCallback``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.analysis.load import Results
from harness.runs.schema import UPDATE_COLUMNS

UPDATE_TAGS = {  # updates column -> tag (CleanRL's names where it has one)
    "value_loss": "losses/value_loss",
    "value_loss_unclipped": "losses/value_loss_unclipped",
    "value_clip_fraction": "losses/value_clip_fraction",
    "policy_loss": "losses/policy_loss",
    "entropy": "losses/entropy",
    "approx_kl": "losses/approx_kl",
    "clip_fraction": "losses/clipfrac",
    "explained_variance": "losses/explained_variance",
    "learning_rate": "charts/learning_rate",
    "sps": "charts/SPS",
    "episodic_return": "charts/mean_episodic_return",
}
HPARAM_COLUMNS = ("experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps")
"""Run columns shown as hyper-parameters, beside the matrix axes (the updates' other
columns)."""
EPISODE_TAGS = {"episode_return": "charts/episodic_return",
                "episode_length": "charts/episodic_length"}
EVAL_TAGS = {"episode_return": "eval/mean_reward",  # SB3/rl-zoo3 EvalCallback's names
             "episode_length": "eval/mean_ep_length"}


def export_tensorboard(results: Results, out_dir: Path) -> list[Path]:
    """Write ``out_dir/<run_id>/`` event files for every finished run; returns those dirs.

    NaN values (updates in which no episode ended) are skipped, as TensorBoard would draw
    them as gaps anyway.
    """
    try:
        from tensorboardX import SummaryWriter
        from tensorboardX.summary import hparams
    except ImportError:
        raise ImportError("harness export --tensorboard needs the export extra: "
                          "pip install -e '.[export]'") from None
    written = []
    episodes = dict(tuple(results.episodes.groupby("run_id", sort=True)))
    # one point per evaluation: the mean over its episodes, at the steps trained before it
    evals = dict(tuple(results.evals.groupby(["run_id", "global_step"], as_index=False)
                       [list(EVAL_TAGS)].mean().groupby("run_id", sort=True)))
    for run_id, updates in results.updates.groupby("run_id", sort=True):
        run_dir = Path(out_dir) / str(run_id)
        with SummaryWriter(str(run_dir)) as writer:
            writer.add_text("run", _description(updates.iloc[0]), 0)
            # in the run's own event file (not tensorboardX's add_hparams, which makes a
            # sub-run), so the HParams tab filters these very runs by their settings
            for summary in hparams(run_hparams(updates.iloc[0]), dict.fromkeys(
                    [UPDATE_TAGS["episodic_return"],
                     *([EVAL_TAGS["episode_return"]] if run_id in evals else [])], 0.0)):
                writer.file_writer.add_summary(summary)
            _scalars(writer, updates, UPDATE_TAGS)
            _scalars(writer, episodes.get(run_id, pd.DataFrame()), EPISODE_TAGS)
            _scalars(writer, evals.get(run_id, pd.DataFrame()), EVAL_TAGS)
        written.append(run_dir)
    return written


def _scalars(writer, frame: pd.DataFrame, tags: dict[str, str]) -> None:
    for column, tag in tags.items():
        if column not in frame:
            continue
        for step, value in zip(frame["global_step"], frame[column], strict=True):
            if pd.notna(value):
                writer.add_scalar(tag, float(value), int(step))


def run_hparams(row: pd.Series) -> dict[str, str | int | float | bool]:
    """A run's settings for TensorBoard's HParams tab: its experiment, env, seed, variant
    and every matrix axis (``value_clip``, ``vf_clip_eps``, ...; ``vf_clip_eps`` left out
    where the run does not clip, as it is NaN). ``row``: any ``updates`` row of the run."""
    keys = [k for k in row.index if k in HPARAM_COLUMNS or k not in UPDATE_COLUMNS]
    values = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in keys}
    return {k: v for k, v in values.items() if not (isinstance(v, float) and math.isnan(v))}


def _description(row: pd.Series) -> str:
    """Markdown naming the run: its env, seed, variant and value-clip setting."""
    keys = ["experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps"]
    return "\n".join(f"- **{k}**: {row[k]}" for k in keys if k in row)
