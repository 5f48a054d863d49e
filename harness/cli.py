"""``harness`` command line (docs/design.md §4): parse the arguments and call the command's
module in ``harness.commands`` (run, status, plan, compare, report, export, rollout,
bench).

Exit codes (``commands.errors``): 0 ok; 1 some runs failed; 2 bad input or usage (one line
``error: ...`` on stderr, no traceback); 130 interrupted (Ctrl-C, SIGINT); 143 terminated
(SIGTERM). A command's module is imported only when it runs, so ``status`` and ``--dry-run``
answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness.commands.errors import EXIT_OK, EXIT_USAGE, InputError
from harness.runs.experiment import ExperimentError
from harness.runs.results import ResultsLocked


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line ``error: ...`` (DESIGN.md §4), not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script and ``python -m harness``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return importlib.import_module(f"harness.commands.{args.command}").main(args, argv)
    except (ExperimentError, ResultsLocked, InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `harness run --dry-run | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Does PPO's value-function clipping help? "
                     "Run and report ablation experiments.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")
    run = _experiment_args(sub.add_parser(
        "run", help="train the experiment's runs that are not done yet"))
    run.add_argument("--jobs", type=_jobs, default=None,
                     help="parallel workers; -1 or default: all cores (at most the cores for "
                          "loky; dask: the cluster's threads)")
    run.add_argument("--backend", choices=("loky", "dask"), default="loky")
    run.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://h:8786")
    run.add_argument("--checkpoint-every", metavar="SECONDS", type=_seconds, default=300.0,
                     help="save every unfinished run's state this often, so a killed run "
                          "resumes where it was (default 300; 0: never)")
    run.add_argument("--reuse", metavar="DIR", action="append", default=[],
                     help="copy the runs that another results/<name> directory has done with "
                          "the same config hash instead of training them (repeatable)")
    run.add_argument("--until-look", metavar="N", type=_positive_int, default=None,
                     help="a sequential design: pause once its Nth look is recorded (before "
                          "the next starts); the next `harness run` goes on")
    run.add_argument("--dry-run", action="store_true",
                     help="print the expanded matrix and env steps; train nothing")
    _experiment_args(sub.add_parser(
        "status", help="done / failed / pending runs per env and variant"))
    plan = sub.add_parser("plan", help="seeds each comparison needs, env steps and wall time")
    plan.add_argument("experiment", metavar="EXPERIMENT.yaml")
    plan.add_argument("--pilot", metavar="RESULTS_DIR", default=None,
                      help="finished runs (results/<name>) to take the spread of scores from; "
                           "default: published spreads")
    plan.add_argument("--jobs", type=_positive_int, default=None,
                      help="workers for the wall time (default: available cores)")
    export = _experiment_args(sub.add_parser(
        "export", help="write the runs in another tool's format"))
    export.add_argument("--tensorboard", metavar="DIR", required=True,
                        help="one TensorBoard run per run id under DIR")
    compare = _experiment_args(sub.add_parser(
        "compare", help="whether the runs under --results-dir reproduce the published ones"))
    compare.add_argument("--published", metavar="DIR", default="results",
                         help="the published runs are DIR/<name>/ (default: results)")
    report = _experiment_args(sub.add_parser("report", help="write results/<name>/report/"))
    report.add_argument("--n-boot", type=_positive_int, default=None,
                        help="bootstrap resamples (default: the report's own)")
    rollout = sub.add_parser("rollout", help="replay a finished run's saved policy")
    rollout.add_argument("run_id", metavar="RUN_ID")
    rollout.add_argument("--episodes", type=_positive_int, required=True, metavar="N",
                         help="episodes to play")
    rollout.add_argument("--results-dir", metavar="DIR", default="results",
                         help="search DIR/*/policies/ for the run (default: results)")
    rollout.add_argument("--video", metavar="FILE", type=Path, default=None,
                         help="also render the episodes to FILE (.mp4 or .gif; needs imageio, "
                              "and MUJOCO_GL=egl or osmesa without a display)")
    rollout.add_argument("--seed", type=_seed, default=None,
                         help="reset seeds of the episodes (default: the run's own, which "
                              "repeats its last evaluation)")
    bench = sub.add_parser("bench", help="measure env steps/s against the simulator and SB3")
    bench.add_argument("--env", default="Hopper-v5",
                       help="a gymnasium env id, or 'all': every MuJoCo v5 env, one line each")
    bench.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 (slow)")
    bench.add_argument("--steps", type=_positive_int, default=None,
                       help="env steps per measurement (default: the benchmark's own)")
    bench.add_argument("--json", metavar="FILE", default=None, help="also write results here")
    bench.add_argument("--profile", action="store_true",
                       help="instead of the rates, time each phase of a step (physics, "
                            "stepper, rollout, update by part) in a pack of 32")
    return parser


def _experiment_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("experiment", metavar="EXPERIMENT.yaml")
    parser.add_argument("--results-dir", metavar="DIR", default="results",
                        help="runs go to DIR/<name>/ (default: results)")
    return parser


def _positive_int(text: str) -> int:
    return _parsed(text, int, lambda v: v > 0, "a positive integer")


def _seconds(text: str) -> float:
    return _parsed(text, float, lambda v: 0 <= v < float("inf"), "a number of seconds >= 0")


def _seed(text: str) -> int:
    return _parsed(text, int, lambda v: v >= 0, "a non-negative integer")


def _jobs(text: str) -> int:
    """A positive count, or -1 for all cores (joblib's convention)."""
    return _parsed(text, int, lambda v: v > 0 or v == -1, "a positive integer or -1 (all cores)")


def _parsed(text: str, kind: type, valid: Callable[[Any], bool], allowed: str) -> Any:
    """``kind(text)`` if it is ``valid``, else argparse's one-line error naming ``allowed``."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    return value
