"""The contract of a plug-in trainer (docs/design.md §4): ``function(run, log)`` in a worker.

``run`` says what to train; ``log`` collects the rows of the run's ``updates`` and
``episodes`` tables (the results schema's logged fields, ``harness.ppo.agent``). The runner
owns everything else: run ids, files, resume, failures and backends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.ppo.agent import EPISODE_FIELDS, UPDATE_FIELDS
from harness.runs.spec import RunSpec, gym_id


@dataclass(frozen=True)
class Run:
    """What a plug-in trainer trains: one run of the experiment matrix."""

    run_id: str
    """The run's id (for the trainer's own log or file names)."""
    env_id: str
    """Gymnasium env id."""
    env_kwargs: dict[str, Any]
    """Extra ``gym.make`` arguments of the env (empty when the experiment gives none)."""
    seed: int
    """Seed of everything random in the run."""
    total_steps: int
    """Env steps to train for."""
    config: dict[str, Any]
    """Every resolved PPO key (``PPOConfig.to_dict()``): ``value_clip``, ``vf_clip_eps``,
    ``clip_coef``, ``learning_rate``, ..."""

    @classmethod
    def of(cls, spec: RunSpec) -> Run:
        """The run of ``spec``."""
        # spec.env_id is the env's label (its arguments in brackets); gym.make wants the id
        return cls(spec.run_id, gym_id(spec.env_id), dict(spec.env_kwargs), spec.seed,
                   spec.total_steps, spec.ppo.to_dict())


class Log:
    """Collects a run's rows: ``update(**fields)`` and ``episode(**fields)``."""

    def __init__(self, progress: Callable[[int], None] | None = None) -> None:
        self.updates: list[dict[str, Any]] = []
        self.episodes: list[dict[str, Any]] = []
        self._progress = progress
        self._returns: list[float] = []  # of the episodes since the last update row
        self._start = time.perf_counter()

    def update(self, **fields: Any) -> None:
        """Append an ``updates`` row. ``global_step`` is required; ``update`` defaults to the
        row's number (1, 2, ...), ``episodic_return`` to the mean return of the episodes
        logged since the previous row, ``sps`` to env steps per second so far; any other
        field left out is NaN."""
        _check(fields, UPDATE_FIELDS, "update")
        step = int(fields["global_step"])
        elapsed = time.perf_counter() - self._start
        row = {"update": len(self.updates) + 1,
               "episodic_return": float(np.mean(self._returns)) if self._returns else math.nan,
               "sps": step / elapsed if elapsed > 0 else math.nan, **fields}
        if self._progress is not None:
            self._progress(step - (self.updates[-1]["global_step"] if self.updates else 0))
        self.updates.append(row)
        self._returns = []

    def episode(self, **fields: Any) -> None:
        """Append an ``episodes`` row: ``global_step``, ``episode_return`` (raw, not
        normalised) and ``episode_length``."""
        _check(fields, EPISODE_FIELDS, "episode", required=EPISODE_FIELDS)
        self.episodes.append(fields)
        self._returns.append(float(fields["episode_return"]))

    @property
    def last_step(self) -> int | None:
        """``global_step`` of the last update row (None before the first)."""
        return int(self.updates[-1]["global_step"]) if self.updates else None


def _check(fields: dict[str, Any], allowed: tuple[str, ...], method: str,
           required: tuple[str, ...] = ("global_step",)) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise TypeError(f"log.{method}: unknown field {unknown[0]!r}; allowed: "
                        f"{', '.join(allowed)}")
    missing = [name for name in required if name not in fields]
    if missing:
        raise TypeError(f"log.{method}: {missing[0]!r} is required")
