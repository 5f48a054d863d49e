"""PPO loss math as pure tensor functions (Baselines ppo2 ``model.py``; TorchRL ``ClipPPOLoss``).

Every function works on tensors of any shape. The ``*_per_agent`` forms take ``[K, B]`` tensors
and per-agent hyper-parameters of shape ``[K]`` and return per-agent losses of shape ``[K]``;
the scalar forms are the contract (docs/design.md §4) and reduce over all elements.
"""

from __future__ import annotations

import torch
from torch import Tensor

from harness.ppo.config import VALUE_CLIP_MODES, clip_range


def mode_code(mode: str) -> int:
    """Integer code of a value-clip mode (index into ``VALUE_CLIP_MODES``)."""
    if mode not in VALUE_CLIP_MODES:
        raise ValueError(f"mode: must be one of {', '.join(VALUE_CLIP_MODES)}, got {mode!r}")
    return VALUE_CLIP_MODES.index(mode)


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, *, mode: str,
               clip_eps: float) -> tuple[Tensor, Tensor]:
    """Value loss and clip fraction, averaged over all elements.

    ``none``: (v-R)^2; ``max``: max((v-R)^2, (v_clip-R)^2) (ppo2, TorchRL ``clip_value``);
    ``clipped``: (v_clip-R)^2 (SB3 ``clip_range_vf``); ``max_signed``: max(v-R, v_clip-R)^2
    (Engstrom et al. 2020's code-for-paper ``steps.py value_loss_gae``, which takes the max
    before squaring); ``v_clip = old + clamp(v-old, -eps, eps)``. No 0.5 factor: the trainer
    applies ppo2's ``0.5 * vf_coef`` outside.
    """
    code = mode_code(mode)
    if code and not clip_eps > 0:
        raise ValueError(f"clip_eps: must be > 0 with mode {mode!r}, got {clip_eps!r}")
    eps = torch.tensor(clip_range(mode, clip_eps), dtype=values.dtype)
    loss, _, clipped, _ = value_loss_elements(values, old_values, returns,
                                              code=torch.tensor(code), clip_eps=eps)
    return loss.mean(), clipped.to(values.dtype).mean()


def value_loss_elements(values: Tensor, old_values: Tensor, returns: Tensor, *, code: Tensor,
                        clip_eps: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Element-wise value loss, plain squared error, clip mask and ``d loss / d values``.

    ``code``/``clip_eps`` broadcast against ``values``; ``clip_eps`` must be +inf where the mode
    is ``none`` (then nothing counts as clipped). ``max`` takes the clipped branch only where it
    is strictly larger, and there it is constant (beyond eps) or equal to the plain one, so its
    gradient is ppo2's: zero where the clipped branch wins. ``torch.where`` routes autograd the
    same way, so the returned gradient is autograd's (``tests/test_update.py`` checks it).
    ``max_signed`` takes the clipped branch where its signed residual is strictly larger, i.e.
    only where v fell more than eps below old: it slows decreases of v and never increases.
    """
    delta = values - old_values
    err_plain = values - returns
    err_clipped = old_values + torch.clamp(delta, -clip_eps, clip_eps) - returns
    loss_plain, loss_clipped = err_plain**2, err_clipped**2
    clipped = delta.abs() > clip_eps
    plain = ((code == 0) | ((code == 1) & (loss_plain >= loss_clipped))
             | ((code == 3) & (err_plain >= err_clipped)))
    loss = torch.where(plain, loss_plain, loss_clipped)
    # clamp passes the gradient inside [-eps, eps] only
    grad = 2 * torch.where(plain, err_plain, torch.where(clipped, 0.0, err_clipped))
    return loss, loss_plain, clipped, grad.detach()


def value_loss_per_agent(values: Tensor, old_values: Tensor, returns: Tensor, *, codes: Tensor,
                         clip_eps: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-agent means over ``[K, B]``: (loss, plain squared error, clip fraction), each ``[K]``,
    and ``d loss[k] / d values[k, b]`` ``[K, B]``.

    ``codes`` ``[K]`` int, ``clip_eps`` ``[K]`` (+inf for ``none``).
    """
    loss, plain, clipped, grad = value_loss_elements(
        values, old_values, returns, code=codes[:, None], clip_eps=clip_eps[:, None])
    return loss.mean(1), plain.mean(1), clipped.to(values.dtype).mean(1), grad / values.shape[1]


def policy_loss(log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, *,
                clip_coef: float | Tensor, dim: int | None = None
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Clipped surrogate (ppo2): mean(max(-A*r, -A*clip(r, 1-c, 1+c))) with diagnostics.

    Returns (loss, clip_fraction = mean(|r-1| > c), approx_kl = 0.5*mean((logp-logp_old)^2),
    d loss / d log_prob), ppo2's definitions. ``dim=None`` reduces everything; ``dim=1`` gives
    per-agent ``[K]`` values for ``[K, B]`` inputs with ``clip_coef`` of shape ``[K, 1]``. The
    gradient is autograd's: -A*r where the unclipped term is the max (a tie means r is inside
    the range), else 0 since the clipped term is then constant in r.
    """
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    surrogate = -advantages * ratio
    surrogate_clipped = -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    unclipped = surrogate >= surrogate_clipped
    loss = torch.where(unclipped, surrogate, surrogate_clipped)
    clipped = ((ratio - 1).abs() > clip_coef).to(ratio.dtype)
    approx_kl = 0.5 * log_ratio.detach() ** 2
    grad = torch.where(unclipped, surrogate, 0.0).detach()  # d(-A*r)/dlogp = -A*r
    if dim is None:
        return loss.mean(), clipped.mean(), approx_kl.mean(), grad / grad.numel()
    return loss.mean(dim), clipped.mean(dim), approx_kl.mean(dim), grad / grad.shape[dim]


def gae(rewards: Tensor, values: Tensor, dones: Tensor, last_values: Tensor, *,
        gamma: float | Tensor, lam: float | Tensor) -> tuple[Tensor, Tensor]:
    """GAE(lambda) advantages and returns over a ``[T, ...]`` rollout (ppo2 ``runner.py``).

    ``dones[t]`` is 1 when the episode ended at step t (the value after it is not bootstrapped);
    ``last_values`` ``[...]`` is V(s_T) for the observation after the rollout. Returns
    ``(advantages, returns = advantages + values)``, both ``[T, ...]``.
    """
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(last_values)
    next_values = last_values
    for t in range(rewards.shape[0] - 1, -1, -1):
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        last_gae = delta + gamma * lam * not_done * last_gae
        advantages[t] = last_gae
        next_values = values[t]
    return advantages, advantages + values


def explained_variance(predictions: Tensor, targets: Tensor, dim: int | None = None) -> Tensor:
    """1 - Var[y - y_pred] / Var[y] (Baselines ``math_util``); NaN where Var[y] == 0."""
    var_y = targets.var(dim=dim, correction=0)
    var_res = (targets - predictions).var(dim=dim, correction=0)
    return torch.where(var_y == 0, torch.full_like(var_y, float("nan")), 1 - var_res / var_y)
