"""Collect one rollout of ``num_steps`` per agent for the whole pack (ppo2 ``Runner.run``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from harness.ppo.networks import (
    categorical_log_probs,
    mlp_forward,
    noise_log_prob,
    numpy_layers,
    numpy_mlp,
)
from harness.ppo.pack import PackState


@dataclass
class Rollout:
    """Time-major buffers ``[T, K, ...]`` of one rollout."""

    obs: Tensor
    """``[T, K, obs_dim]`` normalised observations acted on."""
    actions: Tensor
    """``[T, K, act_dim]`` sampled (unclipped) actions, or ``[T, K]`` int64 action indices for
    a categorical policy."""
    log_probs: Tensor
    """``[T, K]`` log-probabilities of the actions under the rollout policy."""
    values: Tensor
    """``[T, K]`` value predictions."""
    rewards: Tensor
    """``[T, K]`` scaled rewards (plus the bootstrap term on truncation when enabled)."""
    dones: Tensor
    """``[T, K]`` 1.0 where the episode ended at that step."""
    last_values: Tensor
    """``[K]`` values of the observations after the rollout."""
    episodes: list[list[tuple[int, float, int]]]
    """Per agent: (global_step, raw return, length) of episodes finished in this rollout."""


def collect(state: PackState, obs: np.ndarray, update: int) -> tuple[Rollout, np.ndarray]:
    """Step every agent ``num_steps`` times; returns the rollout and the next observations."""
    n_steps, n_agents = state.schedule.num_steps, len(state.ids)
    env, discrete = state.env, state.net.discrete
    # Each agent's action noise for the whole rollout, from its own generator in one call.
    if discrete:
        noise = _gumbel_noise(state, n_steps)
    else:
        noise, log_probs = _gaussian_noise(state, n_steps)
    policy, value = numpy_layers(state.net.policy), numpy_layers(state.net.value)
    obs_buf = np.empty((n_steps, n_agents, env.obs_dim), dtype=np.float32)
    actions = (np.empty((n_steps, n_agents), dtype=np.int64) if discrete
               else np.empty((n_steps, n_agents, env.act_dim), dtype=np.float32))
    values = np.empty((n_steps, n_agents), dtype=np.float32)
    rewards = np.empty((n_steps, n_agents), dtype=np.float32)
    dones = np.empty((n_steps, n_agents), dtype=np.float32)
    episodes: list[list[tuple[int, float, int]]] = [[] for _ in range(n_agents)]
    bootstrap = state.hyper.bootstrap.numpy()
    gamma = state.hyper.gamma.numpy()
    for t in range(n_steps):
        obs_buf[t] = obs
        values[t] = numpy_mlp(value, obs[:, None])[:, 0, 0]
        # A sample is the head's output plus noise: mean + std * z, or for a categorical the
        # Gumbel-max trick argmax(logits + g) (ppo2 CategoricalPd.sample).
        out = numpy_mlp(policy, obs[:, None])[:, 0] + noise[t]
        actions[t] = out.argmax(-1) if discrete else out
        step = env.step(actions[t])
        rewards[t] = step.reward
        cut = step.truncated & bootstrap
        if cut.any():  # SB3: r += gamma * V(final obs) when a time limit cut the episode
            final = numpy_mlp(value, step.final_obs[:, None])[:, 0, 0]
            rewards[t] += np.where(cut, gamma * final, 0.0)
        dones[t] = step.done
        global_step = (update - 1) * n_steps + t + 1
        for agent, ret, length in step.episodes:
            episodes[agent].append((global_step, ret, length))
        obs = step.obs
    last_values = numpy_mlp(value, obs[:, None])[:, 0, 0]
    obs_t, actions_t = torch.from_numpy(obs_buf), torch.from_numpy(actions)
    if discrete:
        log_probs = _categorical_log_probs(state, obs_t, actions_t)
    rollout = Rollout(obs_t, actions_t, log_probs,
                      *(torch.from_numpy(a) for a in (values, rewards, dones, last_values)),
                      episodes)
    return rollout, obs


def _gaussian_noise(state: PackState, n_steps: int) -> tuple[np.ndarray, Tensor]:
    """``[T, K, A]`` std * z, the std fixed within a rollout, and the samples' log-probs
    ``[T, K]``, which depend on z alone."""
    noise = torch.stack([torch.randn(n_steps, state.env.act_dim, generator=g)
                         for g in state.generators], 1)
    log_std = state.net.log_std[:, 0]  # [K, A]
    return (noise * log_std.exp()).numpy(), noise_log_prob(noise, log_std)


def _gumbel_noise(state: PackState, n_steps: int) -> np.ndarray:
    """``[T, K, n]`` Gumbel noise -log(-log(u)), u uniform (ppo2 ``CategoricalPd.sample``); the
    log-probs come after the rollout (``_categorical_log_probs``)."""
    # Per agent before stacking: a transcendental's vector and scalar code paths may round
    # apart, so an agent's elements must sit in the same place whatever its pack.
    noise = torch.stack([torch.rand(n_steps, state.env.act_dim, generator=g).log_().neg_()
                         .log_().neg_() for g in state.generators], 1)
    return noise.numpy()


def _categorical_log_probs(state: PackState, obs: Tensor, actions: Tensor) -> Tensor:
    """``[T, K]`` log-probs of ``actions [T, K]`` taken on ``obs [T, K, obs_dim]``, from one
    batched forward of the rollout's policy after the rollout. ppo2 keeps each step's own
    ``neglogp``: the same policy, to rounding, without a log-softmax in the per-step loop."""
    logits = mlp_forward(state.net.policy, obs.transpose(0, 1))[-1]  # [K, T, n]
    taken = categorical_log_probs(logits).gather(-1, actions.T[..., None])[..., 0]
    return taken.T
