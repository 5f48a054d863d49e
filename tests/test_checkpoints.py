"""A run resumed from a checkpoint is the same run: its tables (evaluations included) and its
final policy equal the uninterrupted run's bit for bit, also when the resume packs it with
other runs (trainer level; the runner's files and a killed `harness run` are tested in
test_runner.py)."""

import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from gymnasium.utils import EzPickle

from harness.ppo.agent import AgentSpec, EvalSchedule
from harness.ppo.config import PPOConfig
from harness.ppo.envs import make_env
from harness.ppo.numerics import NUMERICS
from harness.ppo.observations import flat_obs
from harness.ppo.snapshot import SnapshotUnsupported, env_state, load_env_state
from harness.ppo.trainer import train_pack
from harness.runs.checkpoints import (
    CheckpointWriter,
    DamagedCheckpoint,
    checkpoint_path,
    read_checkpoint,
)

N_UPDATES, CUT = 6, 3
CASES = {
    "Hopper-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2),  # thin stepping
    # through gymnasium's own step; its time limit (50) falls inside rollouts
    "Reacher-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2,
                            truncation="bootstrap"),
    # Ant reads body positions computed in the previous step: they must be restored too
    "Ant-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2),
    # a categorical policy; the env's state is its attributes (pickled), not MjData
    "CartPole-v1": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2),
    # Dict observations; the goal is an attribute, the physics a held MuJoCo env
    "gymnasium_robotics:PointMaze_UMazeDense-v3": PPOConfig(num_steps=64, num_minibatches=2,
                                                            update_epochs=2),
}


EVALUATION = EvalSchedule(every=2 * 64, episodes=2)  # after updates 2 (before the cut), 4, 6
EVALUATED = ("Hopper-v5", "Reacher-v5")
"""Untrained Ant episodes last their 1000 steps: evaluating them would make the test 15x
slower and check nothing the others do not."""


def spec(env_id: str, seed: int, **overrides) -> AgentSpec:
    cfg = CASES[env_id].replace(**overrides)
    return AgentSpec(env_id, seed, N_UPDATES * cfg.num_steps, cfg,
                     EVALUATION if env_id in EVALUATED else None)


def checkpointed(specs, at: int):
    """Train ``specs``, keeping the snapshots taken after update ``at`` (through pickle, as
    they travel to disk)."""
    kept = {}

    def checkpoint(update, capture):
        if update == at:
            kept.update(pickle.loads(pickle.dumps(capture())))

    logs = train_pack(specs, checkpoint=checkpoint)
    return logs, kept


def equal(a, b) -> None:
    pd.testing.assert_frame_equal(a.updates.drop(columns="sps"), b.updates.drop(columns="sps"))
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    pd.testing.assert_frame_equal(a.evals, b.evals, check_exact=True)
    same_policies(a.policy, b.policy)


