"""PPO optimisation epochs over one rollout for the whole pack (ppo2 ``Model.train``).

The minibatch gradient is written out by hand rather than taken with autograd: at ppo2's
minibatch of 64 the update is hundreds of small tensor ops, and autograd's graph and extra
ops were a third of its time (profile, Hopper-v5, K=16: 4.0 ms per minibatch with autograd,
2.6 ms by hand). Each piece is the derivative of the loss functions in
``harness.ppo.objectives``; ``tests/test_update.py`` checks the whole gradient against autograd
through them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from harness.ppo.collect import Rollout
from harness.ppo.networks import (
    ActorCritic,
    categorical_entropy,
    categorical_log_probs,
    gaussian_entropy,
    mlp_backward,
    mlp_forward,
    noise_log_prob,
)
from harness.ppo.objectives import explained_variance, policy_loss, value_loss_per_agent
from harness.ppo.optim import adam_step, clip_grad_norm
from harness.ppo.pack import PackState

STAT_NAMES = ("value_loss", "value_loss_unclipped", "value_clip_fraction", "policy_loss",
              "clip_fraction", "approx_kl", "entropy")


def ppo_update(state: PackState, rollout: Rollout, advantages: Tensor, returns: Tensor,
               lr: Tensor) -> dict[str, Tensor]:
    """``update_epochs`` passes of minibatch SGD; returns per-agent ``[K]`` diagnostics.

    Diagnostics are means over every minibatch of every epoch, as ppo2 logs them.
    ``advantages``/``returns`` are ``[T, K]`` like the rollout. Runs with denormals flushed
    to zero (``flushed_denormals``).
    """
    with flushed_denormals():
        return _epochs(state, rollout, advantages, returns, lr)


@contextlib.contextmanager
def flushed_denormals() -> Iterator[None]:
    """Flush denormal floats to zero on this thread (torch's ops and its one intra-op thread).

    TensorFlow's CPU device flushes denormals around every op it computes
    (``threadpool_device.cc``: ``port::ScopedFlushDenormal``), so ppo2's update never saw one.
    Ours did: Adam's second moments decay into them, and the x86 microcode assist for each
    made the update's element-wise ops about 3x slower (profile, HalfCheetah-v5, K=32,
    2026-12). Off again after, so the rollout's numpy and MuJoCo run as gymnasium's do.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _epochs(state: PackState, rollout: Rollout, advantages: Tensor, returns: Tensor,
            lr: Tensor) -> dict[str, Tensor]:
    cfg, hyper = state.schedule, state.hyper
    batch = {"obs": rollout.obs, "actions": rollout.actions, "log_probs": rollout.log_probs,
             "values": rollout.values, "advantages": advantages, "returns": returns}
    net, k, size = state.net, len(state.ids), cfg.minibatch_size
    # agent a's step t is row t * K + a of each time-major tensor's [T * K, ...] view
    agents = torch.arange(k)[:, None]
    flat = {name: t.reshape(cfg.num_steps * k, *t.shape[2:]) for name, t in batch.items()}
    sums = {name: torch.zeros(k) for name in STAT_NAMES}
    n_minibatches = 0
    for _ in range(cfg.update_epochs):
        order = agents + k * torch.stack([torch.randperm(cfg.num_steps, generator=g)
                                          for g in state.generators])
        for start in range(0, cfg.num_steps, size):
            # Gathered per minibatch, not shuffled per epoch: the rows land in cache just
            # before the forward reads them (Humanoid-v5: the epoch's shuffle of [K, T, 348]
            # observations cost a fifth of the update, profile 2026-12).
            picked = order[:, start:start + size].flatten()
            mb = {name: t.index_select(0, picked).view(k, -1, *t.shape[1:])
                  for name, t in flat.items()}
            stats = minibatch_gradient(state, mb)
            clip_grad_norm(net.grad, hyper.max_grad_norm)
            adam_step(net.flat, net.grad, state.adam, lr, hyper.adam_eps)
            for name, value in stats.items():
                sums[name] += value
            n_minibatches += 1
    out = {name: s / n_minibatches for name, s in sums.items()}
    # per agent over its own contiguous row, as every per-agent reduction here
    out["explained_variance"] = explained_variance(rollout.values.T.contiguous(),
                                                   returns.T.contiguous(), dim=1)
    return out


