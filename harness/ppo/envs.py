"""K Gymnasium envs stepped in lockstep, with per-agent VecNormalize done as array math.

Semantics follow Baselines ``VecNormalize`` + ``DummyVecEnv`` (what ppo2 ``mujoco()`` uses):
observations are normalised by a running mean/std updated on every observation the agent sees
(reset observations included), rewards are divided by the running std of the discounted return
``ret = ret * gamma + r`` (reset to 0 at episode ends), both clipped to ±10. Each agent owns one
env and its own statistics; no per-env wrapper stack, and MuJoCo envs step through
``harness.ppo.mjstep`` so stepping stays thin. Actions are a float ``Box`` (clipped to it, as
ppo2 does for its Gaussian policy) or ``Discrete`` (an index, passed as it is).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from harness.ppo.mjstep import make_stepper
from harness.ppo.observations import flat_obs, leaves, obs_size

CLIP = 10.0  # VecNormalize clipob / cliprew
EPS = 1e-8  # VecNormalize epsilon


MUTED_MUJOCO_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)
"""MuJoCo warnings about Gymnasium's own model files that a user cannot act on: HalfCheetah-v5's
XML sets ``settotalmass``, deprecated in MuJoCo 3.3, and MuJoCo printed it for every env made
(every worker, every validation)."""


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make(env_id, **kwargs)`` without the env checker and without the MuJoCo warnings
    in ``MUTED_MUJOCO_WARNINGS``; any other MuJoCo warning is printed as MuJoCo would."""
    try:
        import mujoco
    except ImportError:  # not a MuJoCo install: nothing to mute
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    previous = mujoco.get_mju_user_warning()

    def warn(message: str) -> None:
        if not message.startswith(MUTED_MUJOCO_WARNINGS):
            print(f"WARNING: {message}", file=sys.stderr, flush=True)

    mujoco.set_mju_user_warning(warn)
    try:
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    finally:
        mujoco.set_mju_user_warning(previous)


def make_envs(env_id: str, n: int, **kwargs: Any) -> tuple[list[Any], int | None]:
    """``n`` unwrapped instances of ``env_id`` (``kwargs`` go to ``gym.make``) and its time
    limit (None if it has none). The unwrapped env skips wrapper overhead, so callers count
    steps against the time limit themselves."""
    made = [make_env(env_id, **kwargs) for _ in range(n)]
    return [e.unwrapped for e in made], made[0].spec.max_episode_steps if made[0].spec else None


def normalise_obs(raw: np.ndarray, mean: np.ndarray, var: np.ndarray,
                  enabled: np.ndarray) -> np.ndarray:
    """``[K, obs_dim]`` float32 observations as agents see them: ``raw`` standardised by each
    agent's ``mean``/``var`` and clipped to ±10 where ``enabled [K]``, else as they are. Reads
    the statistics only (evaluation and replay use them frozen)."""
    norm = np.clip((raw - mean) / np.sqrt(var + EPS), -CLIP, CLIP)
    return np.where(enabled[:, None], norm, raw).astype(np.float32)


def spaces_problem(env: gym.Env) -> str | None:
    """Why the trainer cannot use ``env``'s spaces, or None: it needs observations of numbers,
    not images (a ``Box``, a ``Discrete``, or a ``Dict``/``Tuple`` of them, flattened by
    ``observations.flat_obs``), and a float ``Box`` action (a Gaussian policy) or a
    ``Discrete`` one (a categorical)."""
    action, observation = env.action_space, env.observation_space
    continuous = (isinstance(action, gym.spaces.Box)
                  and np.issubdtype(action.dtype, np.floating))
    if not (continuous or isinstance(action, gym.spaces.Discrete)):
        return (f"has a {action} action space; the harness trains Gaussian policies for "
                "continuous (Box) actions and categorical ones for Discrete actions, e.g. "
                "Hopper-v5 or CartPole-v1")
    found = leaves(observation)
    if found is None:
        return (f"has a {observation} observation space; the harness needs a Box "
                "(an array of numbers), a Discrete, or a Dict or Tuple of them")
    images = [leaf.shape for leaf in found if len(leaf.shape) >= 3]
    if images:  # (height, width, channels): an MLP would see pixels
        return (f"has image observations {images[0]}; the harness's policies are "
                "MLPs on feature vectors (ppo2's mujoco() networks), not CNNs")
    return None


