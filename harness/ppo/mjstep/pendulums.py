"""Rules of InvertedPendulum-v5 and InvertedDoublePendulum-v5: rewarded for staying up.

Line numbers cite gymnasium 1.4's ``gymnasium/envs/mujoco/inverted_*_v5.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from harness.ppo.mjstep.rules import Captured, Outcome, read_rules


@dataclass(frozen=True)
class InvertedPendulumRules:
    """InvertedPendulum-v5 (inverted_pendulum_v5.py:157-189): no constructor argument enters."""

    before: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    contact_forces: ClassVar[bool] = False

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules (the same for every InvertedPendulum)."""
        return cls()

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation``: ends when the pole leaves ±0.2 rad or goes NaN."""
        obs = np.concatenate((post["qpos"], post["qvel"]), axis=1)
        terminated = ~np.isfinite(obs).all(1) | (np.abs(obs[:, 1]) > 0.2)
        return obs, (~terminated).astype(np.float64), terminated  # reward = int(not terminated)


@dataclass(frozen=True)
class InvertedDoublePendulumRules:
    """InvertedDoublePendulum-v5 (inverted_double_pendulum_v5.py:180-220): ends when the
    pole's tip (site 0) falls to y <= 1."""

    before: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "site_xpos", "qfrc_constraint")
    contact_forces: ClassVar[bool] = False

    healthy_reward: float

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env)

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` and ``_get_rew`` after ``do_simulation``, then ``_get_obs``."""
        qpos, qvel = post["qpos"], post["qvel"]
        x, y = post["site_xpos"][:, 0, 0], post["site_xpos"][:, 0, 2]
        terminated = y <= 1
        v1, v2 = qvel[:, 1], qvel[:, 2]
        dist_penalty = 0.01 * x**2 + (y - 2) ** 2
        vel_penalty = 0.001 * v1**2 + 0.005 * v2**2
        alive_bonus = self.healthy_reward * ~terminated  # healthy_reward * int(not terminated)
        obs = np.concatenate((qpos[:, :1], np.sin(qpos[:, 1:]), np.cos(qpos[:, 1:]),
                              np.clip(qvel, -10, 10),
                              np.clip(post["qfrc_constraint"], -10, 10)[:, :1]), axis=1)
        return obs, alive_bonus - dist_penalty - vel_penalty, terminated
