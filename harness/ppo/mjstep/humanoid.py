"""Rules of Humanoid-v5 and HumanoidStandup-v5, which observe the body's com-based quantities.

Line numbers cite gymnasium 1.4's ``gymnasium/envs/mujoco/humanoid*_v5.py``.
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

OPTIONAL = ("cinert", "cvel", "qfrc_actuator", "cfrc_ext")
"""``MjData`` arrays the observation includes on request, in ``_get_obs``'s order."""


def included_flags(env: Any) -> dict[str, bool]:
    """The env's ``include_*_in_observation`` flags as ``_get_obs`` reads them: ``is True``."""
    return {f"include_{name}_in_observation": getattr(env, f"_include_{name}_in_observation")
            is True for name in OPTIONAL}


@dataclass(frozen=True)
class HumanoidObservation:
    """``_get_obs`` of both envs (humanoid_v5.py:436, humanoidstandup_v5.py:388)."""

    before: ClassVar[tuple[str, ...]] = ()
    contact_forces: ClassVar[bool] = True  # both rewards charge for cfrc_ext
    always: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "cfrc_ext")
    """``MjData`` arrays ``step`` reads whatever the observation includes."""

    exclude_current_positions_from_observation: bool
    include_cinert_in_observation: bool
    include_cvel_in_observation: bool
    include_qfrc_actuator_in_observation: bool
    include_cfrc_ext_in_observation: bool

    @property
    def included(self) -> tuple[str, ...]:
        """The optional arrays this observation includes."""
        return tuple(name for name in OPTIONAL
                     if getattr(self, f"include_{name}_in_observation"))

    @property
    def after(self) -> tuple[str, ...]:
        """``MjData`` arrays ``step`` reads after ``do_simulation``."""
        return self.always + tuple(name for name in self.included if name not in self.always)

    def observation(self, post: Captured) -> np.ndarray:
        """Positions, velocities, then each included array without the world body (or, for
        ``qfrc_actuator``, without the free joint's 6 dofs), ``[K, obs_dim]``."""
        k = len(post["qpos"])
        skip = {"qfrc_actuator": 6}
        parts = [positions(post["qpos"], self.exclude_current_positions_from_observation, 2),
                 post["qvel"]]
        parts += [post[name][:, skip.get(name, 1):].reshape(k, -1) for name in self.included]
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class HumanoidRules(HumanoidObservation):
    """Humanoid-v5 (humanoid_v5.py:17-21, 414-517): the mass centre's x velocity."""

    before: ClassVar[tuple[str, ...]] = ("xipos",)
    always: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "xipos", "cfrc_ext")

    dt: float
    body_mass: tuple[float, ...]
    forward_reward_weight: float
    ctrl_cost_weight: float
    contact_cost_weight: float
    contact_cost_range: tuple[float, float]
    healthy_reward: float
    terminate_when_unhealthy: bool
    healthy_z_range: tuple[float, float]

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env, dt=env.dt, body_mass=tuple(env.model.body_mass.tolist()),
                          **included_flags(env))

    def mass_center_x(self, xipos: np.ndarray) -> np.ndarray:
        """``mass_center(model, data)[0]`` of ``xipos [K, nbody, 3]``, ``[K]``."""
        # per env, as gymnasium's mass_center: einsum's sum-of-products kernels may fuse the
        # multiply-adds, and a batched "b,kbj->kj" need not take the same loop as "b,bj->j"
        mass = np.asarray(self.body_mass)
        return np.array([np.einsum("b,bj->j", mass, x)[0] for x in xipos]) / mass.sum()

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation`` (humanoid_v5.py:472-517)."""
        x_after, x_before = self.mass_center_x(post["xipos"]), self.mass_center_x(pre["xipos"])
        x_velocity = (x_after - x_before) / self.dt
        healthy = strictly_within(self.healthy_z_range, post["qpos"][:, 2])
        rewards = self.forward_reward_weight * x_velocity + healthy * self.healthy_reward
        # control_cost squares data.ctrl: the action as float64
        ctrl_cost = action_cost(self.ctrl_cost_weight, actions.astype(np.float64))
        contact_cost = np.clip(self.contact_cost_weight * sum_squares(post["cfrc_ext"]),
                               *self.contact_cost_range)
        return (self.observation(post), rewards - (ctrl_cost + contact_cost),
                ~healthy & bool(self.terminate_when_unhealthy))


@dataclass(frozen=True)
class HumanoidStandupRules(HumanoidObservation):
    """HumanoidStandup-v5 (humanoidstandup_v5.py:424-462): rewarded for height, never ends."""

    timestep: float
    ctrl_cost_weight: float
    impact_cost_weight: float
    impact_cost_range: tuple[float, float]

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env, timestep=env.model.opt.timestep, **included_flags(env))

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation`` (humanoidstandup_v5.py:424-462)."""
        # _get_rew: uph_cost = (pos_after - 0) / timestep; uph_cost_weight is never applied
        uph_cost = post["qpos"][:, 2] / self.timestep
        quad_ctrl_cost = action_cost(self.ctrl_cost_weight, actions.astype(np.float64))
        quad_impact_cost = np.clip(self.impact_cost_weight * sum_squares(post["cfrc_ext"]),
                                   *self.impact_cost_range)
        reward = uph_cost - quad_ctrl_cost - quad_impact_cost + 1
        return self.observation(post), reward, np.zeros(len(actions), dtype=bool)
