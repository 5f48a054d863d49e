"""Loss math on small hand-computed cases (docs/design.md §4 loss contract)."""

import math

import pytest
import torch

from harness.ppo.objectives import (
    explained_variance,
    gae,
    policy_loss,
    value_loss,
    value_loss_per_agent,
)

# old = 0, eps = 0.5; elements: inside, exactly +eps, exactly -eps, beyond +eps, beyond -eps.
OLD = torch.zeros(5)
VALUES = [0.2, 0.5, -0.5, 1.0, -1.0]
RETURNS = torch.tensor([1.0, 1.0, 1.0, 2.0, 0.0])
# (v-R)^2 = .64 .25 2.25 1 1 ; v_clip = .2 .5 -.5 .5 -.5 ; (v_clip-R)^2 = .64 .25 2.25 2.25 .25
# v-R = -.8 -.5 -1.5 -1 -1 ; v_clip-R = -.8 -.5 -1.5 -1.5 -.5 ; max of these, squared:
# .64 .25 2.25 1 .25 (max_signed keeps the plain branch beyond +eps, the clipped one beyond -eps)
EXPECTED = {"none": (5.14 / 5, 0.0), "max": (6.39 / 5, 0.4), "clipped": (5.64 / 5, 0.4),
            "max_signed": (4.39 / 5, 0.4)}
# d loss / d v for the max form: beyond +eps the clipped (constant) branch wins -> 0;
# beyond -eps the plain branch wins -> 2(v-R)/n.
EXPECTED_MAX_GRAD = [2 * (0.2 - 1) / 5, 2 * (0.5 - 1) / 5, 2 * (-0.5 - 1) / 5, 0.0, -2 / 5]
# max_signed: the mirror image: full gradient beyond +eps, none beyond -eps.
EXPECTED_SIGNED_GRAD = [2 * (0.2 - 1) / 5, 2 * (0.5 - 1) / 5, 2 * (-0.5 - 1) / 5, -2 / 5, 0.0]
MODES = ["none", "max", "clipped", "max_signed"]


@pytest.mark.parametrize("mode", MODES)
def test_value_loss_hand_computed(mode):
    loss, frac = value_loss(torch.tensor(VALUES), OLD, RETURNS, mode=mode, clip_eps=0.5)
    assert loss.item() == pytest.approx(EXPECTED[mode][0], abs=1e-6)
    assert frac.item() == pytest.approx(EXPECTED[mode][1])


def test_value_loss_max_gradient_zero_beyond_eps_on_clipped_branch():
    values = torch.tensor(VALUES, requires_grad=True)
    value_loss(values, OLD, RETURNS, mode="max", clip_eps=0.5)[0].backward()
    assert values.grad.tolist() == pytest.approx(EXPECTED_MAX_GRAD, abs=1e-6)
    assert values.grad[3].item() == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_returned_value_gradient_is_autograds(mode):
    # The trainer uses the returned gradient instead of autograd (harness/ppo/update.py).
    codes = {m: i for i, m in enumerate(MODES)}
    values = torch.tensor([VALUES], requires_grad=True)
    eps = torch.tensor([math.inf if mode == "none" else 0.5])
    loss, _, _, grad = value_loss_per_agent(values, OLD[None], RETURNS[None],
                                            codes=torch.tensor([codes[mode]]), clip_eps=eps)
    loss.sum().backward()
    assert torch.allclose(grad, values.grad, atol=1e-7)
    if mode == "max":
        assert grad[0].tolist() == pytest.approx(EXPECTED_MAX_GRAD, abs=1e-6)
    if mode == "max_signed":
        assert grad[0].tolist() == pytest.approx(EXPECTED_SIGNED_GRAD, abs=1e-6)


def test_max_signed_is_engstroms_expression():
    """Random cases against the released code's own form, ``ch.max(vs - val_targ, vs_clipped -
    val_targ).pow(2).mean()`` (implementation-matters/code-for-paper, ``value_loss_gae``), loss
    and gradient; and it differs from ppo2's ``max`` of the squares."""
    gen = torch.Generator().manual_seed(0)
    v, old, ret = (torch.randn(4096, generator=gen) for _ in range(3))
    theirs_v = v.clone().requires_grad_()
    clipped = old + torch.clamp(theirs_v - old, -0.2, 0.2)
    theirs = torch.max(theirs_v - ret, clipped - ret).pow(2).mean()
    theirs.backward()
    ours_v = v.clone().requires_grad_()
    ours, _ = value_loss(ours_v, old, ret, mode="max_signed", clip_eps=0.2)
    ours.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)
    assert torch.allclose(ours_v.grad, theirs_v.grad, atol=1e-9)
    assert ours.item() < value_loss(v, old, ret, mode="max", clip_eps=0.2)[0].item()


