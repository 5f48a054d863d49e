"""Observations as the policy's vectors: a Box raveled, a Dict or Tuple flattened."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def leaves(space: gym.Space) -> list[gym.Space] | None:
    """The ``Box`` and ``Discrete`` spaces ``space`` is made of (itself, or what a Dict or
    Tuple nests), or None where a part is of another kind (text, graphs, sequences: no
    fixed-size vector)."""
    if isinstance(space, gym.spaces.Box | gym.spaces.Discrete):
        return [space]
    if isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, gym.spaces.Dict) else space.spaces
        found = [leaves(part) for part in parts]
        return None if None in found else [leaf for f in found for leaf in f]
    return None


def obs_size(space: gym.Space) -> int:
    """The length of ``flat_obs``'s vectors for observations of ``space``."""
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    return int(gym.spaces.flatdim(space))


def flat_obs(space: gym.Space, obs: Any) -> np.ndarray:
    """One observation as the policy's vector: a Box's array raveled; a Dict or Tuple
    flattened as gymnasium's ``FlattenObservation`` does (SB3 and CleanRL use it for Dict
    observations): its parts in the space's key order, a Discrete one-hot."""
    if isinstance(space, gym.spaces.Box):
        return np.asarray(obs).ravel()
    return gym.spaces.flatten(space, obs)


def flattened(env: gym.Env) -> gym.Env:
    """``env`` whose observations are ``flat_obs``'s vectors, for trainers that take a Box
    (the sb3 and torchrl adapters): gymnasium's ``FlattenObservation`` around a Dict or Tuple
    observation, the env itself around a Box."""
    if isinstance(env.observation_space, gym.spaces.Box):
        return env
    return gym.wrappers.FlattenObservation(env)
