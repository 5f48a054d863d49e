"""A command-template trainer: the command runs per run with its placeholders filled, and a
CleanRL-style TensorBoard log is read back into the run's tables."""

import sys
from pathlib import Path

import pytest

from harness.runs.expand import expand
from harness.runs.experiment import ExperimentError, parse_experiment
from harness.runs.schema import EPISODE_COLUMNS, UPDATE_COLUMNS
from harness.runs.train import train_runs

SCRIPT = Path(__file__).with_name("cleanrl_like.py")
COMMAND = (f"{sys.executable} {SCRIPT} --env-id {{env_id}} --seed {{seed}} "
           "--total-timesteps {total_steps} --num-steps {num_steps} --clip-vloss "
           "{norm_adv} --tensorboard-dir {tensorboard_dir}")


def specs(command: str, **template):
    exp = parse_experiment({"name": "cmd", "envs": ["InvertedPendulum-v5"], "seeds": [3],
                            "total_steps": 128, "ppo": {"num_steps": 64, "num_minibatches": 2},
                            "trainer": {"command": command, "tensorboard": True, **template}},
                           "x.yaml")
    return expand(exp)


def test_a_cleanrl_style_log_is_read_back():
    [result] = train_runs(specs(COMMAND, name="cleanrl"))
    assert result.failure is None, result.failure
    updates, episodes = result.updates, result.episodes
    assert list(updates.columns) == list(UPDATE_COLUMNS)
    assert list(episodes.columns) == list(EPISODE_COLUMNS)
    assert updates["global_step"].tolist() == [64, 128]
    assert updates["value_loss"].tolist() == [0.5, 0.5]  # twice CleanRL's 0.5 * mean
    assert updates["clip_fraction"].tolist() == pytest.approx([0.1, 0.1])
    assert updates["learning_rate"].tolist() == pytest.approx([3e-4, 1.5e-4])
    assert updates["sps"].tolist() == [1000, 1000]
    assert updates["value_clip_fraction"].isna().all()
    assert episodes[["global_step", "episode_return", "episode_length"]].values.tolist() == [
        [59, 13.0, 20], [123, 23.0, 20]]
    assert updates["episodic_return"].tolist() == [13.0, 23.0]


def test_a_command_that_fails_is_a_failed_run():
    [result] = train_runs(specs(f"{sys.executable} -c 'import sys; sys.exit(\"no gpu\")'"))
    assert result.failure["reason"] == "RuntimeError: the command exited with 1: no gpu"


@pytest.mark.parametrize(("template", "message"), [
    ({"command": "run {sed}", "tensorboard": True}, "unknown placeholder {sed}"),
    ({"command": "run {seed}"}, "needs tensorboard: true"),
    ({"command": "run", "tensorboard": True, "colour": 1}, "unknown key 'colour'"),
])
def test_a_bad_template_is_one_line(template, message):
    with pytest.raises(ExperimentError, match=message) as error:
        parse_experiment({"name": "cmd", "envs": ["InvertedPendulum-v5"], "seeds": 1,
                          "total_steps": 128, "ppo": {"num_steps": 64, "num_minibatches": 2},
                          "trainer": template}, "x.yaml")
    assert str(error.value).startswith("x.yaml: trainer: ")
