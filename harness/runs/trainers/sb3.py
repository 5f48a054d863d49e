"""``trainer: sb3``: Stable-Baselines3's PPO with ppo2's settings and rl-zoo3's MuJoCo
VecNormalize, logging through a callback (docs/design.md §7 lists what still differs).

``value_clip: clipped`` is SB3's ``clip_range_vf=vf_clip_eps`` (the MSE of the clipped
prediction alone, stable_baselines3/ppo/ppo.py ``values_pred``), ``none`` is
``clip_range_vf=None``; validation refuses the other modes (``trainers.MODES``).
"""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from harness.ppo.observations import flattened
from harness.runs.trainers.contract import Log, Run

UPDATE_KEYS = {"value_loss": "train/value_loss", "clip_fraction": "train/clip_fraction",
               "approx_kl": "train/approx_kl", "explained_variance": "train/explained_variance",
               "learning_rate": "train/learning_rate",
               "policy_loss": "train/policy_gradient_loss"}
"""Our column -> the value SB3's ``PPO.train`` records in its logger."""


class LogCallback(BaseCallback):
    """Episodes from Monitor's ``info["episode"]`` at each step; an ``updates`` row from the
    logger's values of the last ``train()`` (recorded, not yet dumped: ``learn`` dumps before
    training, stable_baselines3/common/on_policy_algorithm.py) when the next rollout starts
    and when training ends."""

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log
        self.rollouts = 0

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:  # Monitor sits under VecNormalize: the raw return
                self.log.episode(global_step=self.num_timesteps,
                                 episode_return=float(info["episode"]["r"]),
                                 episode_length=int(info["episode"]["l"]))
        return True

    def _on_rollout_start(self) -> None:
        if self.rollouts:
            self._log_update()
        self.rollouts += 1

    def _on_training_end(self) -> None:
        self._log_update()

    def _log_update(self) -> None:
        values = self.logger.name_to_value
        row = {column: float(values[key]) for column, key in UPDATE_KEYS.items() if key in values}
        # SB3 logs -mean(entropy) as its entropy loss
        row["entropy"] = -float(values["train/entropy_loss"])
        self.log.update(global_step=self.num_timesteps, **row)


def train(run: Run, log: Log) -> None:
    """Train ``run`` with SB3's PPO."""
    torch.set_num_threads(1)  # one core per worker, as the harness trainer
    cfg = run.config
    env = VecNormalize(make_vec_env(run.env_id, n_envs=1, seed=run.seed,
                                    env_kwargs=run.env_kwargs, wrapper_class=flattened),
                       norm_obs=cfg["normalize_obs"], norm_reward=cfg["normalize_reward"],
                       clip_obs=10.0, clip_reward=10.0, gamma=cfg["gamma"])
    model = PPO("MlpPolicy", env, seed=run.seed, device="cpu", verbose=0, **ppo_kwargs(cfg))
    model.learn(total_timesteps=run.total_steps, callback=LogCallback(log))
    env.close()


def ppo_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """SB3 ``PPO`` arguments equal to ppo2's for the resolved config ``cfg``."""
    lr = cfg["learning_rate"]
    hidden = list(cfg["hidden_sizes"])
    return {
        "n_steps": cfg["num_steps"], "batch_size": cfg["num_steps"] // cfg["num_minibatches"],
        "n_epochs": cfg["update_epochs"],
        # progress_remaining goes 1 -> 0 over training (SB3's linear schedule, rl-zoo3 lin_)
        "learning_rate": (lambda progress: lr * progress) if cfg["anneal_lr"] else lr,
        "gamma": cfg["gamma"], "gae_lambda": cfg["gae_lambda"], "clip_range": cfg["clip_coef"],
        "clip_range_vf": cfg["vf_clip_eps"] if cfg["value_clip"] == "clipped" else None,
        "normalize_advantage": cfg["norm_adv"], "ent_coef": cfg["ent_coef"],
        # ppo2 minimises 0.5 * vf_coef * MSE; SB3 vf_coef * MSE (ppo.py ``loss = ...``)
        "vf_coef": 0.5 * cfg["vf_coef"], "max_grad_norm": cfg["max_grad_norm"],
        "policy_kwargs": {"net_arch": {"pi": hidden, "vf": hidden},
                          "activation_fn": torch.nn.Tanh, "log_std_init": 0.0,
                          "ortho_init": True,
                          "optimizer_kwargs": {"eps": cfg["adam_eps"]}},
    }
