"""One agent's whole training state between two updates, to checkpoint and resume exactly.

A resumed run must be *the same run*: every number it logs after the resume equals what the
uninterrupted run logs. So a snapshot holds everything the rest of the run reads: its
parameters and Adam moments, its normalisation statistics and return accumulators, its env's
complete simulator state (for MuJoCo the whole ``MjData``, including the warm start and the
derived quantities the next ``step`` reads before integrating, e.g. Ant's body position), its
time-limit counter and partial episode return, every random generator (the agent's torch
generator, the env's ``np_random``), the observation it acts on next, and the tables logged so
far (evaluations included: their envs need no state, their resets are seeded). Snapshots are
per agent, not per pack, so a resume may pack runs differently.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np
import torch
from gymnasium.utils import EzPickle

from harness.ppo.numerics import BEFORE_RECORDED, NUMERICS
from harness.ppo.pack import PackState


class SnapshotUnsupported(RuntimeError):
    """The env's state cannot be saved (a custom env that does not pickle)."""


@dataclass
class AgentSnapshot:
    """One agent after ``update`` updates (arrays are the agent's rows)."""

    update: int
    """Updates done; training resumes with update ``update + 1``."""
    params: np.ndarray
    """``[P]`` row of the flat parameter buffer."""
    exp_avg: np.ndarray
    """``[P]`` Adam first moments."""
    exp_avg_sq: np.ndarray
    """``[P]`` Adam second moments."""
    adam_step: int
    """Adam steps taken."""
    env: dict[str, Any]
    """The agent's ``PackEnv`` row: normalisation statistics and accumulators."""
    sim: bytes
    """The env's simulator state (``env_state``)."""
    generator: np.ndarray
    """The agent's torch generator state (bytes as ``uint8``)."""
    obs: np.ndarray
    """``[obs_dim]`` float32 normalised observation the next rollout starts from."""
    logs: list[dict] = field(default_factory=list)
    """Update rows logged so far."""
    episodes: list[tuple[int, float, int]] = field(default_factory=list)
    """(global_step, raw return, length) of the episodes finished so far."""
    elapsed: float = 0.0
    """Training seconds so far (for the ``sps`` column)."""
    evals: tuple[tuple[int, int, int, float, int], ...] = ()
    """Evaluation episodes so far (``agent.EVAL_FIELDS``). A class-level default: checkpoints
    written before evaluation existed load with none."""
    numerics: int = BEFORE_RECORDED
    """The trainer's ``numerics.NUMERICS`` that wrote it (a class-level default: checkpoints
    written before it was recorded are version 1)."""


def capture(state: PackState, obs: np.ndarray, update: int, logs: dict[int, list[dict]],
            episodes: dict[int, list], evals: dict[int, list],
            elapsed: float) -> dict[int, AgentSnapshot]:
    """Snapshots of the live agents, keyed by their index in the pack's specs."""
    return {idx: AgentSnapshot(
        update=update, params=state.net.flat[slot].numpy().copy(),
        exp_avg=state.adam.exp_avg[slot].numpy().copy(),
        exp_avg_sq=state.adam.exp_avg_sq[slot].numpy().copy(), adam_step=state.adam.step,
        env=state.env.agent_state(slot), sim=env_state(state.env.envs[slot]),
        generator=state.generators[slot].get_state().numpy().copy(), obs=obs[slot].copy(),
        logs=list(logs[idx]), episodes=list(episodes[idx]), elapsed=elapsed,
        evals=tuple(evals[idx]), numerics=NUMERICS)
        for slot, idx in enumerate(state.ids)}


