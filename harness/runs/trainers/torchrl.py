"""``trainer: torchrl``: PPO written as a TorchRL user would (their PPO tutorial's parts:
``GymWrapper`` around ``gym.make``, as ``GymEnv`` builds it, + ``TransformedEnv``, a collector
(``Collector``, 0.14's ``SyncDataCollector``), ``GAE``, ``ClipPPOLoss``, a replay buffer for
minibatches) with ppo2's settings wherever TorchRL allows (docs/design.md §7 lists what still
differs). A Dict observation is flattened first, as the harness's trainer sees it.

``value_clip: max`` is ``ClipPPOLoss(clip_value=vf_clip_eps)`` (Baselines' max form,
torchrl/objectives/utils.py ``_clip_value_loss``), ``none`` is ``clip_value=None``;
validation refuses the other modes (``trainers.MODES``). Diagnostics come from the loss's
own output (``value_clip_fraction``, ``clip_fraction``, ``kl_approx``, ``entropy``,
``explained_variance``), averaged over an update's minibatches.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import Collector
from torchrl.data import LazyTensorStorage, ReplayBuffer, SamplerWithoutReplacement
from torchrl.envs import (
    ClipTransform,
    DoubleToFloat,
    GymWrapper,
    RewardSum,
    StepCounter,
    Transform,
    TransformedEnv,
    VecNorm,
)
from torchrl.modules import IndependentNormal, ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

from harness.ppo.observations import flattened
from harness.runs.trainers.contract import Log, Run

LOSS_KEYS = {"policy_loss": "loss_objective", "clip_fraction": "clip_fraction",
             "value_clip_fraction": "value_clip_fraction", "approx_kl": "kl_approx",
             "entropy": "entropy", "explained_variance": "explained_variance"}
"""Our column -> ClipPPOLoss's output key (``value_loss`` is ``loss_critic / critic_coeff``)."""


class ReturnScaling(Transform):
    """ppo2's reward scaling, which TorchRL has no transform for: divide each reward by the
    running std of the discounted return (baselines/common/vec_env/vec_normalize.py: its
    ``RunningMeanStd(epsilon=1e-4)``, ``var + 1e-8``, clip +-10, the return reset at done)."""

    def __init__(self, gamma: float, clip: float = 10.0) -> None:
        super().__init__(in_keys=["reward"], out_keys=["reward"])
        self.gamma, self.clip = gamma, clip
        self.ret, self.mean, self.var, self.count = 0.0, 0.0, 1.0, 1e-4

    def _step(self, tensordict: TensorDictBase,
              next_tensordict: TensorDictBase) -> TensorDictBase:
        reward = next_tensordict["reward"]
        self.ret = self.ret * self.gamma + float(reward.sum())
        # one-sample update of the running mean and variance (Chan et al., as Baselines)
        delta, total = self.ret - self.mean, self.count + 1
        self.var = (self.var * self.count + delta**2 * self.count / total) / total
        self.mean, self.count = self.mean + delta / total, total
        scaled = (reward / math.sqrt(self.var + 1e-8)).clamp(-self.clip, self.clip)
        next_tensordict.set("reward", scaled)
        if bool(next_tensordict["done"].any()):
            self.ret = 0.0
        return next_tensordict


class ActionClip(Transform):
    """ppo2's ``np.clip(action, low, high)`` per dimension on the way into the env (TorchRL's
    ``ClipTransform`` takes scalar bounds only: Hopper's 3 actions were refused)."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor) -> None:
        super().__init__(in_keys=[], out_keys=[], in_keys_inv=["action"],
                         out_keys_inv=["action"])
        self.register_buffer("low", torch.as_tensor(low))
        self.register_buffer("high", torch.as_tensor(high))

    def _inv_apply_transform(self, action: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(action, self.low), self.high)


def make_env(run: Run) -> TransformedEnv:
    """The env with ppo2's wrappers as TorchRL transforms. ``RewardSum`` and ``StepCounter``
    come before the scaling, so episodes report the raw return."""
    cfg = run.config
    # GymEnv's own make, with a Dict observation flattened as the harness's trainer sees it
    base = GymWrapper(flattened(gym.make(run.env_id, **run.env_kwargs)), device="cpu")
    spec = base.action_spec
    env = TransformedEnv(base, DoubleToFloat())
    # ppo2 clips actions to the space before stepping; the stored action stays unclipped
    env.append_transform(ActionClip(spec.space.low, spec.space.high))
    env.append_transform(RewardSum())
    env.append_transform(StepCounter())
    if cfg["normalize_obs"]:
        # decay 1: every observation weighs the same, as ppo2's RunningMeanStd
        env.append_transform(VecNorm(in_keys=["observation"], decay=1.0, eps=1e-8,
                                     new_api=True))
        env.append_transform(ClipTransform(in_keys=["observation"], low=-10.0, high=10.0))
    if cfg["normalize_reward"]:
        env.append_transform(ReturnScaling(cfg["gamma"]))
    env.set_seed(run.seed)
    return env


def make_modules(env: TransformedEnv, hidden: list[int]) -> tuple[ProbabilisticActor,
                                                                   ValueOperator]:
    """Separate tanh MLPs with ppo2's orthogonal init and a state-independent log-std at 0."""
    n_obs = env.observation_spec["observation"].shape[-1]
    n_act = env.action_spec.shape[-1]
    actor = GaussianHead(mlp(n_obs, hidden, n_act, last_gain=0.01))
    policy = ProbabilisticActor(
        TensorDictModule(actor, in_keys=["observation"], out_keys=["loc", "scale"]),
        in_keys=["loc", "scale"], spec=env.action_spec, distribution_class=IndependentNormal,
        distribution_kwargs={"tanh_loc": False}, return_log_prob=True)
    critic = ValueOperator(mlp(n_obs, hidden, 1, last_gain=1.0), in_keys=["observation"])
    return policy, critic


