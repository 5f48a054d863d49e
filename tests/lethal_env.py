"""A test env that kills the process stepping it, registered as ``lethal_env:Lethal-v0``:
what a worker lost to the OOM killer or a pre-empted node looks like to ``harness run``."""

import os
import signal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

KILL_AFTER = 100
"""Steps before the env kills its process (after validation, which never steps it)."""


class LethalEnv(gym.Env):
    """A constant env whose ``step`` SIGKILLs its own process after ``KILL_AFTER`` steps."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self) -> None:
        self._steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2), {}

    def step(self, action):
        self._steps += 1
        if self._steps > KILL_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.zeros(2), 0.0, False, False, {}


gym.register("Lethal-v0", entry_point=LethalEnv, max_episode_steps=50)
