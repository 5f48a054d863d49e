"""A complete user's trainer for ``trainer: examples.my_trainer:train`` (README, "Your own
trainer"): a tiny PPO-shaped loop (full-batch epochs, Monte-Carlo returns) that needs only Gymnasium
and torch. It shows the contract; it is not meant to win.

The harness calls ``train(run, log)`` once per run, in a worker process:
- ``run.env_id``, ``run.env_kwargs``, ``run.seed``, ``run.total_steps`` say what to train;
- ``run.config`` holds every resolved PPO key (``value_clip``, ``vf_clip_eps``,
  ``num_steps``, ``learning_rate``, ...), so a matrix axis reaches the trainer;
- ``log.episode(global_step=, episode_return=, episode_length=)`` records each finished
  episode (raw return), ``log.update(global_step=, **columns)`` each update (any ``updates``
  column: ``value_loss``, ``value_clip_fraction``, ``approx_kl``, ...; the rest are NaN).
Raise to fail the run: the harness records it in ``failures/`` and the other runs go on.
"""

import gymnasium as gym
import torch
from torch import nn


def train(run, log):
    cfg = run.config
    torch.manual_seed(run.seed)
    env = gym.make(run.env_id, **run.env_kwargs)
    n_obs, n_act = env.observation_space.shape[0], env.action_space.shape[0]
    policy = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, n_act))
    value = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, 1))
    log_std = nn.Parameter(torch.zeros(n_act))
    params = [*policy.parameters(), *value.parameters(), log_std]
    optim = torch.optim.Adam(params, lr=cfg["learning_rate"], eps=cfg["adam_eps"])
    obs, _ = env.reset(seed=run.seed)
    episode_return, episode_length, step = 0.0, 0, 0
    for _ in range(run.total_steps // cfg["num_steps"]):
        batch = {"obs": [], "act": [], "logp": [], "rew": [], "done": []}
        for _ in range(cfg["num_steps"]):  # rollout
            x = torch.as_tensor(obs, dtype=torch.float32)
            with torch.no_grad():
                dist = torch.distributions.Normal(policy(x), log_std.exp())
                action = dist.sample()
            obs, reward, terminated, truncated, _ = env.step(action.numpy())
            step, episode_return, episode_length = step + 1, episode_return + reward, \
                episode_length + 1
            for key, item in zip(batch, (x, action, dist.log_prob(action).sum(),
                                         float(reward), terminated or truncated), strict=True):
                batch[key].append(item)
            if terminated or truncated:
                log.episode(global_step=step, episode_return=episode_return,
                            episode_length=episode_length)
                episode_return, episode_length = 0.0, 0
                obs, _ = env.reset()
        stats = update(batch, policy, value, log_std, optim, cfg)
        log.update(global_step=step, learning_rate=cfg["learning_rate"], **stats)
    env.close()


def update(batch, policy, value, log_std, optim, cfg):
    """``update_epochs`` full-batch steps of clipped PPO (Monte-Carlo returns for brevity)."""
    obs, act = torch.stack(batch["obs"]), torch.stack(batch["act"])
    old_logp = torch.stack(batch["logp"])
    returns, future = [], 0.0
    for reward, done in zip(reversed(batch["rew"]), reversed(batch["done"]), strict=True):
        future = reward + cfg["gamma"] * future * (not done)
        returns.append(future)
    returns = torch.tensor(returns[::-1])
    with torch.no_grad():
        old_values = value(obs).squeeze(-1)
    advantages = returns - old_values
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    for _ in range(cfg["update_epochs"]):  # full-batch epochs: clipping acts from the 2nd
        stats = step(obs, act, old_logp, old_values, returns, advantages, policy, value,
                     log_std, optim, cfg)
    return stats


def step(obs, act, old_logp, old_values, returns, advantages, policy, value, log_std, optim,
         cfg):
    """One gradient step of the clipped policy loss and the value loss ``value_clip`` asks
    for; returns the ``updates`` columns it knows."""
    dist = torch.distributions.Normal(policy(obs), log_std.exp())
    ratio = (dist.log_prob(act).sum(-1) - old_logp).exp()
    eps = cfg["clip_coef"]
    policy_loss = -torch.min(ratio * advantages, ratio.clamp(1 - eps, 1 + eps) * advantages).mean()
    values = value(obs).squeeze(-1)
    unclipped = (values - returns) ** 2
    value_loss, clip_fraction = unclipped.mean(), 0.0
    if cfg["value_clip"] == "max":  # Baselines' form
        delta = (values - old_values).clamp(-cfg["vf_clip_eps"], cfg["vf_clip_eps"])
        value_loss = torch.max(unclipped, (old_values + delta - returns) ** 2).mean()
        clip_fraction = float(((values - old_values).abs() > cfg["vf_clip_eps"]).float().mean())
    optim.zero_grad()
    (policy_loss + 0.5 * cfg["vf_coef"] * value_loss).backward()
    optim.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
            "value_loss_unclipped": unclipped.mean().item(), "value_clip_fraction": clip_fraction,
            "entropy": dist.entropy().sum(-1).mean().item()}
