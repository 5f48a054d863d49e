"""Stacked actor-critic: per-agent orthogonal init, batched forward, agent independence."""

import math

import numpy as np
import pytest
import torch
from reference import reference_mlp

from harness.ppo.networks import (
    categorical_entropy,
    categorical_log_probs,
    gaussian_entropy,
    gaussian_log_prob,
    init_actor_critic,
    mlp_backward,
    mlp_forward,
    numpy_layers,
    numpy_mlp,
)


def nets(seeds, obs_dim=5, act_dim=2):
    return init_actor_critic([torch.Generator().manual_seed(s) for s in seeds], obs_dim,
                             act_dim, (8, 8))


def test_shapes_and_init_scales():
    net = nets([0, 1, 2])
    w0, b0 = net.policy[0]
    assert w0.shape == (3, 5, 8) and b0.shape == (3, 1, 8) and not b0.any()
    assert net.log_std.shape == (3, 1, 2) and not net.log_std.any()
    # Orthogonal with gain g: W^T W = g^2 I on the smaller side, per agent.
    for layers, head_gain in ((net.policy, 0.01), (net.value, 1.0)):
        for (w, _), gain in zip(layers, [math.sqrt(2), math.sqrt(2), head_gain], strict=True):
            for k in range(3):
                m = w[k] if w.shape[1] >= w.shape[2] else w[k].T
                assert torch.allclose(m.T @ m, gain**2 * torch.eye(m.shape[1]), atol=1e-5)


def test_agent_init_depends_only_on_its_seed():
    alone, packed = nets([7]), nets([3, 7, 9])
    for a, b in zip(alone.parameters(), packed.parameters(), strict=True):
        assert torch.equal(a[0], b[1])


def test_batched_forward_equals_per_agent_forward():
    net = nets([0, 1])
    x = torch.randn(2, 4, 5)
    out = mlp_forward(net.policy, x)[-1]
    for k in range(2):
        h = x[k]
        for i, (w, b) in enumerate(net.policy):
            h = h @ w[k] + b[k]
            h = torch.tanh(h) if i < len(net.policy) - 1 else h
        assert torch.allclose(out[k], h, atol=1e-6)


def test_gaussian_matches_torch_distributions():
    mean, log_std, a = torch.randn(3, 4, 2), torch.randn(3, 1, 2), torch.randn(3, 4, 2)
    dist = torch.distributions.Normal(mean, log_std.exp())
    assert torch.allclose(gaussian_log_prob(a, mean, log_std), dist.log_prob(a).sum(-1), atol=1e-5)
    assert torch.allclose(gaussian_entropy(log_std)[:, 0], dist.entropy()[:, 0].sum(-1), atol=1e-5)


def test_select_keeps_the_chosen_agents_in_new_buffers():
    net = nets([0, 1, 2])
    sub = net.select(torch.tensor([0, 2]))
    assert torch.equal(sub.value[0][0], net.value[0][0][[0, 2]])
    assert sub.flat.shape == sub.grad.shape == (2, net.flat.shape[1])
    before = net.flat.clone()
    sub.flat.add_(1.0)
    assert torch.equal(net.flat, before)  # no shared storage


def test_parameters_are_views_of_the_flat_buffer():
    net = nets([0, 1])
    with torch.no_grad():
        net.flat[1] += 1.0
    assert torch.all(net.log_std[1] == 1.0) and torch.all(net.log_std[0] == 0.0)


def test_backward_equals_autograd():
    net = nets([0, 1])
    x = torch.randn(2, 6, 5)
    leaves = [[t.detach().clone().requires_grad_() for t in layer] for layer in net.value]
    h = reference_mlp(leaves, x)
    weights = torch.randn(h.shape)
    (h * weights).sum().backward()
    mlp_backward(net.value, mlp_forward(net.value, x), weights, net.value_grad)
    for (w, b), (gw, gb) in zip(leaves, net.value_grad, strict=True):
        assert torch.allclose(gw, w.grad, atol=1e-5) and torch.allclose(gb, b.grad, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_gradients_do_not_leak_between_agents(k):
    net = nets(list(range(k)))
    acts = mlp_forward(net.value, torch.randn(k, 6, 5))
    grad_out = torch.zeros(k, 6, 1)
    grad_out[0] = 1.0  # a loss of agent 0 only
    mlp_backward(net.value, acts, grad_out, net.value_grad)
    assert not net.grad[1:].any() and net.grad[0].any()  # rows of the shared buffer stay apart
    assert not any(g.any() for layer in net.policy_grad for g in layer)  # the policy untouched


def test_numpy_forward_equals_torch_forward():
    net = nets([0, 1, 2])
    x = torch.randn(3, 1, 5)
    with torch.no_grad():
        for layers in (net.policy, net.value):
            ours = numpy_mlp(numpy_layers(layers), x.numpy())
            assert np.allclose(ours, mlp_forward(layers, x)[-1].numpy(), atol=1e-6)


def test_every_agents_blocks_share_one_alignment():
    """MKL's gemm rounds by address alignment (``networks.ALIGN``): every agent's block of every
    parameter and activation starts on a 64-byte boundary, whatever its slot."""
    net = nets([0, 1, 2])  # sizes 5, 8, 2: no tensor fills a whole number of 64-byte lines
    acts = mlp_forward(net.value, torch.randn(3, 7, 5))
    for t in [*net.parameters(), *net.value_grad[0], *acts]:
        assert [t[k].data_ptr() % 64 for k in range(3)] == [0, 0, 0]


def test_categorical_policy_has_logits_and_no_log_std():
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    net = init_actor_critic(gens, 4, 3, (8, 8), discrete=True)
    assert net.discrete and net.log_std is None and net.log_std_grad is None
    assert net.policy[-1][0].shape == (2, 8, 3)  # one logit per action
    assert len(net.parameters()) == 12  # weights and biases only
    w = net.policy[-1][0][1]
    assert torch.allclose(w.T @ w, 0.01**2 * torch.eye(3), atol=1e-7)  # ppo2's 0.01 head
    sub = net.select(torch.tensor([1]))
    assert sub.discrete and torch.equal(sub.flat[0], net.flat[1])
    # the same draws as the Gaussian policy's layers: only the log-std differs
    gaussian = init_actor_critic([torch.Generator().manual_seed(s) for s in (0, 1)], 4, 3,
                                 (8, 8))
    for a, b in zip(net.parameters(), gaussian.parameters(), strict=False):
        assert torch.equal(a, b)


def test_categorical_matches_torch_distributions():
    logits, actions = 3 * torch.randn(2, 5, 4), torch.randint(0, 4, (2, 5))
    dist = torch.distributions.Categorical(logits=logits)
    log_probs = categorical_log_probs(logits)
    assert torch.allclose(log_probs.gather(-1, actions[..., None])[..., 0], dist.log_prob(actions),
                          atol=1e-6)
    entropy = categorical_entropy(torch.softmax(logits, -1), log_probs)
    assert torch.allclose(entropy, dist.entropy(), atol=1e-6)
