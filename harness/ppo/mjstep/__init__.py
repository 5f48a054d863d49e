"""Step a pack's MuJoCo envs with the env's own physics but the pack's array math.

Gymnasium's ``MujocoEnv.step`` spends nearly as long in Python (``is_healthy``, ``_get_obs``,
the info dict, ``mj_rnePostConstraint``) as MuJoCo spends in ``mj_step`` on Hopper-v5
(cProfile of a pack of 16, 2026-11: 4.1 s against 5.3 s). For every MuJoCo v5 env of gymnasium
(``THIN_RULES``) we call ``mj_step`` ourselves on each env's ``MjData`` and compute
observation, reward and termination for the whole pack at once, with the formulas of
gymnasium's ``step`` and the env's own constructor arguments (``rules``):
``tests/test_mjstep.py`` checks that both give the same numbers, bit for bit. Every other env
goes through its own ``step`` (``GymStepper``).

``mj_rnePostConstraint`` runs only where ``step`` reads ``cfrc_ext`` (Ant, Humanoid,
HumanoidStandup). Elsewhere it is skipped: it fills ``cacc``/``cfrc_*``, which those envs
never read and ``mj_step`` never reads back, so the trajectory is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv
from gymnasium.envs.mujoco.humanoidstandup_v5 import HumanoidStandupEnv
from gymnasium.envs.mujoco.inverted_double_pendulum_v5 import InvertedDoublePendulumEnv
from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv
from gymnasium.envs.mujoco.pusher_v5 import PusherEnv
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from gymnasium.envs.mujoco.swimmer_v5 import SwimmerEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

from harness.ppo.mjstep.arms import PusherRules, ReacherRules
from harness.ppo.mjstep.humanoid import HumanoidRules, HumanoidStandupRules
from harness.ppo.mjstep.locomotion import (
    AntRules,
    ForwardRules,
    HopperRules,
    SwimmerRules,
    Walker2dRules,
)
from harness.ppo.mjstep.pendulums import InvertedDoublePendulumRules, InvertedPendulumRules
from harness.ppo.mjstep.rules import Outcome, Rules
from harness.ppo.mjstep.steppers import GymStepper, Stepped, Stepper, ThinStepper

__all__ = ["THIN_RULES", "GymStepper", "Outcome", "Rules", "Stepped", "Stepper",
           "ThinStepper", "make_stepper"]

THIN_RULES: dict[type, Callable[[Any], Rules]] = {
    AntEnv: AntRules.from_env,
    HalfCheetahEnv: ForwardRules.from_env,
    HopperEnv: HopperRules.from_env,
    HumanoidEnv: HumanoidRules.from_env,
    HumanoidStandupEnv: HumanoidStandupRules.from_env,
    InvertedDoublePendulumEnv: InvertedDoublePendulumRules.from_env,
    InvertedPendulumEnv: InvertedPendulumRules.from_env,
    PusherEnv: PusherRules.from_env,
    ReacherEnv: ReacherRules.from_env,
    SwimmerEnv: SwimmerRules.from_env,
    Walker2dEnv: Walker2dRules.from_env,
}
"""gymnasium v5 env class -> its rules, read from one env's constructor arguments."""


def make_stepper(envs: Sequence, obs_dim: int) -> Stepper:
    """The thin stepper when every env is one supported gymnasium v5 class built alike, else
    ``GymStepper``.

    Only exact classes qualify: a subclass may change ``step``. ``render_mode="human"`` renders
    inside ``step``, so it keeps gymnasium's. Envs whose arguments (rules or frame skip) differ
    cannot share one set of formulas.
    """
    kinds = {type(env) for env in envs}
    read = THIN_RULES.get(kinds.pop()) if len(kinds) == 1 else None
    if read is None or any(env.render_mode == "human" for env in envs):
        return GymStepper(envs, obs_dim)
    rules = [(read(env), env.frame_skip) for env in envs]
    if any(r != rules[0] for r in rules):
        return GymStepper(envs, obs_dim)
    return ThinStepper(envs, rules[0][0])
