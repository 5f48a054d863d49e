"""Trained agents' deterministic policies, frozen: to evaluate them during training and to
replay a finished run (``harness rollout``).

A frozen policy reads its agent's observation statistics and never updates them, so acting
with it leaves training untouched. ``policy_record`` is what a finished run saves: plain
tensors and values (``torch.save``, read back with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.ppo.envs import normalise_obs
from harness.ppo.networks import Layer, deterministic_action, numpy_layers
from harness.ppo.pack import PackState


@dataclass(frozen=True)
class FrozenPolicy:
    """K agents' deterministic policies and observation normalisers, as numpy arrays."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    """Policy MLP, ``(W [K, in, out], b [K, 1, out])`` per layer (``numpy_layers``)."""
    obs_mean: np.ndarray
    """``[K, obs_dim]`` running observation means, as training left them."""
    obs_var: np.ndarray
    """``[K, obs_dim]`` running observation variances."""
    normalize_obs: np.ndarray
    """``[K]`` bool: the agent acts on normalised observations."""
    discrete: bool
    """Categorical policies (actions are indices), else Gaussian."""

    def act(self, raw: np.ndarray) -> np.ndarray:
        """``[K, act_dim]`` deterministic actions for raw observations ``[K, obs_dim]``."""
        obs = normalise_obs(raw, self.obs_mean, self.obs_var, self.normalize_obs)
        return deterministic_action(self.layers, obs, self.discrete)

    def select(self, rows: np.ndarray) -> FrozenPolicy:
        """The agents at indices ``rows``."""
        return FrozenPolicy([(w[rows], b[rows]) for w, b in self.layers], self.obs_mean[rows],
                            self.obs_var[rows], self.normalize_obs[rows], self.discrete)


def pack_policy(state: PackState) -> FrozenPolicy:
    """The live agents' policies as they are now (copies: training goes on)."""
    rms = state.env.obs_rms
    return FrozenPolicy(numpy_layers(state.net.policy), rms.mean.copy(), rms.var.copy(),
                        state.env.normalize_obs.copy(), state.net.discrete)


def policy_record(state: PackState, slot: int, *, env_id: str, seed: int, evaluation: int,
                  env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Agent ``slot``'s parameters (its slice only: policy and value layers, log-std; None
    for a categorical policy),
    observation statistics and what rebuilding it needs.

    ``seed`` and ``evaluation`` (the index of the run's last evaluation, 0 without one) give
    ``harness rollout`` the reset seeds of that evaluation's episodes; ``env_kwargs`` the
    ``gym.make`` arguments of its env.
    """
    def own(layers: list[Layer]) -> list[dict[str, torch.Tensor]]:
        # clone(): a view would save the whole pack's buffer
        return [{"weight": w[slot].clone(), "bias": b[slot].clone()} for w, b in layers]

    net, env = state.net, state.env
    return {"env_id": env_id, "env_kwargs": env_kwargs or {}, "seed": seed,
            "evaluation": evaluation,
            "obs_dim": env.obs_dim, "act_dim": env.act_dim,
            "hidden_sizes": [w.shape[-1] for w, _ in net.policy[:-1]],
            "policy": own(net.policy), "value": own(net.value),
            "log_std": None if net.discrete else net.log_std[slot].clone(),
            "normalize_obs": bool(env.normalize_obs[slot]),
            "obs_mean": torch.from_numpy(env.obs_rms.mean[slot].copy()),
            "obs_var": torch.from_numpy(env.obs_rms.var[slot].copy())}


def from_record(record: dict[str, Any]) -> FrozenPolicy:
    """A one-agent ``FrozenPolicy`` from ``policy_record``'s output."""
    layers = [(layer["weight"][None], layer["bias"][None]) for layer in record["policy"]]
    return FrozenPolicy(numpy_layers(layers), record["obs_mean"].numpy()[None],
                        record["obs_var"].numpy()[None],
                        np.array([record["normalize_obs"]]), record["log_std"] is None)
