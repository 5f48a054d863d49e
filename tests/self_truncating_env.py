"""An env that keeps its own time limit (registered without gymnasium's TimeLimit): it
truncates after 5 steps and fails if stepped past the end of its episode."""

import gymnasium as gym
import numpy as np


class SelfTruncating(gym.Env):
    """Observation t / 10 after step t, reward 1 per step; truncated at step 5."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1), {}

    def step(self, action):
        if self.t == 5:
            raise RuntimeError("stepped past the end of its episode")
        self.t += 1
        return np.full(1, self.t / 10), 1.0, False, self.t == 5, {}


gym.register("SelfTruncating-v0", entry_point=SelfTruncating)
