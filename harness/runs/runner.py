"""Train an experiment's pending runs through joblib and save each pack's runs as they arrive.

Backends: loky (default, one process per core) or Dask distributed (``--backend dask``) via
joblib's dask backend; both run the same packs with the same worker function. Only this
process writes run files, as each pack returns (``return_as="generator_unordered"``), so a
crash or Ctrl-C loses at most the packs still training; the next ``harness run`` skips what
is done.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import sys
import time
import traceback
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import torch

from harness.ppo.numerics import NUMERICS
from harness.runs.checkpoints import (
    DEFAULT_EVERY,
    CheckpointWriter,
    DamagedCheckpoint,
    checkpoint_path,
    pack_checkpoints,
    read_checkpoint,
)
from harness.runs.expand import Pack, expand, make_packs, pack_key
from harness.runs.experiment import experiment_to_dict
from harness.runs.files import write_json
from harness.runs.progress import PackProgress, ProgressBar, pack_progress_path
from harness.runs.provenance import cpu_model, current, trained_numerics
from harness.runs.results import ResultsDir
from harness.runs.reuse import Source, copy_run, reusable
from harness.runs.spec import Experiment, RunSpec
from harness.runs.train import RunResult, train_runs
from harness.runs.worker_signals import init_worker

WORKER_ATTEMPTS = 3
"""Times a pack is trained before a worker that keeps dying makes its runs failed."""


class BackendError(RuntimeError):
    """The parallel backend cannot be used as asked (bad or unreachable scheduler)."""


@dataclass(frozen=True)
class RunSummary:
    """What one ``harness run`` did."""

    total: int
    """Runs in the experiment."""
    skipped: int
    """Runs already done before this invocation."""
    trained: int
    """Runs finished (not failed) by this invocation."""
    failed: tuple[str, ...]
    """Ids of the runs that failed in this invocation."""


def run_experiment(exp: Experiment, results_root: str | Path, *, jobs: int | None = None,
                   backend: str = "loky", scheduler: str | None = None,
                   checkpoint_every: float = DEFAULT_EVERY,
                   only: Collection[str] | None = None,
                   reuse: Sequence[str | Path] = ()) -> RunSummary:
    """Train every run of ``exp`` not yet done under ``results_root/<name>`` (of those in
    ``only``, when given: a look of a sequential design), each unfinished one from its latest
    checkpoint; packs checkpoint every ``checkpoint_every`` seconds (0: never). Runs that a
    ``reuse`` directory has done under the same config hash are copied, not trained."""
    rdir = ResultsDir(Path(results_root) / exp.name)
    specs = [s for s in expand(exp) if only is None or s.run_id in only]
    with (rdir.lock(" ".join(sys.argv)),
          _parallel(backend, scheduler, jobs, rdir.workers_dir) as n_workers):
        rdir.remove_temp_files()
        states = {s.run_id: rdir.state(s.run_id) for s in specs}
        for run_id in (r for r, state in states.items() if state == "damaged"):
            print(f"note: {run_id}: a results file is damaged (unreadable); training it again",
                  file=sys.stderr, flush=True)
            rdir.remove_damaged(run_id)
        found = reusable([s for s in specs if states[s.run_id] == "pending"], reuse)
        for spec in specs:
            if spec.run_id in found:
                copy_run(spec, found[spec.run_id], rdir)
                states[spec.run_id] = "done"
        todo = [s for s in specs if states[s.run_id] != "done"]
        resume = _checkpoints(rdir, todo)
        # A pack trains in lockstep, so runs resumed together must have stopped together.
        packs = make_packs(todo, n_workers, key=pack_key,
                           done={s.run_id: _done(s, resume) for s in todo})
        remaining = sum(s.total_steps - _done(s, resume) for s in todo)
        print(f"{exp.name}: {len(specs)} runs, {len(specs) - len(todo)} already done"
              f"{f' ({len(found)} copied from {_sources(found)})' if found else ''}; "
              f"training {len(todo)}{f' ({len(resume)} from checkpoints)' if resume else ''} "
              f"in {len(packs)} packs on {n_workers} {backend} workers ({remaining:,} env steps)",
              flush=True)
        sessions = rdir.sessions()  # resumes keep their history
        session = _session(backend, scheduler, n_workers)
        if found:  # where each copied run came from, for provenance: relative to the
            # manifest's folder, so the record stays true in a clone (e.g. ../reward_scale)
            session["reused"] = {run_id: os.path.relpath(src[0].root.resolve(),
                                                         rdir.root.resolve())
                                 for run_id, src in found.items()}
            session["reused_numerics"] = sorted({n for src in found.values()
                                                 for n in trained_numerics(src[0].sessions())})
        _write_manifest(rdir, exp, specs, [*sessions, session])
        status = "interrupted"  # unless training returns
        try:
            with ProgressBar(rdir.progress_dir, label=exp.name, total_steps=remaining,
                             total_runs=len(specs), done_runs=len(specs) - len(todo)) as bar:
                _train(packs, rdir, bar, resume, checkpoint_every)
            status = "complete"
        finally:
            # What is on disk is the truth, also after Ctrl-C.
            after = {s.run_id: rdir.state(s.run_id) for s in todo}
            failed = tuple(run for run, state in after.items() if state == "failed")
            session.update(finished=_now(), failed=list(failed),
                           trained=list(after.values()).count("done"),
                           status="failed" if failed and status == "complete" else status)
            _write_manifest(rdir, exp, specs, [*sessions, session])
    return RunSummary(total=len(specs), skipped=len(specs) - len(todo),
                      trained=session["trained"], failed=failed)


def train_pack_job(pack: Pack, progress_path: Path, root: Path,
                   checkpoint_every: float) -> list[RunResult]:
    """The worker function: train one pack on one torch thread, from its runs' latest
    checkpoints when it finds them all (a pack retried after its worker was lost resumes
    from the checkpoints it wrote itself); errors become failed runs."""
    torch.set_num_threads(1)  # one core per worker; more threads only contend
    ids = [s.run_id for s in pack]
    writer = CheckpointWriter(root, ids, checkpoint_every) if checkpoint_every > 0 else None
    try:
        return train_runs(pack, progress=PackProgress(progress_path), checkpoint=writer,
                          resume=pack_checkpoints(root, ids))
    except Exception as e:  # a crashing pack must not take the other packs down
        failure = {"reason": f"{type(e).__name__}: {e}", "update": None, "global_step": None,
                   "traceback": traceback.format_exc()}
        return [RunResult(s, pd.DataFrame(), pd.DataFrame(), failure) for s in pack]


def _train(packs: Sequence[Pack], rdir: ResultsDir, bar: ProgressBar,
           resume: dict[str, int], checkpoint_every: float) -> None:
    """Run the packs; write each pack's runs as it returns, then drop their checkpoints.

    A worker process that dies (the OOM killer, a pre-empted node, a lost Dask worker) takes
    the packs in flight with it, and nothing says which pack killed it: the packs that had not
    returned are trained again from their checkpoints. After ``WORKER_ATTEMPTS - 1`` such
    rounds each remaining pack gets one last try on its own, so a pack that keeps killing its
    worker becomes failed runs with the reason while the others finish.
    """
    pending = dict(enumerate(packs))
    for attempt in range(1, WORKER_ATTEMPTS):
        try:
            _train_round(pending, rdir, bar, resume, checkpoint_every)
            return
        except _worker_lost() as e:
            last = attempt == WORKER_ATTEMPTS - 1
            bar.write(f"a worker process died ({type(e).__name__}): training the "
                      f"{len(pending)} unfinished packs again from their checkpoints"
                      + (", one at a time" if last else ""))
    for i, pack in list(pending.items()):
        try:
            _train_round({i: pack}, rdir, bar, resume, checkpoint_every)
        except _worker_lost() as e:
            reason = (f"its worker process died ({type(e).__name__}) on each of "
                      f"{WORKER_ATTEMPTS} attempts to train this run's pack")
            for spec in pending.pop(i):
                rdir.write_run(RunResult(spec, pd.DataFrame(), pd.DataFrame(),
                                         {"reason": reason, "update": None,
                                          "global_step": None}))
            bar.write(f"failed: the {len(pack)} runs of {pack[0].run_id}'s pack: {reason}")


def _train_round(pending: dict[int, Pack], rdir: ResultsDir, bar: ProgressBar,
                 resume: dict[str, int], checkpoint_every: float) -> None:
    """Train the ``pending`` packs once, removing each from it as its results are written."""
    tasks = (joblib.delayed(train_pack_job)(pack, pack_progress_path(rdir.progress_dir, i),
                                            rdir.root, checkpoint_every)
             for i, pack in list(pending.items()))  # a copy: returned packs leave ``pending``
    # Results come back in completion order; a pack is known by its first run.
    index = {pack[0].run_id: i for i, pack in pending.items()}
    parallel = joblib.Parallel(return_as="generator_unordered", batch_size=1)
    # closing(): abort the workers at once if we stop (Ctrl-C) between two results.
    with contextlib.closing(parallel(tasks)) as done:
        for results in done:
            for result in results:
                rdir.write_run(result)
                checkpoint_path(rdir.root, result.spec.run_id).unlink(missing_ok=True)
                if result.failure is not None:
                    bar.write(f"failed: {result.spec.run_id}: {result.failure['reason']} "
                              f"(update {result.failure['update']}, "
                              f"step {result.failure['global_step']})")
            i = index[results[0].spec.run_id]
            del pending[i]
            bar.pack_done(i, sum(r.spec.total_steps - _done(r.spec, resume) for r in results),
                          len(results))


def _worker_lost() -> tuple[type[BaseException], ...]:
    """What joblib raises when a worker process dies: loky's error, and Dask's once the
    scheduler gave up on a task (after ``distributed.scheduler.allowed-failures`` retries)."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    try:
        from distributed import KilledWorker
    except ImportError:  # the cluster extra is optional
        return (TerminatedWorkerError,)
    return TerminatedWorkerError, KilledWorker


