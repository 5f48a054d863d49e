"""The two ways to step a pack: the env's own ``step``, or ``mj_step`` plus the class's rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import mujoco
import numpy as np

from harness.ppo.mjstep.rules import Captured, Rules
from harness.ppo.observations import flat_obs

Stepped = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``Outcome`` and ``[K]`` bool: the env itself truncated the episode (its own ``step`` said so,
as an env that keeps its own time limit does; the pack's time limit is counted apart)."""


class Stepper(Protocol):
    """Steps K envs with one action each (actions already clipped to the action space)."""

    def step(self, actions: np.ndarray) -> Stepped:
        """Advance every env one step."""
        ...


class GymStepper:
    """Any env: its own ``step`` (observation, reward, terminated, truncated), one call per
    env."""

    def __init__(self, envs: Sequence, obs_dim: int) -> None:
        self.envs, self.obs_dim = list(envs), obs_dim

    def step(self, actions: np.ndarray) -> Stepped:
        """One ``env.step`` per env."""
        k = len(self.envs)
        raw, reward = np.empty((k, self.obs_dim)), np.empty(k)
        terminated, truncated = np.empty(k, bool), np.empty(k, bool)
        for i, env in enumerate(self.envs):
            obs, reward[i], terminated[i], truncated[i], _ = env.step(actions[i])
            raw[i] = flat_obs(env.observation_space, obs)
        return raw, reward, terminated, truncated


Copies = list[tuple[np.ndarray, np.ndarray]]
"""(row of a captured ``[K, ...]`` array, the ``MjData`` array it copies) pairs of one env."""


class ThinStepper:
    """gymnasium's ``MujocoEnv.do_simulation`` per env; the rest of ``step`` is the ``Rules``."""

    def __init__(self, envs: Sequence, rules: Rules) -> None:
        self.rules, self.frame_skip = rules, envs[0].frame_skip
        self.never = np.zeros(len(envs), bool)  # a v5 env's own step never truncates
        self.pre = _buffers(rules.before, envs)
        self.post = _buffers(rules.after, envs)
        # Views into each MjData, bound once: MjData never moves its arrays.
        self.sims = [(env.model, env.data, env.data.ctrl, _copies(self.pre, env.data, i),
                      _copies(self.post, env.data, i)) for i, env in enumerate(envs)]

    def step(self, actions: np.ndarray) -> Stepped:
        """``mj_step`` each env's own ``MjData``; the outcome as array math over the pack (a
        v5 env never truncates by itself: its time limit is gymnasium's wrapper)."""
        frame_skip, contact_forces = self.frame_skip, self.rules.contact_forces
        for i, (model, data, ctrl, pre, post) in enumerate(self.sims):
            for row, array in pre:
                row[...] = array
            # mujoco_env.py:144-155 (_step_mujoco_simulation): set ctrl, mj_step, and
            # mj_rnePostConstraint, which fills cfrc_ext and reads nothing mj_step carries over.
            ctrl[:] = actions[i]
            mujoco.mj_step(model, data, nstep=frame_skip)
            if contact_forces:
                mujoco.mj_rnePostConstraint(model, data)
            for row, array in post:
                row[...] = array
        return (*self.rules.outcome(self.pre, self.post, actions), self.never)


def _buffers(names: tuple[str, ...], envs: Sequence) -> Captured:
    return {name: np.empty((len(envs), *getattr(envs[0].data, name).shape)) for name in names}


def _copies(buffers: Captured, data: mujoco.MjData, i: int) -> Copies:
    return [(stacked[i], getattr(data, name)) for name, stacked in buffers.items()]
