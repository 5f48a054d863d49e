"""Rules of the v5 runners: Hopper, Walker2d, HalfCheetah, Swimmer and Ant.

Line numbers cite gymnasium 1.4's ``gymnasium/envs/mujoco/*_v5.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from harness.ppo.mjstep.rules import (
    Captured,
    Outcome,
    action_cost,
    positions,
    read_rules,
    strictly_within,
    sum_squares,
)


@dataclass(frozen=True)
class ForwardRules:
    """HalfCheetah-v5: rewarded for x velocity, charged for control, never terminates."""

    before: ClassVar[tuple[str, ...]] = ("qpos",)
    after: ClassVar[tuple[str, ...]] = ("qpos", "qvel")
    contact_forces: ClassVar[bool] = False
    skipped: ClassVar[int] = 1
    """Leading ``qpos`` entries (the position) that the observation may exclude."""

    dt: float
    forward_reward_weight: float
    ctrl_cost_weight: float
    exclude_current_positions_from_observation: bool

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env, dt=env.dt)

    def x_velocity(self, pre: Captured, post: Captured) -> np.ndarray:
        """``(x_after - x_before) / dt`` with x = ``qpos[0]``, ``[K]`` (half_cheetah_v5.py:228)."""
        return (post["qpos"][:, 0] - pre["qpos"][:, 0]) / self.dt

    def observation(self, post: Captured) -> np.ndarray:
        """``_get_obs`` (half_cheetah_v5.py:251), ``[K, obs_dim]``."""
        position = positions(post["qpos"], self.exclude_current_positions_from_observation,
                             self.skipped)
        return np.concatenate((position, self.velocity(post["qvel"])), axis=1)

    def velocity(self, qvel: np.ndarray) -> np.ndarray:
        """The observed ``qvel [K, nv]``: as it is."""
        return qvel

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation`` (half_cheetah_v5.py:224-259)."""
        reward = (self.forward_reward_weight * self.x_velocity(pre, post)
                  - action_cost(self.ctrl_cost_weight, actions))
        return self.observation(post), reward, np.zeros(len(actions), dtype=bool)


@dataclass(frozen=True)
class SwimmerRules(ForwardRules):
    """Swimmer-v5 (swimmer_v5.py:220-269): HalfCheetah's formulas; its position is x and y."""

    skipped: ClassVar[int] = 2


@dataclass(frozen=True)
class Walker2dRules(ForwardRules):
    """Walker2d-v5 (walker2d_v5.py:254-320): a forward runner that stays healthy."""

    healthy_reward: float
    terminate_when_unhealthy: bool
    healthy_z_range: tuple[float, float]
    healthy_angle_range: tuple[float, float]

    def healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """``is_healthy`` of ``qpos [K, nq]``: z and angle strictly inside their ranges."""
        return (strictly_within(self.healthy_z_range, qpos[:, 1])
                & strictly_within(self.healthy_angle_range, qpos[:, 2]))

    def velocity(self, qvel: np.ndarray) -> np.ndarray:
        """The observed ``qvel``: clipped to ±10 (hopper_v5.py:273, walker2d_v5.py:274)."""
        return np.clip(qvel, -10, 10)

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation`` (hopper_v5.py:283-320, walker2d_v5.py:284-320)."""
        healthy = self.healthy(post["qpos"], post["qvel"])
        reward = (self.forward_reward_weight * self.x_velocity(pre, post)
                  + healthy * self.healthy_reward - action_cost(self.ctrl_cost_weight, actions))
        return self.observation(post), reward, ~healthy & bool(self.terminate_when_unhealthy)


@dataclass(frozen=True)
class HopperRules(Walker2dRules):
    """Hopper-v5 (hopper_v5.py:249-320): Walker2d's, with every state entry bounded too."""

    healthy_state_range: tuple[float, float]

    def healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """``is_healthy``: ``state_vector()[2:]`` (qvel unclipped), z and angle in range."""
        state = np.concatenate((qpos[:, 2:], qvel), axis=1)
        return strictly_within(self.healthy_state_range, state).all(1) & super().healthy(qpos, qvel)


@dataclass(frozen=True)
class AntRules:
    """Ant-v5 (ant_v5.py:320-405): the main body's x velocity, contact forces clipped."""

    before: ClassVar[tuple[str, ...]] = ("xpos",)
    after: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "xpos", "cfrc_ext")
    contact_forces: ClassVar[bool] = True

    dt: float
    main_body: int
    """Body id of the env's ``main_body`` (an id or a name)."""
    forward_reward_weight: float
    ctrl_cost_weight: float
    contact_cost_weight: float
    healthy_reward: float
    terminate_when_unhealthy: bool
    healthy_z_range: tuple[float, float]
    contact_force_range: tuple[float, float]
    exclude_current_positions_from_observation: bool
    include_cfrc_ext_in_observation: bool

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env, dt=env.dt, main_body=env.model.body(env._main_body).id)

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation`` (ant_v5.py:348-405)."""
        qpos, qvel = post["qpos"], post["qvel"]
        body = self.main_body
        # step: the main body's xpos velocity; only its x enters the reward
        x_velocity = (post["xpos"][:, body, 0] - pre["xpos"][:, body, 0]) / self.dt
        contact = np.clip(post["cfrc_ext"], *self.contact_force_range)  # contact_forces
        # is_healthy: a finite state_vector() and min_z <= z <= max_z (inclusive here)
        low, high = self.healthy_z_range
        healthy = (np.isfinite(np.concatenate((qpos, qvel), axis=1)).all(1)
                   & (low <= qpos[:, 2]) & (qpos[:, 2] <= high))
        # _get_rew: (forward + healthy) - (ctrl + contact)
        rewards = x_velocity * self.forward_reward_weight + healthy * self.healthy_reward
        costs = (action_cost(self.ctrl_cost_weight, actions)
                 + self.contact_cost_weight * sum_squares(contact))
        parts = [positions(qpos, self.exclude_current_positions_from_observation, 2), qvel]
        if self.include_cfrc_ext_in_observation:
            parts.append(contact[:, 1:].reshape(len(qpos), -1))
        return (np.concatenate(parts, axis=1), rewards - costs,
                ~healthy & bool(self.terminate_when_unhealthy))
