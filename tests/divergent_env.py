"""A test env whose reward turns NaN, registered as ``divergent_env:Divergent-v0``.

Imported by name (gymnasium's ``module:EnvId`` form) in the experiment validator and in every
worker process. The run seeded ``DIVERGING_SEED`` diverges after ``DIVERGE_AFTER`` steps; the
others are ordinary, so a pack mixes a failing run with healthy ones.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces

DIVERGING_SEED = 1
DIVERGE_AFTER = 100


class DivergentEnv(gym.Env):
    """A 3-d mean-reverting random walk; reward = -|x|^2 - |a|^2 (NaN once diverging)."""

    observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float64)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self) -> None:
        self._diverges = False
        self._steps = 0
        self._x = np.zeros(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:  # the trainer seeds each env once, with its run's seed
            self._diverges = seed == DIVERGING_SEED
        self._x = self.np_random.normal(size=3)
        return self._x.copy(), {}

    def step(self, action):
        self._steps += 1
        self._x = 0.9 * self._x + 0.1 * self.np_random.normal(size=3)
        reward = -float(self._x @ self._x) - float(np.square(action).sum())
        if self._diverges and self._steps > DIVERGE_AFTER:
            reward = float("nan")
        return self._x.copy(), reward, False, False, {}


gym.register("Divergent-v0", entry_point=DivergentEnv, max_episode_steps=50)
