"""Step a pack's MuJoCo envs with the env's own physics but the pack's array math.

Gymnasium's ``MujocoEnv.step`` spends nearly as long in Python (``is_healthy``, ``_get_obs``,
the info dict, ``mj_rnePostConstraint``) as MuJoCo spends in ``mj_step`` on Hopper-v5
(cProfile of a pack of 16, 2026-11: 4.1 s against 5.3 s). For the v5 envs listed in
``THIN_RULES`` we call ``mj_step`` ourselves on each env's ``MjData`` and compute observation,
reward and termination for the whole pack at once, with the formulas of gymnasium's ``step``:
``tests/test_mjstep.py`` checks that both give the same numbers. Every other env goes
through its own ``step`` (``GymStepper``).

``mj_rnePostConstraint`` is skipped: it fills ``cacc``/``cfrc_*``, which none of these envs
reads and ``mj_step`` recomputes from scratch, so the trajectory is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import mujoco
import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

Outcome = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Raw observations ``[K, obs_dim]`` float64, rewards ``[K]``, terminated ``[K]`` bool."""


class Stepper(Protocol):
    """Steps K envs with one action each (actions already clipped to the action space)."""

    def step(self, actions: np.ndarray) -> Outcome:
        """Advance every env one step."""
        ...


class GymStepper:
    """Any env: its own ``step`` (observation, reward, terminated), one call per env."""

    def __init__(self, envs: Sequence, obs_dim: int) -> None:
        self.envs, self.obs_dim = list(envs), obs_dim

    def step(self, actions: np.ndarray) -> Outcome:
        """One ``env.step`` per env."""
        k = len(self.envs)
        raw, reward, terminated = np.empty((k, self.obs_dim)), np.empty(k), np.empty(k, bool)
        for i, env in enumerate(self.envs):
            obs, reward[i], terminated[i], _, _ = env.step(actions[i])
            raw[i] = obs.ravel()
        return raw, reward, terminated


Rules = Callable[[object, np.ndarray, np.ndarray, np.ndarray, np.ndarray], Outcome]
"""``(env, qpos [K, nq], qvel [K, nv], x_velocity [K], actions) -> Outcome``: one env class's
``_get_obs``, reward and termination after ``do_simulation``, for K post-step states."""


class ThinStepper:
    """``mj_step`` per env, then the env class's ``Rules`` on the stacked ``qpos``/``qvel``."""

    def __init__(self, envs: Sequence, rules: Rules) -> None:
        first = envs[0]
        self.env, self.rules = first, rules  # the rules read constants only, all envs agree
        self.sims = [(env.model, env.data) for env in envs]
        self.frame_skip, self.dt = first.frame_skip, first.dt
        k = len(envs)
        self.qpos, self.qvel = np.empty((k, first.model.nq)), np.empty((k, first.model.nv))
        self.x_before = np.empty(k)

    def step(self, actions: np.ndarray) -> Outcome:
        """gymnasium ``MujocoEnv.do_simulation`` per env, the rest as array math."""
        qpos, qvel, x_before = self.qpos, self.qvel, self.x_before
        for i, (model, data) in enumerate(self.sims):
            x_before[i] = data.qpos[0]
            data.ctrl[:] = actions[i]
            mujoco.mj_step(model, data, nstep=self.frame_skip)
            qpos[i] = data.qpos
            qvel[i] = data.qvel
        # The locomotion envs' ``x_velocity = (x_after - x_before) / dt``.
        x_velocity = (qpos[:, 0] - x_before) / self.dt
        return self.rules(self.env, qpos, qvel, x_velocity, actions)


def make_stepper(envs: Sequence, obs_dim: int) -> Stepper:
    """The thin stepper when every env is one supported gymnasium v5 class, else ``GymStepper``.

    Only exact classes qualify: a subclass may change ``step``.
    """
    kinds = {type(env) for env in envs}
    rules = THIN_RULES.get(kinds.pop()) if len(kinds) == 1 else None
    return GymStepper(envs, obs_dim) if rules is None else ThinStepper(envs, rules)


def _in(bounds: tuple[float, float], x: np.ndarray) -> np.ndarray:
    """``low < x < high`` elementwise, as the envs' health checks write it."""
    return (bounds[0] < x) & (x < bounds[1])


def _positions(env, qpos: np.ndarray) -> np.ndarray:
    return qpos[:, 1:] if env._exclude_current_positions_from_observation else qpos


def _ctrl_cost(env, actions: np.ndarray) -> np.ndarray:
    # In the action's dtype, like gymnasium's ``ctrl_cost_weight * np.sum(np.square(action))``.
    return env._ctrl_cost_weight * np.sum(np.square(actions), axis=1)


def _healthy_outcome(env, qpos: np.ndarray, qvel: np.ndarray, healthy: np.ndarray,
                     x_velocity: np.ndarray, actions: np.ndarray) -> Outcome:
    """Hopper/Walker2d v5 ``_get_obs`` (qvel clipped to ±10), ``_get_rew`` and ``terminated``."""
    obs = np.concatenate((_positions(env, qpos), np.clip(qvel, -10, 10)), axis=1)
    reward = (env._forward_reward_weight * x_velocity + healthy * env._healthy_reward
              - _ctrl_cost(env, actions))
    return obs, reward, ~healthy & bool(env._terminate_when_unhealthy)


def _hopper(env, qpos: np.ndarray, qvel: np.ndarray, x_velocity: np.ndarray,
            actions: np.ndarray) -> Outcome:
    state = np.concatenate((qpos[:, 2:], qvel), axis=1)  # state_vector()[2:], qvel unclipped
    healthy = (_in(env._healthy_state_range, state).all(1)
               & _in(env._healthy_z_range, qpos[:, 1])
               & _in(env._healthy_angle_range, qpos[:, 2]))
    return _healthy_outcome(env, qpos, qvel, healthy, x_velocity, actions)


def _walker2d(env, qpos: np.ndarray, qvel: np.ndarray, x_velocity: np.ndarray,
              actions: np.ndarray) -> Outcome:
    healthy = _in(env._healthy_z_range, qpos[:, 1]) & _in(env._healthy_angle_range, qpos[:, 2])
    return _healthy_outcome(env, qpos, qvel, healthy, x_velocity, actions)


def _half_cheetah(env, qpos: np.ndarray, qvel: np.ndarray, x_velocity: np.ndarray,
                  actions: np.ndarray) -> Outcome:
    obs = np.concatenate((_positions(env, qpos), qvel), axis=1)
    reward = env._forward_reward_weight * x_velocity - _ctrl_cost(env, actions)
    return obs, reward, np.zeros(len(obs), dtype=bool)  # it never terminates


def _inverted_pendulum(env, qpos: np.ndarray, qvel: np.ndarray, x_velocity: np.ndarray,
                       actions: np.ndarray) -> Outcome:
    obs = np.concatenate((qpos, qvel), axis=1)
    terminated = ~np.isfinite(obs).all(1) | (np.abs(obs[:, 1]) > 0.2)
    return obs, (~terminated).astype(np.float64), terminated  # reward = int(not terminated)


THIN_RULES: dict[type, Rules] = {HopperEnv: _hopper, Walker2dEnv: _walker2d,
                                 HalfCheetahEnv: _half_cheetah,
                                 InvertedPendulumEnv: _inverted_pendulum}
"""gymnasium v5 env classes whose ``step`` the thin stepper reproduces."""
