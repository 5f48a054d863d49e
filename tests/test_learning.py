"""End-to-end learning checks: the default (Baselines) config solves InvertedPendulum-v5, and
``experiments/cartpole.yaml`` solves CartPole-v1 (discrete actions) within 100k steps."""

from pathlib import Path

import numpy as np
import pytest

from harness.ppo.agent import AgentSpec
from harness.ppo.config import PPOConfig
from harness.ppo.trainer import train_pack
from harness.runs.expand import expand, make_packs, pack_key
from harness.runs.experiment import load_experiment
from harness.runs.train import train_runs

EXPERIMENTS = Path(__file__).parent.parent / "experiments"


@pytest.mark.slow
def test_default_config_learns_inverted_pendulum():
    steps = 30 * 2048  # ~61k env steps per run, inside the 100k budget
    specs = [AgentSpec("InvertedPendulum-v5", s, steps, PPOConfig()) for s in range(3)]
    results = train_pack(specs)
    late = [np.nanmean(r.updates["episodic_return"].to_numpy()[-5:]) for r in results]
    assert all(r.failure is None for r in results)
    assert np.mean(late) >= 500, late
    assert len(results[0].episodes) > 100  # episodes were recorded with raw returns


@pytest.mark.slow
def test_cartpole_experiment_solves_cartpole_with_value_clipping():
    """The three seeds of ppo2's value clip, trained as one pack as ``harness run`` packs them:
    each seed's last 20 finished training episodes (stochastic policy, raw return) average
    >= 475 of CartPole-v1's 500, within 100k env steps."""
    exp = load_experiment(EXPERIMENTS / "cartpole.yaml")
    clipped = [s for s in expand(exp) if s.ppo.value_clip == "max"]
    assert [s.seed for s in clipped] == [0, 1, 2] and clipped[0].ppo.vf_clip_eps == 0.2
    assert all(s.agent.total_steps <= 100_000 for s in clipped)
    [pack] = make_packs(clipped, 1, pack_key)
    results = train_runs(pack)
    assert all(r.failure is None for r in results)
    assert all(r.episodes["global_step"].max() <= 100_000 for r in results)
    late = [r.episodes["episode_return"].to_numpy()[-20:].mean() for r in results]
    assert min(late) >= 475, late
