"""Population actor-critic: K independent agents as stacked weights, run with batched matmuls.

Each layer holds ``W [K, in, out]`` and ``b [K, 1, out]``; an input ``[K, B, in]`` gives
``[K, B, out]`` with one ``baddbmm``, so agent k only ever touches slice k (docs/design.md §3).
Architecture and init follow ppo2's ``mlp`` policy / CleanRL ``ppo_continuous_action``:
separate policy and value MLPs, tanh, orthogonal init (sqrt 2 hidden, 0.01 policy head,
1.0 value head), zero biases, state-independent log-std initialised at 0. For a ``Discrete``
action space the policy head gives the logits of a categorical instead and there is no log-std
(ppo2 ``CategoricalPdType``, CleanRL ``ppo.py``: the same 0.01 head).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

Layer = tuple[Tensor, Tensor]

ALIGN = 32
"""Floats from one agent's block to the next in parameter and activation buffers.

An agent's numbers must not depend on its slot in the pack (design §3), but two CPU kernels
look at more than the agent's own numbers. MKL's gemm picks its code path, and so its
rounding, from each matrix's address modulo 16 bytes or more: with agent k's parameters at
``k * P`` floats, a run's numbers depended on its slot (InvertedPendulum-v5: 4e-5 relative
after 8 updates). torch's vectorised element-wise kernels (tanh) compute the last elements
of a contiguous run that do not fill a vector with a scalar formula, which may round one ulp
away from the vector one. Blocks a multiple of 32 floats
(128 bytes) apart in torch's 64-byte aligned allocations give every agent the same alignment
and the same vector/scalar split.
"""
BLOCK_BYTES = 64
"""Address alignment of every agent block: that of torch's CPU allocations (c10 ``gAlignment``)."""


@dataclass
class ActorCritic:
    """Stacked parameters of K agents, stored as one ``[K, P]`` row per agent.

    Every layer tensor is a view into ``flat`` and its gradient a view into ``grad``, so the
    per-agent gradient clip and Adam run as a few whole-buffer ops instead of one per tensor.
    No autograd: ``harness.ppo.update`` writes the gradient with ``mlp_backward``.
    """

    flat: Tensor
    """``[K, P]`` all parameters of each agent, in ``parameters()`` order."""
    grad: Tensor
    """``[K, P]`` gradients, laid out like ``flat``."""
    policy: list[Layer]
    """Policy MLP layers; the last maps to the action mean (Gaussian) or the logits
    (categorical)."""
    value: list[Layer]
    """Value MLP layers; the last maps to one value."""
    log_std: Tensor | None
    """``[K, 1, act_dim]`` state-independent log standard deviation; None for a categorical
    policy."""
    policy_grad: list[Layer]
    """Views of ``grad`` shaped like ``policy``."""
    value_grad: list[Layer]
    """Views of ``grad`` shaped like ``value``."""
    log_std_grad: Tensor | None
    """View of ``grad`` shaped like ``log_std``; None for a categorical policy."""

    @property
    def discrete(self) -> bool:
        """Whether the policy is categorical (the policy head gives logits)."""
        return self.log_std is None

    def parameters(self) -> list[Tensor]:
        """All parameter views in ``flat`` order."""
        layers = [t for layer in self.policy + self.value for t in layer]
        return layers if self.log_std is None else [*layers, self.log_std]

    def select(self, keep: Tensor) -> ActorCritic:
        """The agents at indices ``keep`` (new buffers)."""
        shapes = [p.shape[1:] for p in self.parameters()]
        return from_flat(self.flat[keep].clone(), shapes, len(self.policy))


