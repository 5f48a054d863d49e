"""A user's trainer (``trainer: module:function``) through the CLI and loky: schema-complete
tables, resume without retraining, and a trainer that raises (exit 1, the others go on)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from harness.runs.schema import EPISODE_COLUMNS, UPDATE_COLUMNS

TRAINER = '''
from pathlib import Path

CALLS = Path(__file__).with_name("calls")


def train(run, log):
    """Logs like a trainer would, without training: one update per rollout."""
    with CALLS.open("a") as f:
        f.write(run.run_id + "\\n")
    assert run.env_kwargs == {} and run.config["value_clip"] in ("none", "max")
    steps = run.config["num_steps"]
    for k in range(1, run.total_steps // steps + 1):
        log.episode(global_step=k * steps - 1, episode_return=run.seed + k, episode_length=9)
        log.update(global_step=k * steps, value_loss=0.5, learning_rate=3e-4)


def crash(run, log):
    log.update(global_step=run.config["num_steps"])
    raise RuntimeError("the user's bug")
'''


def harness(*args, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m harness`` in ``cwd``, where the user's module lies."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def experiment(tmp_path: Path, **fields) -> Path:
    (tmp_path / "user_ppo.py").write_text(TRAINER)
    exp = {"name": "mine", "envs": ["InvertedPendulum-v5"], "seeds": 2, "total_steps": 256,
           "ppo": {"num_steps": 64, "num_minibatches": 2}, **fields}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def test_a_two_by_two_matrix_trains_through_loky_and_resumes(tmp_path):
    path = experiment(tmp_path, trainer="user_ppo:train",
                      matrix={"value_clip": ["none", "max"]})
    first = harness("run", path, "--jobs", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    runs = tmp_path / "results" / "mine"
    updates = pd.concat(pd.read_parquet(p) for p in sorted(runs.glob("updates/*.parquet")))
    episodes = pd.concat(pd.read_parquet(p) for p in sorted(runs.glob("episodes/*.parquet")))
    assert list(updates.columns) == list(UPDATE_COLUMNS)  # value_clip is an axis and a column
    assert list(episodes.columns) == list(EPISODE_COLUMNS)
    assert len(updates) == 4 * 4 and updates["run_id"].nunique() == 4
    assert updates["value_clip_fraction"].isna().all() and (updates["value_loss"] == 0.5).all()
    # episodic_return: the mean of the episodes logged since the previous update
    assert (updates["episodic_return"] == updates["seed"] + updates["update"]).all()
    assert not list(runs.glob("policies/*"))
    assert len((tmp_path / "calls").read_text().split()) == 4

    # finished runs are skipped; a run cut short (no checkpoints: its files were never
    # written) trains from the start
    next(runs.glob("updates/*.parquet")).unlink()
    again = harness("run", path, "--jobs", "2", cwd=tmp_path)
    assert again.returncode == 0 and "3 already done; training 1" in again.stdout
    assert len((tmp_path / "calls").read_text().split()) == 5


def test_a_trainer_that_raises_is_a_failed_run_and_exit_1(tmp_path):
    path = experiment(tmp_path, seeds=1, matrix={"trainer": ["user_ppo:train", "user_ppo:crash"]})
    out = harness("run", path, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    runs = tmp_path / "results" / "mine"
    [failure] = runs.glob("failures/*.json")
    record = json.loads(failure.read_text())
    assert record["variant"] == "trainer=user_ppo:crash"
    assert (record["reason"], record["update"], record["global_step"]) == (
        "RuntimeError: the user's bug", 1, 64)
    [done] = runs.glob("updates/*.parquet")
    assert set(pd.read_parquet(done)["trainer"]) == {"user_ppo:train"}


def test_a_bad_module_path_is_one_line_and_exit_2(tmp_path):
    path = experiment(tmp_path, trainer="user_ppo:trian")
    out = harness("run", path, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: {path}: trainer: 'user_ppo:trian': module 'user_ppo' has no attribute 'trian'"]
    assert not (tmp_path / "results").exists()
