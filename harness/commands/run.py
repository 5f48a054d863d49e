"""``harness run``: train the experiment's runs that are not done yet (a sequential design look
by look: ``running_looks``), or with ``--dry-run`` show what that would train (``dry_run``).

Ctrl-C (SIGINT) and SIGTERM (``kill``, ``timeout``, SLURM) stop it the same clean way: workers
stopped, finished runs kept, the manifest's session marked ``interrupted``, the resume command
printed; exit 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from harness.commands.directories import check_directory
from harness.commands.dry_run import print_dry_run
from harness.commands.errors import (
    EXIT_FAILED_RUNS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    InputError,
)
from harness.commands.notes import print_notes
from harness.commands.status import print_looks
from harness.runs.experiment import load_experiment
from harness.runs.results import ResultsDir
from harness.runs.sequential_record import looked_runs
from harness.runs.spec import Experiment

if TYPE_CHECKING:  # the runner imports torch
    from harness.runs.runner import RunSummary


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it stops a run exactly as Ctrl-C does."""


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Check the options and the results dir, then train (or show, with ``--dry-run``)."""
    exp = load_experiment(args.experiment)
    if args.scheduler and args.backend != "dask":
        raise InputError("--scheduler: only used with --backend dask")
    if args.backend == "dask" and not args.scheduler:
        raise InputError("--backend dask: needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)")
    if args.until_look is not None and not exp.looks:
        raise InputError(f"--until-look: {exp.source} has no looks (seeds is a list or a "
                         "number, not {min, max, step})")
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    check_directory("--results-dir", args.results_dir, rdir.root)
    print_notes(exp, rdir)
    for source in args.reuse:
        if not (Path(source) / "updates").is_dir():
            raise InputError(f"--reuse {source}: not a results directory with finished runs "
                             "(results/<name>/updates/)")
    if args.dry_run:
        print_dry_run(exp, rdir, args.jobs, args.backend, args.reuse)
        return EXIT_OK
    try:
        with _sigterm_as_interrupt():
            summary = _train(exp, args)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as Terminated
        word = "terminated" if isinstance(e, Terminated) else "interrupted"
        print(f"\n{word}: finished runs are saved in {rdir.root}; resume with: "
              f"harness {shlex.join(argv)}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except OSError as e:  # a full disk, a directory made read-only while training
        print(f"error: writing results under {rdir.root} failed: {e.strerror or e}; files "
              f"already written are whole; resume with: harness {shlex.join(argv)}",
              file=sys.stderr)
        return EXIT_FAILED_RUNS
    print(f"{exp.name}: {summary.total} runs: {summary.skipped} were done, {summary.trained} "
          f"trained now, {len(summary.failed)} failed")
    if summary.failed:
        print(f"failed runs are recorded in {rdir.root / 'failures'}; `harness status "
              f"{args.experiment}` lists them, and the next `harness run` retries them")
        return EXIT_FAILED_RUNS
    return EXIT_OK


def _train(exp: Experiment, args: argparse.Namespace) -> RunSummary:
    from harness.runs.runner import BackendError, RunSummary, run_experiment  # imports torch

    options = {"jobs": args.jobs, "backend": args.backend, "scheduler": args.scheduler,
               "checkpoint_every": args.checkpoint_every, "reuse": args.reuse}
    try:
        if not exp.looks:
            return run_experiment(exp, args.results_dir, **options)
        from harness.commands.running_looks import run_sequential

        looks, record = run_sequential(exp, args.results_dir, until_look=args.until_look,
                                       **options)
    except BackendError as e:
        raise InputError(str(e)) from None
    print_looks(record)
    # over the looks: every run one of them asked for, each counted once
    total = len(looked_runs(record, exp.seeds)) * len(exp.envs)
    trained = sum(s.trained for s in looks)
    failed = tuple(dict.fromkeys(f for s in looks for f in s.failed))
    return RunSummary(total=total, skipped=total - trained - len(failed), trained=trained,
                      failed=failed)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``kill``, ``timeout``, SLURM) into ``Terminated`` while training."""
    def terminate(signum: int, frame: FrameType | None) -> NoReturn:
        # Deaf to further SIGTERMs until exit: `timeout` sends one to the command and another
        # to its process group, which must not cut the clean stop short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is terminate:
            signal.signal(signal.SIGTERM, previous)