def test_value_loss_clipped_mode_gradient_zero_outside_band():
    values = torch.tensor(VALUES, requires_grad=True)
    value_loss(values, OLD, RETURNS, mode="clipped", clip_eps=0.5)[0].backward()
    assert values.grad[3].item() == 0.0 and values.grad[4].item() == 0.0


def test_value_loss_any_shape():
    v, old, ret = torch.randn(3, 4, 2), torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    loss, _ = value_loss(v, old, ret, mode="none", clip_eps=0.2)
    assert loss.item() == pytest.approx(((v - ret) ** 2).mean().item())


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "huber", "clip_eps": 0.2}, "mode"),
    ({"mode": "max", "clip_eps": 0.0}, "clip_eps"),
    ({"mode": "clipped", "clip_eps": -1.0}, "clip_eps"),
])
def test_value_loss_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        value_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), **kwargs)


def test_value_loss_none_ignores_eps():
    loss, frac = value_loss(torch.tensor(VALUES), OLD, RETURNS, mode="none", clip_eps=0.0)
    assert frac.item() == 0.0 and loss.item() == pytest.approx(1.028)


def test_policy_loss_hand_computed():
    # ratios e^0.5=1.6487 (A=+1: clipped at 1.2), e^-0.5=0.6065 (A=-1: clipped at 0.8), 1.0
    logp = torch.tensor([0.5, -0.5, 0.0])
    adv = torch.tensor([1.0, -1.0, 2.0])
    loss, frac, kl, grad = policy_loss(logp, torch.zeros(3), adv, clip_coef=0.2)
    # per element max(-A r, -A clip(r)): -1.2, max(0.6065, 0.8)=0.8, -2
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 2.0) / 3, abs=1e-6)
    assert frac.item() == pytest.approx(2 / 3)
    assert kl.item() == pytest.approx(0.5 * (0.25 + 0.25) / 3)
    # the clipped branch wins (constant) for the first two; the third has -A r = -2
    assert grad.tolist() == pytest.approx([0.0, 0.0, -2 / 3], abs=1e-7)


def test_returned_policy_gradient_is_autograds():
    torch.manual_seed(0)
    logp = torch.randn(3, 50, requires_grad=True)
    old, adv = torch.randn(3, 50) * 0.3 + logp.detach(), torch.randn(3, 50)
    loss, _, _, grad = policy_loss(logp, old, adv, clip_coef=torch.full((3, 1), 0.2), dim=1)
    loss.sum().backward()
    assert torch.allclose(grad, logp.grad, atol=1e-7)


def test_policy_loss_unclipped_side_keeps_gradient():
    # A<0 with ratio above 1+eps: the unclipped term is the max (pessimistic) -> gradient flows.
    logp = torch.tensor([0.5], requires_grad=True)
    policy_loss(logp, torch.zeros(1), torch.tensor([-1.0]), clip_coef=0.2)[0].backward()
    assert logp.grad.item() == pytest.approx(math.exp(0.5))


def reference_gae(rewards, values, dones, last_value, gamma, lam):
    """Plain loop over one env (ppo2 runner.py, with dones[t] = episode ended at t)."""
    n = len(rewards)
    adv = [0.0] * n
    last = 0.0
    for t in reversed(range(n)):
        next_value = last_value if t == n - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv


def test_gae_matches_reference_loop_with_episode_ends():
    g = torch.Generator().manual_seed(0)
    T, K = 50, 3
    rewards, values = torch.randn(T, K, generator=g), torch.randn(T, K, generator=g)
    dones = (torch.rand(T, K, generator=g) < 0.15).float()
    dones[-1, 0] = 1.0  # an episode ending on the last step must not bootstrap
    last = torch.randn(K, generator=g)
    adv, ret = gae(rewards, values, dones, last, gamma=0.99, lam=0.95)
    for k in range(K):
        ref = reference_gae(rewards[:, k].tolist(), values[:, k].tolist(), dones[:, k].tolist(),
                            last[k].item(), 0.99, 0.95)
        assert adv[:, k].tolist() == pytest.approx(ref, abs=1e-5)
    assert torch.allclose(ret, adv + values)


def test_gae_per_agent_gamma_lambda():
    rewards, values = torch.ones(4, 2), torch.zeros(4, 2)
    adv, _ = gae(rewards, values, torch.zeros(4, 2), torch.zeros(2),
                 gamma=torch.tensor([0.0, 1.0]), lam=torch.tensor([1.0, 1.0]))
    assert adv[:, 0].tolist() == [1, 1, 1, 1]
    assert adv[:, 1].tolist() == [4, 3, 2, 1]


def test_explained_variance():
    y = torch.tensor([1.0, 2.0, 4.0])
    assert explained_variance(y, y).item() == 1.0
    # residuals (0, 0, 1): var 2/9; var(y) = 14/9 -> 1 - 1/7
    assert explained_variance(torch.tensor([1.0, 2.0, 3.0]), y).item() == pytest.approx(6 / 7)
    assert math.isnan(explained_variance(torch.zeros(3), torch.ones(3)).item())
