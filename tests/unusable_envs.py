"""Envs the validator must refuse, registered as ``unusable_envs:<id>``: one whose package is
missing (as Box2D's envs without Box2D), one whose observations hold text, one whose
observations are images (as CarRacing-v3's) and one whose actions are neither a float Box nor
Discrete."""

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled


def needs_missing_package() -> gym.Env:
    raise DependencyNotInstalled('Foo is not installed, run `pip install "gymnasium[foo]"`')


class DictObservationEnv(gym.Env):
    """Continuous actions, but a Dict observation space with text in it (no fixed-size
    vector: a Dict of Boxes and Discretes is flattened)."""

    observation_space = spaces.Dict({"x": spaces.Box(-1.0, 1.0, (2,), np.float64),
                                     "note": spaces.Text(8)})
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)


class ImageObservationEnv(gym.Env):
    """Continuous actions, but pixels for observations (CarRacing-v3's shape)."""

    observation_space = spaces.Box(0, 255, (96, 96, 3), np.uint8)
    action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)


class MultiDiscreteActionEnv(gym.Env):
    """Box observations, but several discrete choices per step."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.MultiDiscrete([2, 3])


gym.register("NeedsMissingPackage-v0", entry_point=needs_missing_package)
gym.register("DictObservation-v0", entry_point=DictObservationEnv)
gym.register("ImageObservation-v0", entry_point=ImageObservationEnv)
gym.register("MultiDiscreteAction-v0", entry_point=MultiDiscreteActionEnv)
