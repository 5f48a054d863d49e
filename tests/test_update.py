"""The hand-written minibatch gradient equals autograd's through ``harness.ppo.objectives``,
for the Gaussian policy (Hopper-v5) and the categorical one (Acrobot-v1, three actions)."""

import dataclasses

import pytest
import torch
from reference import reference_mlp

from harness.ppo.agent import AgentSpec
from harness.ppo.config import PPOConfig
from harness.ppo.networks import gaussian_entropy, gaussian_log_prob
from harness.ppo.objectives import policy_loss, value_loss_per_agent
from harness.ppo.trainer import _init_state
from harness.ppo.update import minibatch_gradient

# Agents that differ in every hyper-parameter the loss reads.
VARIANTS = [
    {"value_clip": "none"},
    {"value_clip": "max", "vf_clip_eps": 0.2, "ent_coef": 0.01},
    {"value_clip": "clipped", "vf_clip_eps": 0.1, "clip_coef": 0.1, "vf_coef": 1.0},
    {"value_clip": "max", "vf_clip_eps": 0.3, "norm_adv": False, "ent_coef": 0.5},
    {"value_clip": "max_signed", "vf_clip_eps": 0.1},
]
ENVS = ["Hopper-v5", "Acrobot-v1"]
"""A Gaussian policy, and a categorical one of three actions."""


def pack_and_minibatch(env_id="Hopper-v5", batch=64, seed=0):
    specs = [AgentSpec(env_id, k, 2048, dataclasses.replace(PPOConfig(), **kw))
             for k, kw in enumerate(VARIANTS)]
    state = _init_state(specs)
    g = torch.Generator().manual_seed(seed)
    k, net = len(specs), state.net
    net.flat.add_(0.1 * torch.randn(net.flat.shape, generator=g))  # away from the init
    obs = torch.randn(k, batch, state.env.obs_dim, generator=g)
    actions = (torch.randint(state.env.act_dim, (k, batch), generator=g) if net.discrete
               else torch.randn(k, batch, state.env.act_dim, generator=g))
    mb = {"obs": obs, "actions": actions, "values": torch.randn(k, batch, generator=g),
          "returns": torch.randn(k, batch, generator=g),
          "advantages": 2 * torch.randn(k, batch, generator=g) + 0.5}
    # Old log-probs near the current ones, so that some ratios leave the clip range.
    log_probs, _ = reference_policy(net.policy, net.log_std, obs, actions)
    mb["log_probs"] = log_probs + 0.3 * torch.randn(k, batch, generator=g)
    return state, mb


def reference_policy(policy, log_std, obs, actions):
    """Log-probs ``[K, B]`` and entropy ``[K]`` of torch's distributions, the categorical's
    averaged over the minibatch (independent of our heads)."""
    out = reference_mlp(policy, obs)
    if log_std is None:
        dist = torch.distributions.Categorical(logits=out)
        return dist.log_prob(actions), dist.entropy().mean(1)
    return gaussian_log_prob(actions, out, log_std), gaussian_entropy(log_std)[:, 0]


def reference_loss(state, mb, params):
    """ppo2's per-agent total loss by autograd, with torch.tanh (independent of our forward)."""
    hyper, n = state.hyper, len(state.net.policy)
    layers = [(params[i], params[i + 1]) for i in range(0, len(params) - len(params) % 2, 2)]
    policy, value = layers[:n], layers[n:]
    log_std = None if state.net.discrete else params[-1]
    log_probs, entropy = reference_policy(policy, log_std, mb["obs"], mb["actions"])
    adv = mb["advantages"]
    normed = (adv - adv.mean(1, keepdim=True)) / (adv.std(1, keepdim=True, correction=0) + 1e-8)
    adv = torch.where(hyper.norm_adv[:, None], normed, adv)
    pg, clip_fraction, approx_kl, _ = policy_loss(log_probs, mb["log_probs"], adv,
                                                  clip_coef=hyper.clip_coef[:, None], dim=1)
    v_loss, v_plain, v_clip_fraction, _ = value_loss_per_agent(
        reference_mlp(value, mb["obs"])[..., 0], mb["values"], mb["returns"],
        codes=hyper.value_code, clip_eps=hyper.vf_clip_eps)
    total = pg - hyper.ent_coef * entropy + 0.5 * hyper.vf_coef * v_loss
    stats = {"value_loss": v_loss, "value_loss_unclipped": v_plain,
             "value_clip_fraction": v_clip_fraction, "policy_loss": pg,
             "clip_fraction": clip_fraction, "approx_kl": approx_kl, "entropy": entropy}
    return total, stats


@pytest.mark.parametrize("env_id", ENVS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_and_diagnostics_equal_autograds(env_id, seed):
    state, mb = pack_and_minibatch(env_id, seed=seed)
    stats = minibatch_gradient(state, mb)
    params = [p.detach().clone().requires_grad_() for p in state.net.parameters()]
    total, want = reference_loss(state, mb, params)
    total.sum().backward()  # agents' losses are independent: the sum keeps them apart
    net = state.net
    ours = [t for layer in net.policy_grad + net.value_grad for t in layer]
    ours += [] if net.discrete else [net.log_std_grad]
    for got, param in zip(ours, params, strict=True):
        assert torch.allclose(got, param.grad, rtol=1e-4, atol=1e-6)
    for name, value in want.items():
        assert torch.allclose(stats[name], value.detach(), rtol=1e-5, atol=1e-6), name
    # the case covers both clip ranges' active sides
    assert (want["clip_fraction"] > 0).all() and (want["value_clip_fraction"][1:] > 0).all()


@pytest.mark.parametrize("env_id", ENVS)
def test_gradient_is_overwritten_not_accumulated(env_id):
    state, mb = pack_and_minibatch(env_id)
    minibatch_gradient(state, mb)
    first = state.net.grad.clone()
    minibatch_gradient(state, mb)
    assert torch.equal(state.net.grad, first)


@pytest.mark.parametrize("env_id", ENVS)
def test_an_agents_gradient_ignores_its_pack_mates(env_id):
    state, mb = pack_and_minibatch(env_id)
    minibatch_gradient(state, mb)
    packed = state.net.grad[2].clone()
    keep = [2]
    state = state.select(torch.tensor(keep).numpy())
    minibatch_gradient(state, {name: t[keep] for name, t in mb.items()})
    assert torch.equal(state.net.grad[0], packed)  # bit for bit (DESIGN.md §3)
