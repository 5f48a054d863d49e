"""Read an experiment's run files back into tidy pandas frames (the report's only input).

Tolerant by design: a missing directory reads as no runs, failed runs (``failures/*.json``),
unreadable files and runs missing one of their two tables are listed, never fatal. Evaluations
(``evals/``) are optional: runs without them are still finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from harness.ppo.config import PPOConfig
from harness.runs.schema import EPISODE_COLUMNS, EVAL_COLUMNS, UPDATE_COLUMNS
from harness.runs.spec import AnalysisSettings, Experiment, Variant


@dataclass(frozen=True)
class Failure:
    """A run that has no usable results, and why."""

    run_id: str
    error: str


@dataclass(frozen=True)
class Results:
    """The finished runs of one experiment: both tables hold exactly the same run ids."""

    updates: pd.DataFrame
    """One row per PPO update (docs/design.md §4 ``updates`` schema, plus the matrix axes)."""
    episodes: pd.DataFrame
    """One row per finished training episode (``episodes`` schema)."""
    failures: tuple[Failure, ...]
    """Failed, unreadable or incomplete runs, sorted by run id."""
    evals: pd.DataFrame
    """One row per evaluation episode (``evals`` schema) of the finished runs that have them."""

    @property
    def run_ids(self) -> tuple[str, ...]:
        """Finished runs, sorted."""
        return tuple(sorted(self.updates["run_id"].unique()))


def load_results(exp_dir: Path) -> Results:
    """Load ``exp_dir/{updates,episodes,evals}/*.parquet`` and ``exp_dir/failures/*.json``."""
    exp_dir = Path(exp_dir)
    updates, update_runs, bad_updates = read_table(exp_dir / "updates", UPDATE_COLUMNS)
    episodes, episode_runs, bad_episodes = read_table(exp_dir / "episodes", EPISODE_COLUMNS)
    evals, _, bad_evals = read_table(exp_dir / "evals", EVAL_COLUMNS)
    finished = (update_runs & episode_runs) - {f.run_id for f in bad_evals}
    incomplete = [Failure(r, "incomplete: only one of updates/episodes was written")
                  for r in update_runs ^ episode_runs]
    # one entry per run; the most specific reason wins (later entries overwrite)
    failures = {f.run_id: f for f in incomplete + bad_updates + bad_episodes + bad_evals
                + read_failures(exp_dir / "failures")}

    def done(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["run_id"].isin(finished)].reset_index(drop=True)

    return Results(updates=done(updates), episodes=done(episodes),
                   failures=tuple(failures[r] for r in sorted(set(failures) - finished)),
                   evals=done(evals))


def read_table(directory: Path, columns: tuple[str, ...],
               ) -> tuple[pd.DataFrame, set[str], list[Failure]]:
    """All ``directory/*.parquet`` as one frame, the run ids read (file names, so a run with
    no rows still counts) and the files that could not be read.

    One pyarrow dataset over the readable files, with their schemas unified so a run whose
    ``vf_clip_eps`` column is all null still stacks with the others. A missing directory
    gives an empty frame with ``columns``.
    """
    paths, schemas, bad = [], [], []
    for path in sorted(Path(directory).glob("*.parquet")):
        try:
            schemas.append(pq.read_schema(path))
            paths.append(str(path))
        except (OSError, pa.ArrowException) as err:
            bad.append(Failure(path.stem, f"unreadable {path.name}: {err}"))
    if not paths:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}), set(), bad
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    frame = ds.dataset(paths, schema=schema, format="parquet").to_table().to_pandas()
    return frame, {Path(p).stem for p in paths}, bad


def experiment_from_manifest(exp_dir: Path) -> Experiment:
    """The experiment recorded in ``exp_dir/manifest.json`` by ``harness run`` (for exploring
    results without the YAML file). Raises ``ValueError`` when there is no manifest."""
    path = Path(exp_dir) / "manifest.json"
    try:
        exp = json.loads(path.read_text())["experiment"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: no readable experiment record ({err}); pass the "
                         "experiment YAML instead") from None
    steps = exp["total_steps"]  # a number, or per env with a default
    per_env = {} if isinstance(steps, int) else dict(steps)
    return Experiment(
        name=exp["name"], envs=tuple(exp["envs"]), seeds=tuple(exp["seeds"]),
        total_steps=per_env.pop("default", steps), ppo=PPOConfig(**exp["ppo"]),
        variants=tuple(Variant(v["label"], tuple(v["overrides"].items()))
                       for v in exp["variants"]),
        control=exp["control"], axes=tuple(exp["axes"]), source=exp.get("source", ""),
        analysis=AnalysisSettings.from_record(exp.get("analysis", {})),
        env_steps=tuple(per_env.items()),
        looks=tuple(exp.get("looks", ())), env_kwargs=tuple(
            (env, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
            for env, kwargs in exp.get("env_kwargs", {}).items()))


def read_sessions(exp_dir: Path) -> list[dict]:
    """The ``harness run`` invocations recorded in ``exp_dir/manifest.json`` (commit, package
    versions, host, times), oldest first; none when there is no readable manifest."""
    try:
        sessions = json.loads((Path(exp_dir) / "manifest.json").read_text())["sessions"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def read_failures(directory: Path) -> list[Failure]:
    """``directory/<run_id>.json`` files written by the runner for failed runs."""
    failures = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            record = {"error": f"unreadable failure record: {err}"}
        failures.append(Failure(path.stem, _error_text(record)))
    return failures


def _error_text(record: object) -> str:
    """The error message of a failure record, whatever its exact layout."""
    if isinstance(record, dict):
        for key in ("error", "reason", "message", "exception", "traceback"):
            if record.get(key):
                where = (f" (at step {record['global_step']})"
                         if record.get("global_step") is not None else "")
                return str(record[key]).strip().splitlines()[-1] + where
    return json.dumps(record)[:200]
