"""End-to-end learning check: the default (Baselines) config solves InvertedPendulum-v5."""

import numpy as np
import pytest

from harness.ppo.agent import AgentSpec
from harness.ppo.config import PPOConfig
from harness.ppo.trainer import train_pack


@pytest.mark.slow
def test_default_config_learns_inverted_pendulum():
    steps = 30 * 2048  # ~61k env steps per run, inside the 100k budget
    specs = [AgentSpec("InvertedPendulum-v5", s, steps, PPOConfig()) for s in range(3)]
    results = train_pack(specs)
    late = [np.nanmean(r.updates["episodic_return"].to_numpy()[-5:]) for r in results]
    assert all(r.failure is None for r in results)
    assert np.mean(late) >= 500, late
    assert len(results[0].episodes) > 100  # episodes were recorded with raw returns
