"""Per-agent gradient clipping and Adam on stacked ``[K, P]`` parameters.

torch.optim.Adam takes one scalar step size; variants may differ in learning rate (and
annealing), so each group of agents sharing a step size and epsilon gets its own call of the
fused CPU Adam kernel that ``torch.optim.Adam(fused=True)`` calls (one pass over memory where
the op-by-op form took eight: the update's largest cost after the matmuls, bench profile
2026-12). The update is torch.optim.Adam's (CleanRL's optimizer); ppo2 uses TF's Adam, which
differs only in where epsilon enters.
"""

from __future__ import annotations

from collections import defaultdict
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

    ``tf.clip_by_global_norm`` (ppo2): g * max_norm / max(norm, max_norm), no epsilon. Each
    row's norm is one reduction over that row alone, so it does not depend on the pack.
    """
    norm = torch.linalg.vector_norm(grad, dim=1)
    grad.mul_((max_norm / torch.maximum(norm, max_norm))[:, None])
    return norm


def adam_step(flat: Tensor, grad: Tensor, state: AdamState, lr: Tensor, eps: Tensor) -> None:
    """One Adam step on ``flat [K, P]`` with per-agent step size ``lr [K]`` and ``eps [K]``.

    The kernel is element-wise and every agent's row starts on a 128-byte boundary and spans a
    multiple of 32 floats (``networks.ALIGN``), so each element takes the same vector code
    whatever the pack: an agent's numbers do not depend on its pack-mates.
    """
    state.step += 1
    step = torch.tensor(float(state.step))
    rows = [t.unbind(0) for t in (flat, grad, state.exp_avg, state.exp_avg_sq)]
    groups: dict[tuple[float, float], list[int]] = defaultdict(list)
    for k, key in enumerate(zip(lr.tolist(), eps.tolist(), strict=True)):
        groups[key].append(k)
    for (step_size, epsilon), agents in groups.items():
        params, grads, exp_avgs, exp_avg_sqs = ([t[k] for k in agents] for t in rows)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], [step] * len(agents),
                           lr=step_size, beta1=BETA1, beta2=BETA2, weight_decay=0.0,
                           eps=epsilon, amsgrad=False, maximize=False)