def env_actions(space: gym.Space, actions: np.ndarray) -> np.ndarray:
    """What the envs take from a policy's ``actions``: ppo2 clips a Gaussian's samples to the
    Box (CleanRL: ClipAction); a categorical's index is the action, counted from the space's
    first one (gymnasium ``Discrete.start``)."""
    if isinstance(space, gym.spaces.Discrete):
        return actions + int(space.start)
    return np.clip(actions, space.low, space.high)


class RunningMeanStd:
    """Per-agent running mean/var of ``[K, *shape]`` samples (Baselines ``RunningMeanStd``)."""

    def __init__(self, n_agents: int, shape: tuple[int, ...] = ()) -> None:
        self.mean = np.zeros((n_agents, *shape))
        self.var = np.ones((n_agents, *shape))
        self.count = 1e-4  # ppo2's initial count; all agents see one sample per step

    def update(self, x: np.ndarray) -> None:
        """Add one sample per agent (parallel-variance formula with batch count 1)."""
        delta = x - self.mean
        total = self.count + 1
        self.mean += delta / total
        # var' = (var * n + delta^2 * n / (n + 1)) / (n + 1), with scalar factors folded
        self.var *= self.count / total
        self.var += delta * delta * (self.count / total**2)
        self.count = total

    def select(self, keep: np.ndarray) -> None:
        """Keep only the agents at indices ``keep``."""
        self.mean, self.var = self.mean[keep], self.var[keep]


@dataclass
class StepResult:
    """What one lockstep step returns (arrays have K rows)."""

    obs: np.ndarray
    """``[K, obs_dim]`` float32 normalised observation to act on next (reset obs after an end)."""
    reward: np.ndarray
    """``[K]`` scaled reward used for learning."""
    done: np.ndarray
    """``[K]`` bool: the episode ended at this step (terminated or truncated)."""
    truncated: np.ndarray
    """``[K]`` bool: ended by the time limit only."""
    final_obs: np.ndarray | None
    """``[K, obs_dim]`` float32 normalised last observations (rows of ended episodes matter);
    None when no episode ended."""
    episodes: list[tuple[int, float, int]]
    """(agent, raw return, length) of episodes that ended at this step."""


