"""Train runs: each ``RunSpec`` becomes an agent of ``ppo.trainer.train_pack``, and its logs
get the run's identity columns (docs/design.md §4 results schema)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from harness.ppo.snapshot import AgentSnapshot
from harness.ppo.trainer import Checkpoint, train_pack
from harness.runs.schema import with_run_columns
from harness.runs.spec import RunSpec
from harness.runs.trainers import HARNESS


@dataclass(frozen=True)
class RunResult:
    """One run's tables (docs/design.md §4 schema) and, if it diverged, why."""

    spec: RunSpec
    """The run."""
    updates: pd.DataFrame
    """One row per PPO update."""
    episodes: pd.DataFrame
    """One row per finished episode."""
    failure: dict | None
    """None, or ``{"reason", "update", "global_step"}`` for a run stopped on NaN/inf."""
    evals: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per evaluation episode; empty when the run is not evaluated."""
    policy: dict | None = None
    """The trained policy to save (``ppo.policy.policy_record``); None for a failed run."""


def pack_key(spec: RunSpec) -> tuple:
    """Runs with equal keys can share a pack (``AgentSpec.pack_key``); a plug-in trainer's
    run trains alone."""
    if spec.ppo.trainer != HARNESS:
        return ("trainer", spec.run_id)
    return spec.agent.pack_key


def train_runs(specs: Sequence[RunSpec], *, progress: Callable[[int], None] | None = None,
               checkpoint: Checkpoint | None = None,
               resume: Sequence[AgentSnapshot] | None = None) -> list[RunResult]:
    """Train ``specs`` (equal ``pack_key``) as one pack; one result per spec, in order.

    ``checkpoint`` and ``resume`` as ``ppo.trainer.train_pack`` takes them; a plug-in
    trainer has neither (an interrupted run starts again)."""
    if specs[0].ppo.trainer != HARNESS:
        from harness.runs.trainers.plugin import train_with  # deferred: the adapters' imports

        return [RunResult(spec, *train_with(spec, progress)) for spec in specs]
    logs = train_pack([s.agent for s in specs], progress=progress, checkpoint=checkpoint,
                      resume=resume)
    return [RunResult(spec, with_run_columns(log.updates, spec),
                      with_run_columns(log.episodes, spec), log.failure,
                      with_run_columns(log.evals, spec), log.policy)
            for spec, log in zip(specs, logs, strict=True)]

