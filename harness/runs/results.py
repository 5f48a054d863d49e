"""One experiment's results directory (docs/design.md §2): paths, run states, lock.

Every file is written atomically (``files.atomic_write``), so a reader (or a resumed run) sees
a whole file or none. A run is done when its ``updates`` file exists; that file is written
last, after its episodes, its evaluations (when the experiment sets ``eval_every``) and its
policy. A done run without evaluations was trained before ``eval_every`` was set (the run id
does not cover it, as it does not change the training numbers): it stays done, and ``harness
status`` and ``report`` say so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.runs.files import TEMP_SUFFIX, atomic_write, write_json
from harness.runs.worker_signals import worker_lock_owner

if TYPE_CHECKING:  # the trainer imports torch; status and dry runs must not
    from harness.runs.train import RunResult

POLICIES = "policies"
"""Folder of the finished runs' policies in an experiment's directory."""

RunState = Literal["done", "failed", "damaged", "pending"]
RUN_STATES: tuple[RunState, ...] = ("done", "failed", "damaged", "pending")


class ResultsLocked(RuntimeError):
    """Another ``harness run`` holds the results directory."""


@dataclass(frozen=True)
class ResultsDir:
    """Paths and file operations under ``results/<name>/``."""

    root: Path
    """The experiment's directory, ``<results dir>/<name>``."""

    @property
    def manifest_path(self) -> Path:
        """What was run, with which software, where and when."""
        return self.root / "manifest.json"

    @property
    def lock_path(self) -> Path:
        """Held (flock) by the running ``harness run``; the kernel frees it if that dies."""
        return self.root / ".lock"

    @property
    def workers_dir(self) -> Path:
        """One lock file per live loky worker (``worker_signals.init_worker``)."""
        return self.root / ".workers"

    @property
    def progress_dir(self) -> Path:
        """Workers' per-pack progress files while a run is going."""
        return self.root / ".progress"

    def updates_path(self, run_id: str) -> Path:
        """One row per PPO update."""
        return self.root / "updates" / f"{run_id}.parquet"

    def episodes_path(self, run_id: str) -> Path:
        """One row per finished episode."""
        return self.root / "episodes" / f"{run_id}.parquet"

    def evals_path(self, run_id: str) -> Path:
        """One row per evaluation episode of the deterministic policy (``eval_every`` set)."""
        return self.root / "evals" / f"{run_id}.parquet"

    def policy_path(self, run_id: str) -> Path:
        """The finished run's policy (``ppo.policy.policy_record``, saved with ``torch.save``)."""
        return self.root / POLICIES / f"{run_id}.pt"

    def failure_path(self, run_id: str) -> Path:
        """Why and when a run stopped (failed runs only)."""
        return self.root / "failures" / f"{run_id}.json"

    def state(self, run_id: str) -> RunState:
        """done (both tables written and readable), damaged (a table that cannot be read: a
        copy cut short, a disk that filled up), failed (a failure record) or pending."""
        tables = (self.updates_path(run_id), self.episodes_path(run_id))
        if all(p.exists() for p in tables):
            evals = self.evals_path(run_id)
            readable = [*tables, evals] if evals.exists() else tables
            return "done" if all(_readable(p) for p in readable) else "damaged"
        return "failed" if self.failure_path(run_id).exists() else "pending"

    def without_evals(self, run_ids: Iterable[str]) -> list[str]:
        """Done runs of ``run_ids`` that have no evaluations (trained before ``eval_every``
        was set)."""
        return [r for r in run_ids
                if self.updates_path(r).exists() and not self.evals_path(r).exists()]

    def remove_damaged(self, run_id: str) -> None:
        """Drop a damaged run's files so it is trained again."""
        for path in (self.updates_path(run_id), self.episodes_path(run_id),
                     self.evals_path(run_id), self.policy_path(run_id)):
            path.unlink(missing_ok=True)

    def stray_runs(self, run_ids: Iterable[str]) -> list[str]:
        """Done runs on disk that are not among ``run_ids`` (e.g. an earlier ``total_steps``)."""
        return sorted({p.stem for p in self.root.glob("updates/*.parquet")} - set(run_ids))

    def sessions(self) -> list[dict[str, Any]]:
        """The manifest's record of each ``harness run`` on this directory (none if unread)."""
        try:
            return list(json.loads(self.manifest_path.read_text())["sessions"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def read_failure(self, run_id: str) -> dict[str, Any]:
        """A failed run's record."""
        return json.loads(self.failure_path(run_id).read_text())

    def write_run(self, result: RunResult) -> None:
        """Save a finished run: its tables and policy, or its failure record."""
        run_id = result.spec.run_id
        if result.failure is not None:
            spec = result.spec
            record = {"run_id": run_id, "experiment": spec.experiment, "env_id": spec.env_id,
                      "seed": spec.seed, "variant": spec.variant, **result.failure}
            write_json(self.failure_path(run_id), record)
            return
        import torch  # deferred: status and dry runs must not import it; the runner has

        atomic_write(self.episodes_path(run_id),
                     lambda f: result.episodes.to_parquet(f, index=False))
        if result.spec.evaluation is not None:
            atomic_write(self.evals_path(run_id),
                         lambda f: result.evals.to_parquet(f, index=False))
        if result.policy is not None:  # plug-in trainers keep their policies to themselves
            atomic_write(self.policy_path(run_id), lambda f: torch.save(result.policy, f))
        # updates last: its presence marks the run done.
        atomic_write(self.updates_path(run_id),
                     lambda f: result.updates.to_parquet(f, index=False))
        self.failure_path(run_id).unlink(missing_ok=True)  # an earlier attempt's record

    def remove_temp_files(self) -> None:
        """Drop half-written files left by a killed run."""
        for pattern in (f".*{TEMP_SUFFIX}", f"*/.*{TEMP_SUFFIX}"):
            for path in self.root.glob(pattern):
                path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, command: str, workers_grace_s: float = 10.0) -> Iterator[None]:
        """Hold the directory for one ``harness run``; raise ``ResultsLocked`` if taken, by
        another run or, after ``workers_grace_s``, by the workers of a run that died."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ResultsLocked(
                    f"{self.root}: in use by another `harness run` ({self._holder()}); wait for "
                    "it to finish or stop it, or choose another --results-dir") from None
            f.truncate(0)
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                       "started": time.strftime("%Y-%m-%d %H:%M:%S")}, f)
            f.flush()
            self._wait_for_old_workers(workers_grace_s)
            yield

    def _wait_for_old_workers(self, grace_s: float) -> None:
        """Wait until no worker of an earlier ``harness run`` holds its lock file (a SIGKILLed
        run's workers notice within ``PARENT_POLL_S`` and die); raise ``ResultsLocked`` if some
        still do after ``grace_s``. This process's own workers (a sequential study's earlier
        looks, a warm-up) are named after it and skipped."""
        deadline = time.monotonic() + grace_s
        while alive := _foreign_workers(self.workers_dir):
            if time.monotonic() > deadline:
                raise ResultsLocked(
                    f"{self.root}: workers of an earlier `harness run` still write here "
                    f"(pids {', '.join(alive)}); stop them (kill {' '.join(alive)}) and "
                    "run again")
            time.sleep(0.1)

    def running(self) -> str | None:
        """Who holds the lock (for ``status``), or None when no run is going."""
        if not self.lock_path.exists():
            return None
        with open(self.lock_path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self._holder()
        return None

    def _holder(self) -> str:
        try:
            info = json.loads(self.lock_path.read_text())
            return f"pid {info['pid']} on {info['host']} since {info['started']}"
        except (OSError, ValueError, KeyError):
            return "holder unknown"


def _foreign_workers(workers_dir: Path) -> list[str]:
    """Pids of live workers of other ``harness run`` processes; stale lock files (their
    worker died) are removed."""
    alive = []
    for path in sorted(workers_dir.glob("*.lock")):
        parent, pid = worker_lock_owner(path.name)
        if parent == str(os.getpid()):
            continue
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                alive.append(pid)
                continue
        path.unlink(missing_ok=True)
    return alive


def _readable(path: Path) -> bool:
    """Whether a parquet file's footer reads back (a truncated file loses its footer)."""
    import pyarrow.parquet as pq  # deferred: only needed when there are finished runs

    try:
        pq.read_metadata(path)
    except Exception:  # pyarrow raises several kinds on a cut-short or foreign file
        return False
    return True


def find_policies(results_root: Path, run_id: str) -> list[Path]:
    """The saved policies of run ``run_id`` in every experiment under ``results_root``."""
    return sorted(p for d in Path(results_root).glob(f"*/{POLICIES}")
                  if (p := d / f"{run_id}.pt").is_file())
