"""``trainer: torchrl``: TorchRL's ClipPPOLoss with ppo2's settings trains a tiny run into
schema-complete tables, with the loss's own diagnostics."""

import pandas as pd

from harness.runs.expand import expand
from harness.runs.experiment import parse_experiment
from harness.runs.results import ResultsDir
from harness.runs.schema import EPISODE_COLUMNS, UPDATE_COLUMNS
from harness.runs.train import train_runs


def test_a_tiny_run_with_clip_value_writes_schema_complete_tables(tmp_path):
    exp = parse_experiment({"name": "trl", "envs": ["InvertedPendulum-v5"], "seeds": 1,
                            "total_steps": 128, "trainer": "torchrl",
                            "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 2,
                                    "value_clip": "max", "vf_clip_eps": 0.001}}, "x.yaml")
    [run] = expand(exp)
    [result] = train_runs([run])
    assert result.failure is None
    rdir = ResultsDir(tmp_path)
    rdir.write_run(result)
    updates = pd.read_parquet(rdir.updates_path(run.run_id))
    episodes = pd.read_parquet(rdir.episodes_path(run.run_id))
    assert list(updates.columns) == list(UPDATE_COLUMNS)
    assert list(episodes.columns) == list(EPISODE_COLUMNS)
    assert updates["global_step"].tolist() == [64, 128]
    # ClipPPOLoss's value_clip_fraction: at eps 0.001 nearly every prediction moves further
    assert (updates["value_clip_fraction"] > 0.1).all()
    for column in ("value_loss", "policy_loss", "clip_fraction", "approx_kl", "entropy",
                   "explained_variance", "episodic_return"):
        assert updates[column].notna().all(), column
    assert updates["learning_rate"].tolist() == [3e-4, 1.5e-4]  # ppo2's annealing
    assert updates["value_loss_unclipped"].isna().all()  # the loss does not report it
    # InvertedPendulum-v5 pays 1 per step but the last: the raw return, not a scaled one
    assert len(episodes) > 0
    assert (episodes["episode_length"] - episodes["episode_return"]).isin([0, 1]).all()


def test_actions_are_clipped_per_dimension_on_multi_dimensional_action_spaces():
    import torch

    from harness.runs.trainers.torchrl import ActionClip

    clip = ActionClip(torch.tensor([-1.0, -0.4]), torch.tensor([1.0, 0.4]))
    out = clip._inv_apply_transform(torch.tensor([[2.0, -2.0], [0.5, 0.1]]))
    torch.testing.assert_close(out, torch.tensor([[1.0, -0.4], [0.5, 0.1]]))
    # Hopper's three actions: ClipTransform refused vector bounds, so every run failed
    one_update("Hopper-v5", "none")


def test_dict_observations_are_flattened_as_the_harness_trainer_flattens_them():
    one_update("dict_obs_env:DictGoal-v0", "max")


def one_update(env: str, value_clip: str) -> None:
    """A run of one update of 64 steps on ``env`` trains without failing."""
    exp = parse_experiment({"name": "trl", "envs": [env], "seeds": 1,
                            "total_steps": 64, "trainer": "torchrl",
                            "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1,
                                    "value_clip": value_clip}}, "x.yaml")
    [result] = train_runs(expand(exp))
    assert result.failure is None and len(result.updates) == 1