class GaussianHead(nn.Module):
    """loc from an MLP, scale = exp(log_std), one learned log-std per action dim."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.log_std = nn.Parameter(torch.zeros(net[-1].out_features))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc = self.net(obs)
        return loc, self.log_std.exp().expand_as(loc)


def mlp(n_in: int, hidden: list[int], n_out: int, last_gain: float) -> nn.Sequential:
    """tanh MLP, orthogonal weights (gain sqrt 2, ``last_gain`` for the head), zero biases."""
    sizes = [n_in, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [_orthogonal(nn.Linear(a, b), math.sqrt(2)), nn.Tanh()]
    return nn.Sequential(*layers, _orthogonal(nn.Linear(sizes[-1], n_out), last_gain))


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def train(run: Run, log: Log) -> None:
    """Train ``run``: rollout -> GAE once -> epochs of shuffled minibatches -> log."""
    torch.set_num_threads(1)  # one core per worker, as the harness trainer
    torch.manual_seed(run.seed)
    cfg = run.config
    env = make_env(run)
    policy, critic = make_modules(env, list(cfg["hidden_sizes"]))
    n_updates = run.total_steps // cfg["num_steps"]
    collector = Collector(env, policy, frames_per_batch=cfg["num_steps"],
                                  total_frames=n_updates * cfg["num_steps"], device="cpu",
                                  auto_register_policy_transforms=False)  # no RNN state
    advantage = GAE(gamma=cfg["gamma"], lmbda=cfg["gae_lambda"], value_network=critic,
                    average_gae=False)
    loss = ClipPPOLoss(policy, critic, clip_epsilon=cfg["clip_coef"], entropy_bonus=True,
                       entropy_coeff=cfg["ent_coef"], critic_coeff=0.5 * cfg["vf_coef"],
                       loss_critic_type="l2", normalize_advantage=cfg["norm_adv"],
                       clip_value=cfg["vf_clip_eps"] if cfg["value_clip"] == "max" else None)
    buffer = ReplayBuffer(storage=LazyTensorStorage(cfg["num_steps"]),
                          sampler=SamplerWithoutReplacement(),
                          batch_size=cfg["num_steps"] // cfg["num_minibatches"])
    optim = torch.optim.Adam(loss.parameters(), lr=cfg["learning_rate"], eps=cfg["adam_eps"])
    for update, batch in enumerate(collector, start=1):
        # ppo2: lr = lr0 * (1 - (update - 1) / n_updates), set once per update
        frac = 1.0 - (update - 1) / n_updates if cfg["anneal_lr"] else 1.0
        for group in optim.param_groups:
            group["lr"] = cfg["learning_rate"] * frac
        _log_episodes(batch, (update - 1) * cfg["num_steps"], log)
        if cfg["truncation"] == "terminal":  # ppo2 treats time limits as deaths
            batch["next", "terminated"] = batch["next", "done"].clone()
        with torch.no_grad():  # once per rollout: old values and advantages stay fixed
            advantage(batch)
        stats = _update(batch, buffer, loss, optim, cfg)
        log.update(global_step=update * cfg["num_steps"],
                   learning_rate=optim.param_groups[0]["lr"], **stats)
    collector.shutdown()


def _update(batch: TensorDict, buffer: ReplayBuffer, loss: ClipPPOLoss,
            optim: torch.optim.Optimizer, cfg: dict[str, Any]) -> dict[str, float]:
    """``update_epochs`` passes of ``num_minibatches`` shuffled minibatches; the loss's
    diagnostics averaged over them."""
    buffer.empty()  # the rollout's samples only; each epoch is one permutation of them
    buffer.extend(batch.reshape(-1))
    sums: dict[str, float] = {}
    n = cfg["update_epochs"] * cfg["num_minibatches"]
    for _ in range(n):
        out = loss(buffer.sample())
        total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
        optim.zero_grad()
        total.backward()
        nn.utils.clip_grad_norm_(loss.parameters(), cfg["max_grad_norm"])
        optim.step()
        out = out.detach()
        row = {col: float(value) for col, key in LOSS_KEYS.items()
               if (value := out.get(key, None)) is not None}
        row["value_loss"] = float(out["loss_critic"]) / float(loss.critic_coeff)
        for col, value in row.items():
            sums[col] = sums.get(col, 0.0) + value
    return {col: value / n for col, value in sums.items()}


def _log_episodes(batch: TensorDict, start: int, log: Log) -> None:
    """The episodes that ended in ``batch`` (the raw return summed by ``RewardSum``)."""
    done = batch["next", "done"].reshape(-1)
    returns = batch["next", "episode_reward"].reshape(-1)
    lengths = batch["next", "step_count"].reshape(-1)
    for i in done.nonzero().flatten().tolist():
        log.episode(global_step=start + i + 1, episode_return=float(returns[i]),
                    episode_length=int(lengths[i]))
