"""Per-agent gradient clipping and Adam on stacked ``[K, ...]`` parameters.

torch.optim.Adam takes one scalar step size; variants may differ in learning rate (and
annealing), so Adam is written out with a ``[K]`` step size. The update is torch.optim.Adam's
(CleanRL's optimizer); ppo2 uses TF's Adam, which differs only in where epsilon enters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

BETA1, BETA2 = 0.9, 0.999


@dataclass
class AdamState:
    """First and second moments, one per parameter tensor, and the shared step count."""

    exp_avg: list[Tensor]
    """First moments."""
    exp_avg_sq: list[Tensor]
    """Second moments."""
    step: int = 0
    """Steps taken (the same for every agent: the pack updates in lockstep)."""

    @classmethod
    def zeros(cls, params: list[Tensor]) -> AdamState:
        """Zero moments shaped like ``params``."""
        return cls([torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])

    def select(self, keep: Tensor) -> AdamState:
        """The moments of the agents at indices ``keep``."""
        return AdamState([m[keep] for m in self.exp_avg], [v[keep] for v in self.exp_avg_sq],
                         self.step)


def _per_agent(x: Tensor, like: Tensor) -> Tensor:
    """Reshape ``[K]`` to broadcast against ``[K, ...]``."""
    return x.reshape(-1, *([1] * (like.dim() - 1)))


def clip_grad_norm(params: list[Tensor], max_norm: Tensor) -> Tensor:
    """Scale each agent's gradients to global norm <= ``max_norm[k]``; returns the norms ``[K]``.

    ``tf.clip_by_global_norm`` (ppo2): g * max_norm / max(norm, max_norm), no epsilon.
    """
    norm = torch.stack([p.grad.pow(2).flatten(1).sum(1) for p in params]).sum(0).sqrt()
    scale = max_norm / torch.maximum(norm, max_norm)
    for p in params:
        p.grad.mul_(_per_agent(scale, p.grad))
    return norm


@torch.no_grad()
def adam_step(params: list[Tensor], state: AdamState, lr: Tensor, eps: Tensor) -> None:
    """One Adam step with per-agent step size ``lr [K]`` and epsilon ``eps [K]``."""
    state.step += 1
    bias1 = 1 - BETA1**state.step
    bias2_sqrt = (1 - BETA2**state.step) ** 0.5
    for p, m, v in zip(params, state.exp_avg, state.exp_avg_sq, strict=True):
        g = p.grad
        m.lerp_(g, 1 - BETA1)
        v.mul_(BETA2).addcmul_(g, g, value=1 - BETA2)
        denom = (v.sqrt() / bias2_sqrt).add_(_per_agent(eps, p))
        p.addcdiv_(m * _per_agent(-lr / bias1, p), denom)
