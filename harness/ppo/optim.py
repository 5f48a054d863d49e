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
    """First and second moments shaped like the ``[K, P]`` parameter buffer, and the step."""

    exp_avg: Tensor
    """First moments."""
    exp_avg_sq: Tensor
    """Second moments."""
    step: int = 0
    """Steps taken (the same for every agent: the pack updates in lockstep)."""

    @classmethod
    def zeros(cls, flat: Tensor) -> AdamState:
        """Zero moments shaped like ``flat``."""
        return cls(torch.zeros_like(flat), torch.zeros_like(flat))

    def select(self, keep: Tensor) -> AdamState:
        """The moments of the agents at indices ``keep``."""
        return AdamState(self.exp_avg[keep], self.exp_avg_sq[keep], self.step)


def clip_grad_norm(grad: Tensor, max_norm: Tensor) -> Tensor:
    """Scale each agent's row of ``grad [K, P]`` to norm <= ``max_norm[k]``; returns norms ``[K]``.

    ``tf.clip_by_global_norm`` (ppo2): g * max_norm / max(norm, max_norm), no epsilon.
    """
    norm = grad.pow(2).sum(1).sqrt()
    grad.mul_((max_norm / torch.maximum(norm, max_norm))[:, None])
    return norm


def adam_step(flat: Tensor, grad: Tensor, state: AdamState, lr: Tensor, eps: Tensor) -> None:
    """One Adam step on ``flat [K, P]`` with per-agent step size ``lr [K]`` and ``eps [K]``."""
    state.step += 1
    bias1 = 1 - BETA1**state.step
    bias2_sqrt = (1 - BETA2**state.step) ** 0.5
    state.exp_avg.lerp_(grad, 1 - BETA1)
    state.exp_avg_sq.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
    denom = (state.exp_avg_sq.sqrt() / bias2_sqrt).add_(eps[:, None])
    flat.addcdiv_(state.exp_avg * (-lr / bias1)[:, None], denom)
