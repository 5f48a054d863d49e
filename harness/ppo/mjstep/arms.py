"""Rules of Reacher-v5 and Pusher-v5: rewarded for bringing bodies together, never ending.

Line numbers cite gymnasium 1.4's ``gymnasium/envs/mujoco/{reacher,pusher}_v5.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from harness.ppo.mjstep.rules import Captured, Outcome, action_cost, norms, read_rules


def distance(xpos: np.ndarray, a: int, b: int) -> np.ndarray:
    """``np.linalg.norm(xpos[a] - xpos[b])`` per env of ``xpos [K, nbody, 3]``, ``[K]``."""
    return norms(xpos[:, a] - xpos[:, b])


@dataclass(frozen=True)
class ArmRules:
    """Both arms read the joints and the bodies' positions after the step, nothing before."""

    before: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[str, ...]] = ("qpos", "qvel", "xpos")
    contact_forces: ClassVar[bool] = False


@dataclass(frozen=True)
class ReacherRules(ArmRules):
    """Reacher-v5 (reacher_v5.py:190-214, 233-243): the fingertip's distance to the target."""

    reward_dist_weight: float
    reward_control_weight: float
    fingertip: int
    target: int
    """Body ids of ``get_body_com``'s bodies."""

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        return read_rules(cls, env, fingertip=env.model.body("fingertip").id,
                          target=env.model.body("target").id)

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation``: ``_get_obs`` and ``_get_rew``."""
        qpos, qvel, xpos = post["qpos"], post["qvel"], post["xpos"]
        vec = xpos[:, self.fingertip] - xpos[:, self.target]
        reward_dist = -norms(vec) * self.reward_dist_weight
        # -np.square(action).sum() * weight, in float32: negating is exact either side
        reward_ctrl = -action_cost(self.reward_control_weight, actions)
        obs = np.concatenate((np.cos(qpos[:, :2]), np.sin(qpos[:, :2]), qpos[:, 2:], qvel[:, :2],
                              vec[:, :2]), axis=1)
        return obs, reward_dist + reward_ctrl, np.zeros(len(actions), dtype=bool)


@dataclass(frozen=True)
class PusherRules(ArmRules):
    """Pusher-v5 (pusher_v5.py:213-241, 266-275): the arm's tip near the object, the object
    near the goal."""

    reward_near_weight: float
    reward_dist_weight: float
    reward_control_weight: float
    tips_arm: int
    object_body: int
    goal: int
    """Body ids of ``get_body_com``'s bodies."""

    @classmethod
    def from_env(cls, env: Any) -> Self:
        """The rules of ``env``'s constructor arguments."""
        body = env.model.body
        return read_rules(cls, env, tips_arm=body("tips_arm").id, object_body=body("object").id,
                          goal=body("goal").id)

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """``step`` after ``do_simulation``: ``_get_obs`` and ``_get_rew``."""
        qpos, qvel, xpos = post["qpos"], post["qvel"], post["xpos"]
        reward_near = -distance(xpos, self.object_body, self.tips_arm) * self.reward_near_weight
        reward_dist = -distance(xpos, self.object_body, self.goal) * self.reward_dist_weight
        reward_ctrl = -action_cost(self.reward_control_weight, actions)
        obs = np.concatenate((qpos[:, :7], qvel[:, :7], xpos[:, self.tips_arm],
                              xpos[:, self.object_body], xpos[:, self.goal]), axis=1)
        return obs, reward_dist + reward_ctrl + reward_near, np.zeros(len(actions), dtype=bool)