def same_policies(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        elif key in ("policy", "value"):
            for x, y in zip(a[key], b[key], strict=True):
                assert torch.equal(x["weight"], y["weight"]) and torch.equal(x["bias"], y["bias"])
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("env_id", list(CASES))
def test_resume_equals_the_uninterrupted_run(env_id):
    target = spec(env_id, 1)
    mates = [spec(env_id, 0, value_clip="none"), spec(env_id, 2, normalize_reward=False)]
    whole, snaps = checkpointed([mates[0], target, mates[1]], at=CUT)
    assert set(snaps) == {0, 1, 2} and snaps[1].update == CUT and len(snaps[1].logs) == CUT
    if env_id in EVALUATED:
        assert len(snaps[1].evals) == EVALUATION.episodes  # the evaluation after update 2
    # resumed alone, then in another pack (another slot, other mates)
    alone = train_pack([target], resume=[snaps[1]])[0]
    other = train_pack([mates[1], target], resume=[snaps[2], snaps[1]])
    for resumed in (alone, other[1]):
        equal(resumed, whole[1])
    equal(other[0], whole[2])
    assert len(alone.updates) == N_UPDATES


def test_a_pack_resumes_from_one_update():
    _, early = checkpointed([spec("Hopper-v5", 0)], at=2)
    _, late = checkpointed([spec("Hopper-v5", 1)], at=4)
    with pytest.raises(ValueError, match="one update"):
        train_pack([spec("Hopper-v5", 0), spec("Hopper-v5", 1)], resume=[early[0], late[0]])


def test_an_env_that_does_not_pickle_cannot_be_snapshot():
    class Unpicklable:
        def __init__(self):
            self.handle = lambda: None  # lambdas do not pickle

    with pytest.raises(SnapshotUnsupported, match="Unpicklable"):
        env_state(Unpicklable())


def test_a_box2d_env_cannot_be_snapshot():
    pytest.importorskip("Box2D", reason="the box2d extra is not installed")
    env = gym.make("LunarLander-v3").unwrapped  # its b2World is a C++ object
    with pytest.raises(SnapshotUnsupported, match="LunarLander: its state cannot be saved"):
        env_state(env)


class Counter(EzPickle):
    """An ``EzPickle`` env (as gymnasium's Box2D and MuJoCo envs): pickled, it is its
    constructor arguments; its state lives in ``count``, and a helper holds the env itself."""

    def __init__(self, start: int = 0) -> None:
        EzPickle.__init__(self, start)
        self.count = start
        self.helper = types.SimpleNamespace(env=self)


def test_an_env_state_is_its_attributes_not_its_constructor_arguments():
    env = Counter(3)
    env.count = 7
    blob = env_state(env)
    env.count, env.helper = 0, None
    load_env_state(env, blob)
    assert env.count == 7 and env.helper.env is env  # the live env, not a copy


class Holder(EzPickle):
    """An env that holds another (as PointMaze holds its ``point_env``)."""

    def __init__(self) -> None:
        EzPickle.__init__(self)
        self.inner = Counter(1)


def test_a_held_env_is_saved_by_its_attributes_too():
    env = Holder()
    env.inner.count = 5
    blob = env_state(env)
    env.inner.count = 0
    load_env_state(env, blob)
    assert env.inner.count == 5  # EzPickle alone would have rebuilt Counter(1)
    assert env.inner.helper.env is env.inner


def trajectory(env: gym.Env, actions: np.ndarray) -> list[np.ndarray]:
    """Flattened observations and rewards along ``actions``, with a reset halfway."""
    out = []
    for i, action in enumerate(actions):
        if i == len(actions) // 2:
            out.append(flat_obs(env.observation_space, env.reset()[0]))
        obs, reward, *_ = env.step(action)
        out += [flat_obs(env.observation_space, obs), np.array([reward])]
    return out


@pytest.mark.parametrize("env_id", ["gymnasium_robotics:AdroitHandDoor-v1",
                                    "gymnasium_robotics:PointMaze_UMazeDense-v3"])
def test_a_mujoco_env_that_keeps_state_outside_mjdata_resumes_exactly(env_id):
    # Adroit's door moves in MjModel at reset, PointMaze's goal is an attribute: saving MjData
    # alone resumed both on another trajectory
    env = make_env(env_id).unwrapped
    env.reset(seed=3)
    actions = np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high,
                                               (40, *env.action_space.shape))
    trajectory(env, actions)
    blob = env_state(env)
    expected = trajectory(env, actions)
    fresh = make_env(env_id).unwrapped
    fresh.reset(seed=99)
    load_env_state(fresh, blob)
    got = trajectory(fresh, actions)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


def test_no_snapshot_after_the_last_update():
    seen = []
    train_pack([spec("Hopper-v5", 0)], checkpoint=lambda update, capture: seen.append(update))
    assert seen == list(range(1, N_UPDATES))
    assert np.all(np.diff(seen) == 1)


# --- the runner's checkpoint files ---------------------------------------------------------

def test_writer_saves_when_due_and_survives_a_failed_write(tmp_path, capsys):
    now = [0.0]
    writer = CheckpointWriter(tmp_path, ["a", "b"], every=10.0, clock=lambda: now[0])
    snapshots = {0: "snap-a", 1: "snap-b"}
    calls = []

    def capture():
        calls.append(now[0])
        return snapshots

    writer(1, capture)  # not due yet
    now[0] = 10.0
    writer(2, capture)
    assert calls == [10.0]
    assert pickle.loads(checkpoint_path(tmp_path, "b").read_bytes()) == "snap-b"
    blocked = CheckpointWriter(tmp_path / "file", ["a"], every=0.0)
    (tmp_path / "file").write_text("not a directory")
    blocked(1, capture)
    blocked(2, capture)
    assert capsys.readouterr().err.count("checkpoints of a and its pack are off") == 1


