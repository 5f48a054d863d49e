"""A goal-reaching env with Dict observations (as gymnasium-robotics' and DeepMind Control's
through shimmy), registered as ``dict_obs_env:DictGoal-v0``: the harness flattens them."""

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class DictGoal(gym.Env):
    """A point moved by its action toward a goal; observation {position, goal, phase}."""

    observation_space = spaces.Dict({"position": spaces.Box(-5.0, 5.0, (2,), np.float64),
                                     "goal": spaces.Box(-1.0, 1.0, (2,), np.float64),
                                     "phase": spaces.Discrete(3)})
    action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = np.zeros(2)
        self.goal = self.np_random.uniform(-1.0, 1.0, 2)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.position = np.clip(self.position + 0.1 * np.asarray(action, float), -5.0, 5.0)
        self.t += 1
        reward = -float(np.linalg.norm(self.position - self.goal))
        return self._obs(), reward, False, False, {}

    def _obs(self):
        return {"position": self.position.copy(), "goal": self.goal.copy(),
                "phase": self.t % 3}


gym.register("DictGoal-v0", entry_point=DictGoal, max_episode_steps=20)
