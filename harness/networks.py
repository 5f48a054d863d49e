"""Population actor-critic: K independent agents as stacked weights, run with batched matmuls.

Each layer holds ``W [K, in, out]`` and ``b [K, 1, out]``; an input ``[K, B, in]`` gives
``[K, B, out]`` with one ``baddbmm``, so agent k only ever touches slice k (DESIGN.md §3).
Architecture and init follow ppo2's ``mlp`` policy / CleanRL ``ppo_continuous_action``:
separate policy and value MLPs, tanh, orthogonal init (sqrt 2 hidden, 0.01 policy head,
1.0 value head), zero biases, state-independent log-std initialised at 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

Layer = tuple[Tensor, Tensor]

# Gradients are strided views into one buffer on purpose (see ActorCritic); autograd still
# accumulates into them in place and only warns that it cannot steal them.
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout")


@dataclass
class ActorCritic:
    """Stacked parameters of K agents, stored as one ``[K, P]`` row per agent.

    Every layer tensor is a view into ``flat`` and its ``.grad`` a view into ``grad``, so the
    per-agent gradient clip and Adam run as a few whole-buffer ops instead of one per tensor.
    """

    flat: Tensor
    """``[K, P]`` all parameters of each agent, in ``parameters()`` order."""
    grad: Tensor
    """``[K, P]`` gradients; backward accumulates into it in place, zero it between steps."""
    policy: list[Layer]
    """Policy MLP layers; the last maps to the action mean."""
    value: list[Layer]
    """Value MLP layers; the last maps to one value."""
    log_std: Tensor
    """``[K, 1, act_dim]`` state-independent log standard deviation."""

    def parameters(self) -> list[Tensor]:
        """All parameter views in ``flat`` order."""
        return [t for layer in self.policy + self.value for t in layer] + [self.log_std]

    def select(self, keep: Tensor) -> ActorCritic:
        """The agents at indices ``keep`` (new buffers)."""
        shapes = [p.shape[1:] for p in self.parameters()]
        return from_flat(self.flat[keep].clone(), shapes, len(self.policy))


def from_flat(flat: Tensor, shapes: Sequence[torch.Size], n_policy_layers: int) -> ActorCritic:
    """Views of ``flat [K, P]`` shaped ``[K, *shape]`` each, as leaves with grads in a buffer."""
    grad = torch.zeros_like(flat)
    params, start = [], 0
    for shape in shapes:
        end = start + math.prod(shape)
        p = flat[:, start:end].view(-1, *shape).requires_grad_()
        p.grad = grad[:, start:end].view(-1, *shape)
        params.append(p)
        start = end
    layers = [(params[i], params[i + 1]) for i in range(0, len(params) - 1, 2)]
    return ActorCritic(flat, grad, layers[:n_policy_layers], layers[n_policy_layers:],
                       params[-1])


def init_actor_critic(generators: Sequence[torch.Generator], obs_dim: int, act_dim: int,
                      hidden_sizes: Sequence[int]) -> ActorCritic:
    """Orthogonally initialised networks, agent k drawn from ``generators[k]`` only."""
    sizes = [obs_dim, *hidden_sizes]
    hidden_gains = [math.sqrt(2)] * len(hidden_sizes)
    policy = _init_mlp(generators, [*sizes, act_dim], [*hidden_gains, 0.01])
    value = _init_mlp(generators, [*sizes, 1], [*hidden_gains, 1.0])
    log_std = torch.zeros(len(generators), 1, act_dim)
    params = [t for layer in policy + value for t in layer] + [log_std]
    flat = torch.cat([p.reshape(len(generators), -1) for p in params], 1)
    return from_flat(flat, [p.shape[1:] for p in params], len(policy))


def _init_mlp(generators: Sequence[torch.Generator], sizes: Sequence[int],
              gains: Sequence[float]) -> list[Layer]:
    layers = []
    for (n_in, n_out), gain in zip(zip(sizes[:-1], sizes[1:], strict=True), gains, strict=True):
        weights = []
        for g in generators:
            w = torch.empty(n_out, n_in)  # torch's [out, in] layout, as nn.Linear
            torch.nn.init.orthogonal_(w, gain=gain, generator=g)
            weights.append(w.T)
        weight = torch.stack(weights)
        bias = torch.zeros(len(generators), 1, n_out)
        layers.append((weight, bias))
    return layers


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1, within 2e-7 of ``torch.tanh``.

    torch 2.13's CPU ``tanh`` kernel is ~3x slower than ``sigmoid`` on [K, 64, 64] batches and
    was the largest single cost of the update (bench profile, 2026-11).
    """
    return torch.sigmoid(x * 2) * 2 - 1


def mlp(layers: Sequence[Layer], x: Tensor) -> Tensor:
    """Apply a stacked tanh MLP: ``[K, B, in] -> [K, B, out]`` (no activation on the head)."""
    for i, (weight, bias) in enumerate(layers):
        x = torch.baddbmm(bias, x, weight)
        if i < len(layers) - 1:
            x = tanh(x)
    return x


def numpy_layers(layers: Sequence[Layer]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous numpy copies of stacked layers, for acting (see ``numpy_mlp``)."""
    return [(w.detach().numpy().copy(), b.detach().numpy().copy()) for w, b in layers]


def numpy_mlp(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """``mlp`` in numpy, for the one-observation-per-agent forward of every env step.

    Between MuJoCo steps the caches are cold and a batched torch matmul of one row per agent
    costs ~60 us; numpy's per-matrix loop is ~4x cheaper there (profiled on Hopper-v5, K=16).
    """
    for i, (weight, bias) in enumerate(layers):
        x = np.matmul(x, weight) + bias
        if i < len(layers) - 1:
            x = np.tanh(x)
    return x


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_prob(actions: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Log-density of a diagonal Gaussian, summed over the last (action) dimension."""
    return noise_log_prob((actions - mean) * torch.exp(-log_std), log_std)


def noise_log_prob(z: Tensor, log_std: Tensor) -> Tensor:
    """Log-density of ``mean + std * z`` under N(mean, std^2), summed over the last dimension."""
    return (-0.5 * z * z - log_std - LOG_SQRT_2PI).sum(-1)


def gaussian_entropy(log_std: Tensor) -> Tensor:
    """Entropy of a diagonal Gaussian, summed over the last dimension."""
    return (0.5 + LOG_SQRT_2PI + log_std).sum(-1)