def test_a_damaged_checkpoint_is_detected(tmp_path):
    path = checkpoint_path(tmp_path, "run")
    assert read_checkpoint(path) is None
    path.parent.mkdir()
    _, snaps = checkpointed([spec("Hopper-v5", 0)], at=2)
    blob = pickle.dumps(snaps[0])
    path.write_bytes(blob[: len(blob) // 2])  # a copy cut short
    with pytest.raises(DamagedCheckpoint, match="unreadable checkpoint"):
        read_checkpoint(path)
    path.write_bytes(pickle.dumps({"not": "a snapshot"}))
    with pytest.raises(DamagedCheckpoint, match="not a checkpoint"):
        read_checkpoint(path)
    path.write_bytes(blob)
    assert read_checkpoint(path).update == 2


def test_a_checkpoint_of_other_trainer_numerics_is_not_resumed(tmp_path, capsys):
    """A run resumed across trainer versions would be neither version's run."""
    from harness.runs.expand import expand
    from harness.runs.experiment import load_experiment
    from harness.runs.results import ResultsDir
    from harness.runs.runner import _checkpoints

    run = expand(load_experiment(experiment(tmp_path)))[0]
    path = checkpoint_path(tmp_path, run.run_id)
    path.parent.mkdir()
    _, snaps = checkpointed([spec("Hopper-v5", 0)], at=2)
    assert snaps[0].numerics == NUMERICS
    path.write_bytes(pickle.dumps(snaps[0]))
    assert _checkpoints(ResultsDir(tmp_path), [run]) == {run.run_id: 2}
    old = pickle.loads(pickle.dumps(snaps[0]))
    del old.numerics  # as pickled before the field existed: the class default, version 1
    path.write_bytes(pickle.dumps(old))
    assert _checkpoints(ResultsDir(tmp_path), [run]) == {}
    assert not path.exists()
    assert f"written by trainer numerics 1, this is {NUMERICS}" in capsys.readouterr().err


TESTS = Path(__file__).parent


def experiment(tmp_path: Path) -> Path:
    """8 Hopper runs of 40 short updates: a pack lasts a few seconds."""
    path = tmp_path / "ck.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ck", "envs": ["Hopper-v5"], "seeds": 4, "total_steps": 40 * 64,
        "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1},
        "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2]},
        "control": {"value_clip": "none"},
        "analysis": {"eval_every": 10 * 64, "eval_episodes": 2}}))
    return path


def harness(*args) -> list[str]:
    return [sys.executable, "-m", "harness", *map(str, args)]


def tables(exp_dir: Path) -> dict[str, pd.DataFrame]:
    return {f"{kind}/{p.stem}": pd.read_parquet(p).drop(columns=["sps"], errors="ignore")
            for kind in ("updates", "episodes", "evals")
            for p in sorted((exp_dir / kind).glob("*"))}


@pytest.mark.slow
def test_sigkill_then_resume_with_other_jobs_gives_the_uninterrupted_tables(tmp_path):
    path = experiment(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"}
    whole = subprocess.run(harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "a",
                                   "--checkpoint-every", 0), env=env, capture_output=True,
                           text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr
    cut = tmp_path / "b" / "ck"
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen(harness("run", path, "--jobs", 2, "--results-dir",
                                        tmp_path / "b", "--checkpoint-every", 0.2),
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((cut / "checkpoints").glob("*.ckpt")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)  # mid-pack, after a checkpoint or two
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not list((cut / "updates").glob("*.parquet")), "the kill came too late to test"
    again = subprocess.run(harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "b"),
                           env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert re.search(r"training 8 \(([1-8]) from checkpoints\)", again.stdout), again.stdout
    assert not list((cut / "checkpoints").glob("*.ckpt"))  # deleted once the runs are written
    a, b = tables(tmp_path / "a" / "ck"), tables(cut)
    assert len(a) == 24 and a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(b[name], a[name], check_exact=True, obj=name)
    for path in sorted((tmp_path / "a" / "ck" / "policies").glob("*.pt")):
        same_policies(torch.load(path, weights_only=True),
                      torch.load(cut / "policies" / path.name, weights_only=True))


def test_status_and_the_dry_run_count_the_steps_checkpoints_hold(tmp_path, capsys,
                                                                 monkeypatch):
    """A run killed halfway is not "0 steps": ``harness status`` adds what its checkpoint
    holds to the finished runs' steps, and ``--dry-run`` prices only the steps left."""
    from harness.cli import main
    from harness.runs.expand import expand
    from harness.runs.experiment import load_experiment

    path = tmp_path / "x.yaml"
    path.write_text("name: t\nenvs: [Hopper-v5]\nseeds: 2\ntotal_steps: 4096\n")
    first = expand(load_experiment(path))[0]
    _, snaps = checkpointed([spec("Hopper-v5", 0)], at=1)
    target = checkpoint_path(tmp_path / "results" / "t", first.run_id)
    target.parent.mkdir(parents=True)
    target.write_bytes(pickle.dumps(snaps[0]))
    line = ("env steps: 2,048 of 8,192 (25%), of which 2,048 in the checkpoints of 1 "
            "unfinished runs (the next `harness run` resumes them there)")
    assert main(["status", str(path), "--results-dir", str(tmp_path / "results")]) == 0
    assert line in capsys.readouterr().out
    # the dry run prices what is left: 6,144 steps, not the 8,192 of two fresh runs
    monkeypatch.setenv("HARNESS_RATES", str(tmp_path / "rates.json"))
    (tmp_path / "rates.json").write_text(json.dumps({socket.gethostname(): {"Hopper-v5@2": 1.0}}))
    assert main(["run", str(path), "--results-dir", str(tmp_path / "results"), "--jobs", "1",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert line in out
    assert "  Hopper-v5: 6,144 env steps in packs of 2 at 1/s per worker: 1.7 h" in out