def _sources(found: dict[str, Source]) -> str:
    return ", ".join(sorted({str(rdir.root) for rdir, _ in found.values()}))


def _checkpoints(rdir: ResultsDir, todo: Sequence[RunSpec]) -> dict[str, int]:
    """The update each unfinished run's latest checkpoint was taken after, for the runs that
    have one; a damaged checkpoint, or one of another trainer version (``NUMERICS``: a run
    resumed across versions would be neither's), is removed with a note, and its run starts
    again."""
    found = {}
    for spec in todo:
        path = checkpoint_path(rdir.root, spec.run_id)
        try:
            snapshot = read_checkpoint(path)
        except DamagedCheckpoint as e:
            print(f"note: {e}: {spec.run_id} starts again", file=sys.stderr, flush=True)
            path.unlink(missing_ok=True)
            continue
        if snapshot is not None and snapshot.numerics != NUMERICS:
            print(f"note: {path}: written by trainer numerics {snapshot.numerics}, this is "
                  f"{NUMERICS}: {spec.run_id} starts again", file=sys.stderr, flush=True)
            path.unlink()
        elif snapshot is not None:
            found[spec.run_id] = snapshot.update
    return found


def _done(spec: RunSpec, resume: dict[str, int]) -> int:
    """Env steps ``spec`` has already trained (from its checkpoint)."""
    return resume.get(spec.run_id, 0) * spec.ppo.num_steps