def minibatch_gradient(state: PackState, mb: dict[str, Tensor]) -> dict[str, Tensor]:
    """Write into ``net.grad`` each agent's gradient of its minibatch loss (ppo2:
    pg - ent_coef*H + 0.5*vf_coef*vf); returns the per-agent ``[K]`` diagnostics."""
    hyper, net = state.hyper, state.net
    policy_acts, value_acts = mlp_forward(net.policy, mb["obs"]), mlp_forward(net.value, mb["obs"])
    head = _categorical_head if net.discrete else _gaussian_head
    log_probs, entropy, head_backward = head(net, policy_acts[-1], mb["actions"])
    adv = mb["advantages"]
    # ppo2 normalises per minibatch with numpy's std (ddof=0); CleanRL uses ddof=1.
    normed = (adv - adv.mean(1, keepdim=True)) / (adv.std(1, keepdim=True, correction=0) + 1e-8)
    adv = torch.where(hyper.norm_adv[:, None], normed, adv)
    pg_loss, clip_fraction, approx_kl, d_log_probs = policy_loss(
        log_probs, mb["log_probs"], adv, clip_coef=hyper.clip_coef[:, None], dim=1)
    v_loss, v_plain, v_clip_fraction, d_values = value_loss_per_agent(
        value_acts[-1][..., 0], mb["values"], mb["returns"], codes=hyper.value_code,
        clip_eps=hyper.vf_clip_eps)
    mlp_backward(net.policy, policy_acts, head_backward(d_log_probs, hyper.ent_coef),
                 net.policy_grad)
    mlp_backward(net.value, value_acts, (0.5 * hyper.vf_coef[:, None] * d_values)[..., None],
                 net.value_grad)
    return {"value_loss": v_loss, "value_loss_unclipped": v_plain,
            "value_clip_fraction": v_clip_fraction, "policy_loss": pg_loss,
            "clip_fraction": clip_fraction, "approx_kl": approx_kl, "entropy": entropy}


HeadBackward = Callable[[Tensor, Tensor], Tensor]
"""``(d loss / d log_probs [K, B], ent_coef [K]) -> d loss / d head output [K, B, A]`` of the
loss ``pg - ent_coef * H``; writes any gradient of the head's own parameters (the log-std)."""


def _gaussian_head(net: ActorCritic, mean: Tensor,
                   actions: Tensor) -> tuple[Tensor, Tensor, HeadBackward]:
    """Log-probs ``[K, B]`` of ``actions [K, B, A]`` under N(mean, std^2), the entropy ``[K]``
    (state-independent) and the backward pass through both."""
    inv_std = torch.exp(-net.log_std)
    z = (actions - mean) * inv_std  # the action's noise, [K, B, A]
    log_probs = noise_log_prob(z, net.log_std)
    entropy = gaussian_entropy(net.log_std)[:, 0]

    def backward(d_log_probs: Tensor, ent_coef: Tensor) -> Tensor:
        # d log_prob / d mean = z / std; d log_prob / d log_std = z^2 - 1; dH / d log_std = 1.
        d_log_probs = d_log_probs[..., None]
        torch.sum(d_log_probs * (z * z - 1), 1, keepdim=True, out=net.log_std_grad)
        net.log_std_grad.sub_(ent_coef[:, None, None])
        return d_log_probs * z * inv_std

    return log_probs, entropy, backward


def _categorical_head(net: ActorCritic, logits: Tensor,
                      actions: Tensor) -> tuple[Tensor, Tensor, HeadBackward]:
    """Log-probs ``[K, B]`` of the action indices ``actions [K, B]`` under softmax(logits), the
    entropy averaged over the minibatch ``[K]`` (ppo2 ``reduce_mean(pd.entropy())``) and the
    backward pass through both."""
    all_log_probs = categorical_log_probs(logits)  # [K, B, n]
    # torch.softmax works row by row, like log_softmax; exp() of the whole [K, B, n] tensor may
    # round its scalar tail apart from its vector body, and the tail falls on other agents'
    # rows in other packs (networks.ALIGN)
    probs = torch.softmax(logits, -1)
    taken = actions[..., None]
    log_probs = all_log_probs.gather(-1, taken)[..., 0]
    entropies = categorical_entropy(probs, all_log_probs)  # [K, B]

    def backward(d_log_probs: Tensor, ent_coef: Tensor) -> Tensor:
        # d log p_a / d logits = onehot(a) - p; dH / d logits = -p (log p + H), and the loss
        # has -ent_coef * mean_b H_b.
        d_log_probs = d_log_probs[..., None]
        d_logits = (ent_coef[:, None, None] / logits.shape[1]) * probs * (
            all_log_probs + entropies[..., None]) - d_log_probs * probs
        return d_logits.scatter_add_(-1, taken, d_log_probs)

    return log_probs, entropies.mean(1), backward
