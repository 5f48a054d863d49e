"""The trainer's contract: what one agent of a pack is, and the fields it logs.

Knows nothing of experiments: the runner maps each run onto an ``AgentSpec`` and adds the
run's identity columns to the logged tables (``harness.runs.schema``).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.ppo.config import PPOConfig

UPDATE_FIELDS = ("update", "global_step", "episodic_return", "value_loss", "value_loss_unclipped",
                 "value_clip_fraction", "policy_loss", "clip_fraction", "approx_kl", "entropy",
                 "explained_variance", "learning_rate", "sps")
"""One row per PPO update."""
EPISODE_FIELDS = ("global_step", "episode_return", "episode_length")
"""One row per finished training episode (raw return)."""


@dataclass(frozen=True)
class AgentSpec:
    """Everything that determines one agent's numbers."""

    env_id: str
    """Gymnasium env id."""
    seed: int
    """Seeds the env, network init, action noise and minibatch order."""
    total_steps: int
    """Env steps to train for (whole rollouts: ``total_steps // num_steps`` updates)."""
    ppo: PPOConfig
    """Fully resolved config."""

    @property
    def pack_key(self) -> tuple:
        """Agents with equal keys can share a pack: same env, network shapes and schedule."""
        p = self.ppo
        return (self.env_id, self.total_steps, p.num_steps, p.num_minibatches, p.update_epochs,
                p.hidden_sizes)
