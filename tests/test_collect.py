"""PPO's data collection (``harness.ppo.collect``): one rollout's buffers, shapes and
log-probs, for a Gaussian policy (Hopper-v5) and a categorical one (Acrobot-v1)."""

import numpy as np
import pytest
import torch
from reference import reference_mlp

from harness.ppo.agent import AgentSpec
from harness.ppo.collect import collect
from harness.ppo.config import PPOConfig
from harness.ppo.trainer import _init_state

STEPS = 64


def rollout(env_id, seeds=(0, 1), update=1):
    cfg = PPOConfig(num_steps=STEPS, num_minibatches=4)
    state = _init_state([AgentSpec(env_id, s, 4 * STEPS, cfg) for s in seeds])
    try:
        found, obs = collect(state, state.env.reset(), update)
    finally:
        state.env.close()
    return state, found, obs


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Acrobot-v1"])
def test_buffers_are_time_major_and_log_probs_are_the_policys(env_id):
    state, r, obs = rollout(env_id)
    k, net = 2, state.net
    assert r.obs.shape == (STEPS, k, state.env.obs_dim) and obs.shape == (k, state.env.obs_dim)
    for buffer in (r.log_probs, r.values, r.rewards, r.dones):
        assert buffer.shape == (STEPS, k)
    assert r.last_values.shape == (k,)
    out = reference_mlp(net.policy, r.obs.transpose(0, 1))  # [K, T, ...]
    if net.discrete:
        assert r.actions.shape == (STEPS, k) and r.actions.dtype == torch.int64
        expected = torch.distributions.Categorical(logits=out).log_prob(r.actions.T)
    else:
        assert r.actions.shape == (STEPS, k, state.env.act_dim)
        std = net.log_std.exp()  # [K, 1, A]
        expected = torch.distributions.Normal(out, std).log_prob(r.actions.transpose(0, 1)).sum(-1)
    torch.testing.assert_close(r.log_probs, expected.T, rtol=1e-4, atol=1e-4)
    # the values are the value head's on the observations acted on
    torch.testing.assert_close(r.values, reference_mlp(net.value, r.obs.transpose(0, 1))[..., 0].T,
                               rtol=1e-4, atol=1e-4)


def test_episodes_are_those_ended_in_the_rollout_at_their_global_step():
    _, r, _ = rollout("Hopper-v5", update=3)  # Hopper's random policy falls within 64 steps
    for agent, episodes in enumerate(r.episodes):
        ends = np.flatnonzero(r.dones[:, agent].numpy())
        assert [step for step, _, _ in episodes] == [2 * STEPS + t + 1 for t in ends]
        assert all(length > 0 for _, _, length in episodes)
    assert any(r.episodes)


def test_an_agents_rollout_depends_on_its_seed_alone():
    _, alone, _ = rollout("Hopper-v5", seeds=(1,))
    _, packed, _ = rollout("Hopper-v5", seeds=(0, 1))
    torch.testing.assert_close(alone.actions[:, 0], packed.actions[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(alone.rewards[:, 0], packed.rewards[:, 1], rtol=0, atol=0)