def from_flat(flat: Tensor, shapes: Sequence[torch.Size], n_policy_layers: int) -> ActorCritic:
    """An ``ActorCritic`` over ``flat [K, row_size(shapes)]``, with a zero gradient buffer of the
    same layout. ``shapes``: each layer's weight and bias, policy first, then the log-std for a
    Gaussian policy (an odd count) or nothing for a categorical one (an even count)."""
    grad = torch.zeros_like(flat)
    params, grads = _views(flat, shapes), _views(grad, shapes)
    n_layer_tensors = len(shapes) - len(shapes) % 2
    layers, grad_layers = _pairs(params[:n_layer_tensors]), _pairs(grads[:n_layer_tensors])
    log_std, log_std_grad = (params[-1], grads[-1]) if len(shapes) % 2 else (None, None)
    return ActorCritic(flat, grad, layers[:n_policy_layers], layers[n_policy_layers:], log_std,
                       grad_layers[:n_policy_layers], grad_layers[n_policy_layers:], log_std_grad)


def row_size(shapes: Sequence[torch.Size]) -> int:
    """Floats per agent in a parameter buffer: each tensor's block padded to ``ALIGN``."""
    return sum(_padded(math.prod(shape)) for shape in shapes)


def _padded(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _views(buffer: Tensor, shapes: Sequence[torch.Size]) -> list[Tensor]:
    """Column blocks of ``buffer [K, row_size(shapes)]``, ``ALIGN``-padded, as ``[K, *shape]``."""
    views, start = [], 0
    for shape in shapes:
        n = math.prod(shape)
        views.append(buffer[:, start:start + n].view(-1, *shape))
        start += _padded(n)
    return views


def _pairs(tensors: list[Tensor]) -> list[Layer]:
    """(weight, bias) pairs of a list of layer tensors."""
    return [(tensors[i], tensors[i + 1]) for i in range(0, len(tensors), 2)]


def init_actor_critic(generators: Sequence[torch.Generator], obs_dim: int, act_dim: int,
                      hidden_sizes: Sequence[int], *, discrete: bool = False) -> ActorCritic:
    """Orthogonally initialised networks, agent k drawn from ``generators[k]`` only.

    ``act_dim``: the action's dimensions, or with ``discrete`` the number of actions (a
    categorical policy: the head gives one logit per action, and there is no log-std)."""
    sizes = [obs_dim, *hidden_sizes]
    hidden_gains = [math.sqrt(2)] * len(hidden_sizes)
    policy = _init_mlp(generators, [*sizes, act_dim], [*hidden_gains, 0.01])
    value = _init_mlp(generators, [*sizes, 1], [*hidden_gains, 1.0])
    params = [t for layer in policy + value for t in layer]
    if not discrete:
        params.append(torch.zeros(len(generators), 1, act_dim))  # log-std
    shapes = [p.shape[1:] for p in params]
    flat = torch.zeros(len(generators), row_size(shapes))  # the padding stays 0
    for view, param in zip(_views(flat, shapes), params, strict=True):
        view.copy_(param)
    return from_flat(flat, shapes, len(policy))


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


def agent_empty(k: int, *shape: int) -> Tensor:
    """Uninitialised ``[k, *shape]`` whose agent blocks start a multiple of ``ALIGN`` floats
    apart, with at least one float of padding between them.

    The padding keeps the buffer non-contiguous, so a ``bmm``/``baddbmm`` writing into it runs
    one MKL gemm per agent, whatever K. Into a contiguous output torch calls MKL's batched gemm
    instead, except for a batch of one, and the two round gemv-like products (one output
    column: the value head) differently: a run alone differed from the same run in a pack.
    """
    n = math.prod(shape)
    return torch.empty(k, _padded(n + 1))[:, :n].view(k, *shape)


def agent_aligned(x: Tensor) -> Tensor:
    """``x [K, ...]``, or a copy laid out by ``agent_empty`` if its agent blocks are not."""
    if x.data_ptr() % BLOCK_BYTES == 0 and x.stride(0) % ALIGN == 0:
        return x
    return agent_empty(*x.shape).copy_(x)


def mlp_forward(layers: Sequence[Layer], x: Tensor) -> list[Tensor]:
    """Stacked tanh MLP on ``[K, B, in]``: the input of every layer, then the output
    ``[K, B, out]`` (no activation on the head). ``mlp_backward`` needs them all.

    Every matmul operand is ``ALIGN``-laid (``agent_empty``), so agent k's numbers do not
    depend on k or K."""
    acts = [agent_aligned(x)]
    for i, (weight, bias) in enumerate(layers):
        k, batch = acts[-1].shape[:2]
        z = torch.baddbmm(bias, acts[-1], weight, out=agent_empty(k, batch, weight.shape[2]))
        # in place on agent_empty blocks: the kernel's scalar tail (numel % vector width)
        # then falls on the same elements of every agent (ALIGN)
        acts.append(z.tanh_() if i < len(layers) - 1 else z)
    return acts


def mlp_backward(layers: Sequence[Layer], acts: Sequence[Tensor], grad_out: Tensor,
                 grads: Sequence[Layer]) -> None:
    """Backpropagate ``grad_out = dL/d output`` through ``mlp_forward``'s MLP, writing dL/dW
    and dL/db into ``grads``; agent k's rows depend on agent k's tensors alone (and, with
    ``mlp_forward``'s layout, not on k or K either)."""
    g = agent_aligned(grad_out)
    for i in range(len(layers) - 1, -1, -1):
        (weight, _), (grad_w, grad_b), h = layers[i], grads[i], acts[i]
        torch.bmm(h.transpose(1, 2), g, out=grad_w)
        torch.sum(g, 1, keepdim=True, out=grad_b)
        if i:
            g = torch.bmm(g, weight.transpose(1, 2), out=agent_empty(*h.shape))
            # g * (1 - h^2), tanh's derivative, in one pass: autograd's own kernel
            torch.ops.aten.tanh_backward(g, h, grad_input=g)


def numpy_layers(layers: Sequence[Layer]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous numpy copies of stacked layers, for acting (see ``numpy_mlp``)."""
    return [(w.numpy().copy(), b.numpy().copy()) for w, b in layers]


def numpy_mlp(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """``mlp_forward``'s output in numpy, for the one-row-per-agent forward of every env step.

    Between MuJoCo steps the caches are cold and a batched torch matmul of one row per agent
    costs ~60 us; numpy's per-matrix loop is ~4x cheaper there (profiled on Hopper-v5, K=16).
    """
    for i, (weight, bias) in enumerate(layers):
        x = np.matmul(x, weight) + bias
        if i < len(layers) - 1:
            x = np.tanh(x)
    return x


def deterministic_action(policy: Sequence[tuple[np.ndarray, np.ndarray]], obs: np.ndarray,
                         discrete: bool) -> np.ndarray:
    """The action each agent takes without exploration on ``obs [K, obs_dim]`` (evaluation,
    replay): ``[K, act_dim]`` the Gaussian's mean, which the env clips to its bounds as it
    does a sampled action, or ``[K]`` the categorical's most likely action (the argmax of its
    logits, as rl-zoo3's deterministic evaluation). ``policy``: ``numpy_layers``."""
    out = numpy_mlp(policy, obs[:, None])[:, 0]
    return out.argmax(-1) if discrete else out


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


def categorical_log_probs(logits: Tensor) -> Tensor:
    """``[..., n]`` log-probability of every action of the categoricals with ``logits [..., n]``
    (ppo2 ``CategoricalPd.neglogp`` is minus the taken action's).

    torch's log-softmax works row by row over the last dimension, so a row's numbers do not
    depend on the rows around it (nor an agent's on its pack-mates)."""
    return torch.log_softmax(logits, -1)


def categorical_entropy(probs: Tensor, log_probs: Tensor) -> Tensor:
    """Entropy ``-sum(p log p)`` over the last dimension of ``[..., n]`` probabilities and their
    logs (ppo2 ``CategoricalPd.entropy``)."""
    return -(probs * log_probs).sum(-1)
