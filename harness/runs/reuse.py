"""Reuse finished runs of other results directories instead of training them again.

A run's numbers are fixed by what its id's hash covers (``expand.config_hash``: env, seed,
steps and the resolved PPO config) and do not depend on its pack-mates (design §3, tested by
``tests/test_pack_independence.py``). So a done run of another experiment with the same hash
is this run: its tables are copied under this run's id with this experiment's identity
columns. The published studies share their common arms this way (``max`` at 0.2 and ``none``
with reward normalisation on, in ``baselines_vs_unclipped``, ``eps_sweep`` and
``reward_scale``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.ppo.agent import EPISODE_FIELDS, EVAL_FIELDS, UPDATE_FIELDS
from harness.runs.files import atomic_write
from harness.runs.results import ResultsDir
from harness.runs.schema import with_run_columns
from harness.runs.spec import RunSpec

Source = tuple[ResultsDir, str]
"""A results directory and the id a run has there."""


def digest(run_id: str) -> str:
    """The config hash at the end of a run id (``expand.run_id``)."""
    return run_id.rsplit("__", 1)[-1]


def reusable(specs: Sequence[RunSpec], sources: Sequence[Path | str]) -> dict[str, Source]:
    """Each of ``specs`` that one of ``sources`` (results/<name> directories) has done under
    the same hash, with where it is; the first source that has it wins."""
    found: dict[str, Source] = {}
    for root in reversed(sources):
        rdir = ResultsDir(Path(root))
        for path in rdir.root.glob("updates/*.parquet"):
            if rdir.state(path.stem) == "done":
                found[digest(path.stem)] = (rdir, path.stem)
    return {s.run_id: found[digest(s.run_id)] for s in specs if digest(s.run_id) in found}


def copy_run(spec: RunSpec, source: Source, target: ResultsDir) -> None:
    """Write the ``source`` run's files into ``target`` as ``spec``'s run: its tables with
    ``spec``'s identity columns, and its evaluations and policy where it has them."""
    rdir, source_id = source
    tables = ((rdir.evals_path(source_id), target.evals_path(spec.run_id), EVAL_FIELDS),
              (rdir.episodes_path(source_id), target.episodes_path(spec.run_id), EPISODE_FIELDS),
              (rdir.updates_path(source_id), target.updates_path(spec.run_id), UPDATE_FIELDS))
    policy = rdir.policy_path(source_id)
    if policy.exists():  # names no run: env, seed and parameters only
        data = policy.read_bytes()
        atomic_write(target.policy_path(spec.run_id), lambda f: f.write(data))
    for src, dst, fields in tables:  # updates last: its presence marks the run done
        if not src.exists():  # evaluations: only where the source's run was evaluated
            continue
        frame = pd.read_parquet(src)
        if (frame["env_id"] != spec.env_id).any() or (frame["seed"] != spec.seed).any():
            raise ValueError(f"{src}: its env or seed is not {spec.run_id}'s")
        frame = with_run_columns(frame[list(fields)], spec)
        atomic_write(dst, lambda f, frame=frame: frame.to_parquet(f, index=False))
