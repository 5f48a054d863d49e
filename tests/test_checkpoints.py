"""A run resumed from a checkpoint is the same run: its tables equal the uninterrupted run's
bit for bit, also when the resume packs it with other runs (trainer level; the runner's
files and a killed `harness run` are tested in test_runner.py)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from harness.ppo.agent import AgentSpec
from harness.ppo.config import PPOConfig
from harness.ppo.snapshot import SnapshotUnsupported, env_state
from harness.ppo.trainer import train_pack

N_UPDATES, CUT = 6, 3
CASES = {
    "Hopper-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2),  # thin stepping
    # through gymnasium's own step; its time limit (50) falls inside rollouts
    "Reacher-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2,
                            truncation="bootstrap"),
    # Ant reads body positions computed in the previous step: they must be restored too
    "Ant-v5": PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2),
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runner's workers train
    yield
    torch.set_num_threads(before)


def spec(env_id: str, seed: int, **overrides) -> AgentSpec:
    cfg = CASES[env_id].replace(**overrides)
    return AgentSpec(env_id, seed, N_UPDATES * cfg.num_steps, cfg)


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


@pytest.mark.parametrize("env_id", list(CASES))
def test_resume_equals_the_uninterrupted_run(env_id):
    target = spec(env_id, 1)
    mates = [spec(env_id, 0, value_clip="none"), spec(env_id, 2, normalize_reward=False)]
    whole, snaps = checkpointed([mates[0], target, mates[1]], at=CUT)
    assert set(snaps) == {0, 1, 2} and snaps[1].update == CUT and len(snaps[1].logs) == CUT
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


def test_no_snapshot_after_the_last_update():
    seen = []
    train_pack([spec("Hopper-v5", 0)], checkpoint=lambda update, capture: seen.append(update))
    assert seen == list(range(1, N_UPDATES))
    assert np.all(np.diff(seen) == 1)
