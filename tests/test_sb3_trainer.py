"""``trainer: sb3``: SB3's PPO with ppo2's settings trains a tiny run into schema-complete
tables, with SB3's own diagnostics."""

import math

import pandas as pd
import pytest

from harness.runs.expand import expand, pack_key
from harness.runs.experiment import parse_experiment
from harness.runs.results import ResultsDir
from harness.runs.schema import EPISODE_COLUMNS, UPDATE_COLUMNS
from harness.runs.train import train_runs
from harness.runs.trainers.sb3 import ppo_kwargs

TINY = {"num_steps": 64, "num_minibatches": 2, "update_epochs": 2}


def spec(value_clip: str, **ppo):
    exp = parse_experiment({"name": "sb3", "envs": ["InvertedPendulum-v5"], "seeds": 1,
                            "total_steps": 192, "trainer": "sb3",
                            "ppo": {**TINY, **ppo, "value_clip": value_clip}}, "x.yaml")
    return expand(exp)[0]


def test_a_tiny_run_writes_schema_complete_tables(tmp_path):
    run = spec("clipped")
    assert pack_key(run) == ("trainer", run.run_id)  # trains alone, not in a harness pack
    [result] = train_runs([run])
    assert result.failure is None
    rdir = ResultsDir(tmp_path)
    rdir.write_run(result)
    assert rdir.state(run.run_id) == "done"
    updates = pd.read_parquet(rdir.updates_path(run.run_id))
    episodes = pd.read_parquet(rdir.episodes_path(run.run_id))
    assert list(updates.columns) == list(UPDATE_COLUMNS)
    assert list(episodes.columns) == list(EPISODE_COLUMNS)
    assert updates["global_step"].tolist() == [64, 128, 192]
    for column in ("value_loss", "policy_loss", "clip_fraction", "approx_kl", "entropy",
                   "explained_variance", "learning_rate", "episodic_return"):
        assert updates[column].notna().all(), column
    # SB3 computes no unclipped loss or value clip fraction
    assert updates[["value_loss_unclipped", "value_clip_fraction"]].isna().all().all()
    assert len(episodes) > 0 and (episodes["episode_length"] > 0).all()
    # InvertedPendulum-v5 pays 1 per step but the last: the raw return, not a normalised one
    assert (episodes["episode_length"] - episodes["episode_return"]).isin([0, 1]).all()


@pytest.mark.parametrize(("value_clip", "clip_range_vf"), [("clipped", 0.5), ("none", None)])
def test_ppo2_settings_map_onto_sb3_arguments(value_clip, clip_range_vf):
    kwargs = ppo_kwargs(spec(value_clip, vf_clip_eps=0.5).ppo.to_dict())
    assert kwargs["clip_range_vf"] == clip_range_vf
    assert (kwargs["n_steps"], kwargs["batch_size"], kwargs["n_epochs"]) == (64, 32, 2)
    assert kwargs["vf_coef"] == 0.25  # ppo2's 0.5 * vf_coef on the squared error
    assert math.isclose(kwargs["learning_rate"](0.5), 1.5e-4)  # annealed linearly
    assert kwargs["policy_kwargs"]["net_arch"] == {"pi": [64, 64], "vf": [64, 64]}


def test_dict_observations_are_flattened_as_the_harness_trainer_flattens_them(tmp_path):
    """A Dict observation reaches SB3's MlpPolicy as FlattenObservation's vector."""
    exp = parse_experiment({"name": "sb3", "envs": ["dict_obs_env:DictGoal-v0"], "seeds": 1,
                            "total_steps": 128, "trainer": "sb3",
                            "ppo": {**TINY, "value_clip": "none"}}, "x.yaml")
    [result] = train_runs(expand(exp))
    assert result.failure is None and len(result.updates) == 2
    assert (pd.DataFrame(result.episodes)["episode_length"] == 20).all()
