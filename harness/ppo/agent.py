"""The trainer's contract: what one agent of a pack is, and the fields it logs.

Knows nothing of experiments: the runner maps each run onto an ``AgentSpec`` and adds the
run's identity columns to the logged tables (``harness.runs.schema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.ppo.config import PPOConfig

UPDATE_FIELDS = ("update", "global_step", "episodic_return", "value_loss", "value_loss_unclipped",
                 "value_clip_fraction", "policy_loss", "clip_fraction", "approx_kl", "entropy",
                 "explained_variance", "learning_rate", "sps")
"""One row per PPO update."""
EPISODE_FIELDS = ("global_step", "episode_return", "episode_length")
"""One row per finished training episode (raw return)."""
EVAL_FIELDS = ("global_step", "evaluation", "episode", "episode_return", "episode_length")
"""One row per evaluation episode of the deterministic policy (raw return): the env steps
trained before it, the evaluation's index (0, 1, ...) and the episode's within it."""


@dataclass(frozen=True)
class EvalSchedule:
    """When the deterministic policy is evaluated, apart from training (rl-zoo3's
    ``EvalCallback``; Andrychowicz et al. 2021 score runs so)."""

    every: int
    """Env steps between evaluations: after the first update at or past each multiple, and
    after the last update."""
    episodes: int = 10
    """Episodes per evaluation."""


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
    evaluation: EvalSchedule | None = None
    """When to evaluate the deterministic policy; None: never. It never changes the training
    numbers (``harness.ppo.evaluate``)."""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """``gym.make`` arguments of the env (training and evaluation envs alike)."""

    @property
    def pack_key(self) -> tuple:
        """Agents with equal keys can share a pack: same env, network shapes and schedule
        (evaluations included: the pack evaluates in lockstep too)."""
        p = self.ppo
        return (self.env_id, self.env_kwargs, self.total_steps, p.num_steps,
                p.num_minibatches, p.update_epochs, p.hidden_sizes, self.evaluation)