def restore(state: PackState, snapshots: list[AgentSnapshot]) -> np.ndarray:
    """Put ``snapshots`` (one per agent, in pack order, all after the same update) into a
    freshly built ``state``; returns the pack's next observations ``[K, obs_dim]``."""
    if len({s.update for s in snapshots}) != 1:
        raise ValueError("restore: a pack resumes from one update; group runs by it")
    for slot, snap in enumerate(snapshots):
        state.net.flat[slot] = torch.from_numpy(snap.params)
        state.adam.exp_avg[slot] = torch.from_numpy(snap.exp_avg)
        state.adam.exp_avg_sq[slot] = torch.from_numpy(snap.exp_avg_sq)
        state.env.load_agent_state(slot, snap.env)
        load_env_state(state.env.envs[slot], snap.sim)
        state.generators[slot].set_state(torch.from_numpy(snap.generator))
    state.adam.step = snapshots[0].adam_step
    return np.stack([s.obs for s in snapshots])


def env_state(env: Any) -> bytes:
    """An unwrapped env's complete state: for gymnasium's own MuJoCo envs their ``MjData`` and
    generator, for any other env its attributes, when they pickle (classic control's state
    arrays and ``np_random``; a MuJoCo env's ``MjModel`` and ``MjData`` by value, with the
    envs it holds).

    Not ``pickle.dumps(env)``: gymnasium's ``EzPickle`` envs (Box2D's, MuJoCo's) pickle as
    their constructor arguments, which would restore a new env instead of this one's state;
    so do the envs an env holds (PointMaze's ``point_env``), which are saved by their
    attributes too. Box2D's worlds do not pickle (``SnapshotUnsupported``). References to the
    env itself among its attributes (a helper object that holds it) come back as the live
    env."""
    if _state_in_mjdata(env):
        return pickle.dumps(("mujoco", env.data, env.np_random.bit_generator.state))
    buffer = io.BytesIO()
    try:
        _EnvPickler(buffer, env).dump(vars(env))
    except Exception as e:  # any pickling failure means: cannot checkpoint this env
        raise SnapshotUnsupported(f"{type(env).__name__}: its state cannot be saved "
                                  f"({type(e).__name__}: {e})") from None
    return pickle.dumps(("attributes", buffer.getvalue()))


def _state_in_mjdata(env: Any) -> bool:
    """Whether ``env`` is one of gymnasium's MuJoCo envs, whose whole state between steps is
    its ``MjData`` and ``np_random`` (``tests/test_checkpoints.py`` resumes them exactly).
    Other MuJoCo envs keep more: Adroit's door and target move in ``MjModel`` at reset,
    PointMaze's goal is an attribute and its physics a held env (``tests/test_checkpoints.py``)."""
    return (isinstance(getattr(env, "data", None), mujoco.MjData)
            and type(env).__module__.startswith("gymnasium.envs.mujoco."))


def load_env_state(env: Any, blob: bytes) -> None:
    """Restore what ``env_state`` saved, in place (the env object stays the same)."""
    kind, *saved = pickle.loads(blob)
    if kind == "mujoco":
        data, rng = saved
        mujoco.mj_copyData(env.data, env.model, data)
        env.np_random.bit_generator.state = rng
    else:
        env.__dict__.update(_EnvUnpickler(io.BytesIO(saved[0]), env).load())


class _EnvPickler(pickle.Pickler):
    """Pickles the env itself as a reference (``persistent_id``), not as a copy."""

    def __init__(self, file: io.BytesIO, env: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.env = env

    def persistent_id(self, obj: Any) -> str | None:
        return "env" if obj is self.env else None

    def reducer_override(self, obj: Any) -> Any:
        """A held ``EzPickle`` env by its attributes, set without ``__setstate__`` (which
        would build a new env from the constructor arguments)."""
        if isinstance(obj, EzPickle):
            return object.__new__, (type(obj),), vars(obj), None, None, _set_attributes
        return NotImplemented


def _set_attributes(obj: Any, attributes: dict[str, Any]) -> None:
    """Unpickling's state setter for ``_EnvPickler.reducer_override``."""
    obj.__dict__.update(attributes)


class _EnvUnpickler(pickle.Unpickler):
    """Reads ``_EnvPickler``'s output, resolving the env reference to ``env``."""

    def __init__(self, file: io.BytesIO, env: Any) -> None:
        super().__init__(file)
        self.env = env

    def persistent_load(self, pid: Any) -> Any:
        if pid != "env":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.env
