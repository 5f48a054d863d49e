"""Envs the validator must refuse, registered as ``unusable_envs:<id>``: one whose package is
missing (as Box2D's envs without Box2D), one whose observations are not an array and one whose
actions are neither a float Box nor Discrete."""

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled


def needs_missing_package() -> gym.Env:
    raise DependencyNotInstalled('Foo is not installed, run `pip install "gymnasium[foo]"`')


class DictObservationEnv(gym.Env):
    """Continuous actions, but a Dict observation space."""

    observation_space = spaces.Dict({"x": spaces.Box(-1.0, 1.0, (2,), np.float64)})
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)


class MultiDiscreteActionEnv(gym.Env):
    """Box observations, but several discrete choices per step."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.MultiDiscrete([2, 3])


gym.register("NeedsMissingPackage-v0", entry_point=needs_missing_package)
gym.register("DictObservation-v0", entry_point=DictObservationEnv)
gym.register("MultiDiscreteAction-v0", entry_point=MultiDiscreteActionEnv)
