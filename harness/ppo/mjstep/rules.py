"""What a thin-stepped env class's ``step`` reads from ``MjData``, and the formulas shared by
several classes.

A *rules* object is one gymnasium v5 env class's ``step`` around ``do_simulation``, rewritten for
K envs at once: it names the ``MjData`` arrays ``step`` reads before and after the physics, and
turns them, stacked over the pack, into observations, rewards and terminations. It is a frozen
dataclass of the env's constructor arguments (read from its private attributes), so two envs
whose rules compare equal step alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar

import numpy as np

Outcome = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Raw observations ``[K, obs_dim]`` float64, rewards ``[K]``, terminated ``[K]`` bool."""

Captured = dict[str, np.ndarray]
"""``MjData`` array name -> that array of every env, stacked ``[K, *shape]`` float64."""


class Rules(Protocol):
    """One env class's ``step``, minus ``do_simulation``, for a pack of K envs."""

    before: tuple[str, ...]
    """``MjData`` arrays ``step`` reads before ``do_simulation`` (e.g. the torso's ``xpos``)."""
    after: tuple[str, ...]
    """``MjData`` arrays ``step`` reads after it."""
    contact_forces: bool
    """``step`` reads ``cfrc_ext``, which only ``mj_rnePostConstraint`` fills."""

    def outcome(self, pre: Captured, post: Captured, actions: np.ndarray) -> Outcome:
        """Observation, reward and termination of K envs; ``actions`` ``[K, act_dim]`` float32."""
        ...


R = TypeVar("R")


def read_rules(cls: type[R], env: Any, **derived: Any) -> R:
    """``cls`` with each field not in ``derived`` read from the env's ``_<field>`` attribute.

    Ranges given as arrays become tuples, so that rules compare by value.
    """
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = derived[field.name] if field.name in derived else getattr(env, f"_{field.name}")
        values[field.name] = (tuple(value.tolist()) if isinstance(value, np.ndarray) and value.ndim
                              else value)
    return cls(**values)


def strictly_within(bounds: tuple[float, float], x: np.ndarray) -> np.ndarray:
    """``low < x < high`` elementwise, as most health checks write it."""
    return (bounds[0] < x) & (x < bounds[1])


def positions(qpos: np.ndarray, exclude: bool, n: int) -> np.ndarray:
    """``qpos [K, nq]`` without its first ``n`` (x, or x and y) when the env excludes them."""
    return qpos[:, n:] if exclude else qpos


def action_cost(weight: float, actions: np.ndarray) -> np.ndarray:
    """``weight * np.sum(np.square(action))`` per env, in the action's float32 like gymnasium's."""
    return weight * np.sum(np.square(actions), axis=1)


def norms(x: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(x_i)`` of each env's vector, ``x [K, n]`` -> ``[K]``, bit for bit.

    numpy's norm of a 1-D vector is ``sqrt(x.dot(x))``: a BLAS dot whose kernel differs between
    CPUs (AVX-512 Xeons fuse its multiply-adds), while ``norm(x, axis=1)`` squares and adds.
    The two disagree in the last bit for about one 3-vector in ten on such a CPU, so each env's
    dot is taken as gymnasium takes it.
    """
    return np.sqrt([row.dot(row) for row in x])


def sum_squares(x: np.ndarray) -> np.ndarray:
    """``np.sum(np.square(x_i))`` over all of each env's ``x_i``: ``[K, ...]`` -> ``[K]``.

    Flattened per env, numpy's pairwise summation adds in the same order as on ``x_i`` alone.
    """
    return np.sum(np.square(x.reshape(len(x), -1)), axis=1)
