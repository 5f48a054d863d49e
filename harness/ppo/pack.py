"""The mutable state of a pack of K agents and their per-agent hyper-parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from harness.ppo.config import PPOConfig
from harness.ppo.envs import PackEnv
from harness.ppo.networks import ActorCritic
from harness.ppo.objectives import mode_code
from harness.ppo.optim import AdamState


@dataclass(frozen=True)
class Hyper:
    """Per-agent hyper-parameters as ``[K]`` tensors (variants differ in these)."""

    learning_rate: Tensor
    """Initial Adam step size."""
    anneal_lr: Tensor
    """bool: anneal the step size linearly to 0."""
    adam_eps: Tensor
    """Adam epsilon."""
    gamma: Tensor
    """Discount."""
    gae_lambda: Tensor
    """GAE lambda."""
    norm_adv: Tensor
    """bool: per-minibatch advantage normalisation."""
    clip_coef: Tensor
    """Policy ratio clip."""
    value_code: Tensor
    """int: index of the value-clip mode in ``VALUE_CLIP_MODES``."""
    vf_clip_eps: Tensor
    """Value clip range the loss applies (``PPOConfig.loss_vf_clip_eps``: +inf for ``none``)."""
    ent_coef: Tensor
    """Entropy coefficient."""
    vf_coef: Tensor
    """Value loss coefficient."""
    max_grad_norm: Tensor
    """Per-agent global gradient-norm clip."""
    bootstrap: Tensor
    """bool: bootstrap time-limit truncations (SB3) instead of treating them as terminal."""

    def select(self, keep: np.ndarray) -> Hyper:
        """The agents at indices ``keep``."""
        return Hyper(**{f.name: getattr(self, f.name)[keep] for f in dataclasses.fields(self)})


def hyper_tensors(cfgs: Sequence[PPOConfig]) -> Hyper:
    """Stack the per-agent values of ``cfgs`` into ``[K]`` tensors."""
    def col(name: str, dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.tensor([getattr(c, name) for c in cfgs], dtype=dtype)

    return Hyper(
        learning_rate=col("learning_rate"), anneal_lr=col("anneal_lr", torch.bool),
        adam_eps=col("adam_eps"), gamma=col("gamma"), gae_lambda=col("gae_lambda"),
        norm_adv=col("norm_adv", torch.bool), clip_coef=col("clip_coef"),
        value_code=torch.tensor([mode_code(c.value_clip) for c in cfgs]),
        vf_clip_eps=col("loss_vf_clip_eps"),
        ent_coef=col("ent_coef"), vf_coef=col("vf_coef"), max_grad_norm=col("max_grad_norm"),
        bootstrap=torch.tensor([c.truncation == "bootstrap" for c in cfgs]),
    )


@dataclass
class PackState:
    """Everything that evolves during training, with agents along the first axis."""

    env: PackEnv
    """The agents' envs and normalisation statistics."""
    net: ActorCritic
    """Stacked networks."""
    adam: AdamState
    """Per-agent Adam moments."""
    generators: list[torch.Generator]
    """Per-agent generators (action noise, minibatch order)."""
    hyper: Hyper
    """Per-agent hyper-parameters."""
    schedule: PPOConfig
    """Config shared by the pack (rollout length, minibatches, epochs)."""
    ids: list[int]
    """Index of each live agent in the original ``specs``."""

    @classmethod
    def create(cls, env: PackEnv, net: ActorCritic, generators: list[torch.Generator],
               hyper: Hyper, schedule: PPOConfig) -> PackState:
        """A fresh pack with zeroed optimizer state."""
        return cls(env, net, AdamState.zeros(net.flat), generators, hyper, schedule,
                   list(range(len(generators))))

    def select(self, keep: np.ndarray) -> PackState:
        """The pack without the agents not in ``keep`` (runs stopped on divergence)."""
        index = torch.as_tensor(keep)
        self.env.select(keep)
        return PackState(self.env, self.net.select(index), self.adam.select(index),
                         [self.generators[i] for i in keep], self.hyper.select(index),
                         self.schedule, [self.ids[i] for i in keep])