@contextlib.contextmanager
def _parallel(backend: str, scheduler: str | None, jobs: int | None,
              workers_dir: Path) -> Iterator[int]:
    """Configure joblib for ``backend``; yields the number of workers (``jobs``: None or -1
    for all cores or all cluster threads). Loky workers hold lock files in ``workers_dir``."""
    jobs = None if jobs == -1 else jobs
    if backend == "loky":
        n_workers = loky_workers(jobs)
        # SIGINT (Ctrl-C) and SIGTERM (`timeout`, SLURM) may reach the whole process group, but
        # only the main process should handle them (it stops the workers). The initializer's
        # module imports nothing else, so a worker ignores them before it imports torch (a
        # worker interrupted while importing would print a traceback over the resume message).
        # Each worker also dies with this process and holds a lock file while alive.
        with joblib.parallel_config(backend="loky", n_jobs=n_workers, initializer=init_worker,
                                    initargs=(str(workers_dir),)):
            yield n_workers
        return
    if backend != "dask" or not scheduler:
        raise BackendError(f"backend {backend!r} with scheduler {scheduler!r}: use loky, "
                           "or dask with a scheduler address such as tcp://10.0.0.1:8786")
    try:
        from distributed import Client  # the `cluster` extra
    except ImportError:
        raise BackendError("the dask backend needs the cluster extra: "
                           "pip install 'vclip-harness[cluster]'") from None
    try:
        client = Client(scheduler)
    except OSError as e:
        raise BackendError(f"cannot connect to the Dask scheduler at {scheduler} ({e})") from None
    with client, joblib.parallel_config(backend="dask", n_jobs=jobs or -1):
        yield jobs or sum(client.nthreads().values())


def loky_workers(jobs: int | None) -> int:
    """``jobs`` capped at the cores (warned on stderr); all cores when None.

    Each worker trains its pack on one core and holds its own torch: more workers than cores
    only cut the packs smaller, add memory and contend.
    """
    cores = joblib.cpu_count()
    if jobs is not None and jobs > cores:
        print(f"warning: --jobs {jobs}: more than the {cores} cores here; using {cores} "
              "loky workers", file=sys.stderr, flush=True)
    return min(jobs or cores, cores)


def _session(backend: str, scheduler: str | None, n_workers: int) -> dict[str, Any]:
    """This invocation's record in the manifest."""
    return {"started": _now(), "finished": None, "status": "running",
            "command": sys.argv, "backend": backend, "scheduler": scheduler,
            "workers": n_workers, "host": {"name": socket.gethostname(),
                                           "platform": platform.platform(),
                                           "python": platform.python_version(),
                                           "cpus": os.cpu_count(), "cpu": cpu_model()},
            **current()}


def _write_manifest(rdir: ResultsDir, exp: Experiment, specs: Sequence[RunSpec],
                    sessions: list[dict[str, Any]]) -> None:
    """The resolved experiment, its run ids, and one session record per invocation."""
    write_json(rdir.manifest_path, {"experiment": experiment_to_dict(exp),
                                    "runs": [s.run_id for s in specs], "sessions": sessions})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