class PackEnv:
    """One env per agent; ``normalize_obs``/``normalize_reward``/``gamma`` are per agent,
    ``env_kwargs`` (``gym.make`` arguments) the same for all."""

    def __init__(self, env_id: str, seeds: Sequence[int], *, normalize_obs: Sequence[bool],
                 normalize_reward: Sequence[bool], gamma: Sequence[float],
                 env_kwargs: dict[str, Any] | None = None) -> None:
        # TimeLimit re-done below
        self.envs, self.max_steps = make_envs(env_id, len(seeds), **(env_kwargs or {}))
        problem = spaces_problem(self.envs[0])
        if problem:
            for env in self.envs:
                env.close()
            raise ValueError(f"{env_id} {problem}")
        self.action_space = space = self.envs[0].action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        # act_dim: the policy head's width, the action's dimensions or the number of actions
        self.act_dim = int(space.n) if self.discrete else int(np.prod(space.shape))
        self.obs_space = self.envs[0].observation_space
        self.obs_dim = obs_size(self.obs_space)
        self.stepper = make_stepper(self.envs, self.obs_dim)
        self.seeds = list(seeds)
        self.normalize_obs = np.asarray(normalize_obs, dtype=bool)
        self.normalize_reward = np.asarray(normalize_reward, dtype=bool)
        self.gamma = np.asarray(gamma, dtype=np.float64)
        k = len(self.envs)
        self.obs_rms = RunningMeanStd(k, (self.obs_dim,))
        self.ret_rms = RunningMeanStd(k)
        self.ret = np.zeros(k)
        self.ep_return = np.zeros(k)
        self.ep_length = np.zeros(k, dtype=np.int64)

    def reset(self) -> np.ndarray:
        """First reset, seeding each env with its run's seed; returns normalised obs."""
        raw = np.stack([flat_obs(self.obs_space, e.reset(seed=s)[0])
                        for e, s in zip(self.envs, self.seeds, strict=True)]).astype(np.float64)
        return self._filter_obs(raw)

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every env with its action, ``[K, act_dim]`` float or ``[K]`` int indices of a
        ``Discrete`` space; ended episodes are reset immediately."""
        raw, reward, terminated, own = self.stepper.step(env_actions(self.action_space,
                                                                    actions))
        self.ep_return += reward
        self.ep_length += 1
        # gymnasium's TimeLimit, which the unwrapped env lacks, or the env's own truncation
        truncated = own | (self.ep_length >= self.max_steps if self.max_steps is not None
                           else False)
        done = terminated | truncated
        episodes, final = [], None
        if done.any():
            final = raw.copy()
            for i in np.flatnonzero(done):
                episodes.append((int(i), float(self.ep_return[i]), int(self.ep_length[i])))
                raw[i] = flat_obs(self.obs_space, self.envs[i].reset()[0])
            self.ep_return[done] = 0.0
            self.ep_length[done] = 0
            final = self._normalise(final)
        scaled = self._filter_reward(reward, done)
        return StepResult(self._filter_obs(raw), scaled, done, truncated & ~terminated,
                          final, episodes)

    def select(self, keep: np.ndarray) -> None:
        """Keep only the agents at indices ``keep`` (a failed run leaves the pack)."""
        for i in sorted(set(range(len(self.envs))) - set(keep.tolist())):
            self.envs[i].close()
        self.envs = [self.envs[i] for i in keep]
        self.stepper = make_stepper(self.envs, self.obs_dim)
        self.seeds = [self.seeds[i] for i in keep]
        for name in ("normalize_obs", "normalize_reward", "gamma", "ret", "ep_return",
                     "ep_length"):
            setattr(self, name, getattr(self, name)[keep])
        self.obs_rms.select(keep)
        self.ret_rms.select(keep)

    def agent_state(self, i: int) -> dict[str, Any]:
        """Agent ``i``'s statistics and accumulators (its env's simulator state aside)."""
        return {"obs_mean": self.obs_rms.mean[i].copy(), "obs_var": self.obs_rms.var[i].copy(),
                "obs_count": self.obs_rms.count, "ret_mean": float(self.ret_rms.mean[i]),
                "ret_var": float(self.ret_rms.var[i]), "ret_count": self.ret_rms.count,
                "ret": float(self.ret[i]), "ep_return": float(self.ep_return[i]),
                "ep_length": int(self.ep_length[i])}

    def load_agent_state(self, i: int, saved: dict[str, Any]) -> None:
        """Set agent ``i``'s statistics and accumulators from ``agent_state``'s output. The
        counts are one per pack: agents resumed together have taken the same steps."""
        self.obs_rms.mean[i], self.obs_rms.var[i] = saved["obs_mean"], saved["obs_var"]
        self.ret_rms.mean[i], self.ret_rms.var[i] = saved["ret_mean"], saved["ret_var"]
        self.obs_rms.count, self.ret_rms.count = saved["obs_count"], saved["ret_count"]
        self.ret[i], self.ep_return[i] = saved["ret"], saved["ep_return"]
        self.ep_length[i] = saved["ep_length"]

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()

    def _filter_obs(self, raw: np.ndarray) -> np.ndarray:
        self.obs_rms.update(raw)
        return self._normalise(raw)

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        return normalise_obs(raw, self.obs_rms.mean, self.obs_rms.var, self.normalize_obs)

    def _filter_reward(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret *= self.gamma
        self.ret += reward
        self.ret_rms.update(self.ret)
        scaled = np.clip(reward / np.sqrt(self.ret_rms.var + EPS), -CLIP, CLIP)
        self.ret[done] = 0.0
        return np.where(self.normalize_reward, scaled, reward)
