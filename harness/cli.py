"""``harness`` command line (docs/design.md §4): run, status, plan, report, export, rollout,
bench.

Exit codes: 0 ok; 1 some runs failed; 2 bad input or usage (one line ``error: ...`` on
stderr, no traceback); 130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM: ``kill``,
``timeout``, SLURM). Both signals stop ``harness run`` the same clean way: workers stopped,
finished runs kept, the manifest's session marked ``interrupted``, the resume command
printed. Commands import torch and friends only when they need them, so ``status`` and
``--dry-run`` answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from harness.runs.expand import expand
from harness.runs.experiment import ExperimentError, load_experiment, step_warnings
from harness.runs.provenance import current, differences
from harness.runs.results import RUN_STATES, ResultsDir, ResultsLocked
from harness.runs.sequential_record import (
    SequentialRecord,
    asked,
    looked_runs,
    may_train,
    read_record,
    stopped,
)
from harness.runs.spec import Experiment, RunSpec

if TYPE_CHECKING:  # the runner imports torch
    from harness.runs.runner import RunSummary

EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM  # shell convention


class InputError(Exception):
    """A bad command-line value; its text follows ``error:``."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it stops a run exactly as Ctrl-C does."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line ``error: ...`` (DESIGN.md §4), not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script and ``python -m harness``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return args.command(args, argv)
    except (ExperimentError, ResultsLocked, InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `harness run --dry-run | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Does PPO's value-function clipping help? "
                     "Run and report ablation experiments.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="train the experiment's runs that are not done yet")
    _experiment_args(run)
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
    run.set_defaults(command=_run)
    status = sub.add_parser("status", help="done / failed / pending runs per env and variant")
    _experiment_args(status)
    status.set_defaults(command=_status)
    plan = sub.add_parser("plan", help="seeds each comparison needs, env steps and wall time")
    plan.add_argument("experiment", metavar="EXPERIMENT.yaml")
    plan.add_argument("--pilot", metavar="RESULTS_DIR", default=None,
                      help="finished runs (results/<name>) to take the spread of scores from; "
                           "default: published spreads")
    plan.add_argument("--jobs", type=_positive_int, default=None,
                      help="workers for the wall time (default: available cores)")
    plan.set_defaults(command=_plan)
    export = sub.add_parser("export", help="write the runs in another tool's format")
    _experiment_args(export)
    export.add_argument("--tensorboard", metavar="DIR", required=True,
                        help="one TensorBoard run per run id under DIR")
    export.set_defaults(command=_export)
    report = sub.add_parser("report", help="write results/<name>/report/")
    _experiment_args(report)
    report.add_argument("--n-boot", type=_positive_int, default=None,
                        help="bootstrap resamples (default: the report's own)")
    report.set_defaults(command=_report)
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
    rollout.set_defaults(command=_rollout)
    bench = sub.add_parser("bench", help="measure env steps/s against the simulator and SB3")
    bench.add_argument("--env", default="Hopper-v5",
                       help="a gymnasium env id, or 'all': every MuJoCo v5 env, one line each")
    bench.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 (slow)")
    bench.add_argument("--steps", type=_positive_int, default=None,
                       help="env steps per measurement (default: the benchmark's own)")
    bench.add_argument("--json", metavar="FILE", default=None, help="also write results here")
    bench.set_defaults(command=_bench)
    return parser


def _experiment_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXPERIMENT.yaml")
    parser.add_argument("--results-dir", metavar="DIR", default="results",
                        help="runs go to DIR/<name>/ (default: results)")


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    exp = load_experiment(args.experiment)
    if args.scheduler and args.backend != "dask":
        raise InputError("--scheduler: only used with --backend dask")
    if args.backend == "dask" and not args.scheduler:
        raise InputError("--backend dask: needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)")
    if args.until_look is not None and not exp.looks:
        raise InputError(f"--until-look: {exp.source} has no looks (seeds is a list or a "
                         "number, not {min, max, step})")
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    _check_results_dir(args.results_dir, rdir.root)
    _print_notes(exp, rdir)
    for source in args.reuse:
        if not (Path(source) / "updates").is_dir():
            raise InputError(f"--reuse {source}: not a results directory with finished runs "
                             "(results/<name>/updates/)")
    if args.dry_run:
        cores = os.cpu_count() or 1
        jobs = None if args.jobs == -1 else args.jobs
        # loky caps the workers at the cores; a Dask cluster has what --jobs says
        workers = jobs or cores if args.backend == "dask" else min(jobs or cores, cores)
        _print_matrix(exp, rdir, workers, args.reuse)
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
        from harness.sequential import run_sequential

        looks, record = run_sequential(exp, args.results_dir, until_look=args.until_look,
                                       **options)
    except BackendError as e:
        raise InputError(str(e)) from None
    _print_looks(record)
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


def _check_results_dir(option: str, exp_dir: Path) -> None:
    """Refuse, before any work, a results directory that can be neither created nor written."""
    existing = exp_dir
    while not os.path.lexists(existing):  # the nearest part that exists is what we write in
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--results-dir {option}: {existing} is not a directory; give a "
                         "directory that exists or can be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--results-dir {option}: {existing} is not writable; give a "
                         "directory you can write in")


def _print_notes(exp: Experiment, rdir: ResultsDir) -> None:
    """Warn (stderr) of what the numbers will silently differ by: steps, stray runs, runs
    without evaluations, software."""
    for text in step_warnings(exp):
        print(f"warning: {text}", file=sys.stderr)
    stray = rdir.stray_runs(s.run_id for s in expand(exp))
    if stray:
        print(f"note: {rdir.root / 'updates'}: finished runs that are not runs of {exp.source} "
              f"as it is now: {len(stray)} (from an earlier total_steps, seeds or ppo setting?); "
              "run and status ignore them, but report still counts those of the same env and "
              "variant", file=sys.stderr)
    unevaluated = _unevaluated(exp, rdir)
    if unevaluated:
        print(f"note: {unevaluated}", file=sys.stderr)
    sessions = rdir.sessions()
    changed = differences(sessions, current()) if sessions else []
    if changed:
        print(f"note: {rdir.root}: runs here were trained by other software than now: "
              f"{'; '.join(changed)}; they are reused as they are ({rdir.manifest_path.name} "
              "lists each session's)", file=sys.stderr)


def _status(args: argparse.Namespace, argv: list[str]) -> int:
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    _print_notes(exp, rdir)
    specs = expand(exp)
    states, record = _states(exp, rdir, specs)
    columns = [*RUN_STATES, *(["later"] if exp.looks else [])]
    counts = {(e, v.label): dict.fromkeys(columns, 0) for e in exp.envs for v in exp.variants}
    for spec in specs:
        counts[spec.env_id, spec.variant][states[spec.run_id]] += 1
    totals = {state: list(states.values()).count(state) for state in columns}
    running = rdir.running()
    print(f"{exp.name}: {len(specs)} runs in {rdir.root}: " + ", ".join(
        f"{n} {state}" for state, n in totals.items())
        + (f" (a run is in progress: {running})" if running else ""))
    rows = [[env, label + (" (control)" if label == exp.control else ""),
             *map(str, c.values())] for (env, label), c in counts.items()]
    print(_table(["env_id", "variant", *columns], rows))
    if record is not None:
        _print_looks(record)
    if exp.looks:
        print("later: runs a sequential design trains only if a later look needs them")

    for spec in specs:
        if states[spec.run_id] == "damaged":
            print(f"damaged: {spec.run_id}: a results file cannot be read; the next "
                  "`harness run` trains it again")
        if states[spec.run_id] == "failed":
            f = rdir.read_failure(spec.run_id)
            print(f"failed: {spec.run_id}: {f.get('reason')} (update {f.get('update')}, "
                  f"step {f.get('global_step')})")
    return EXIT_OK


def _states(exp: Experiment, rdir: ResultsDir,
            specs: Sequence[RunSpec]) -> tuple[dict[str, str], SequentialRecord | None]:
    """Each run's state (reading its tables), with the pending runs a sequential design has
    not asked for (yet) as ``later``; and the design's ``sequential.json`` (None if fixed)."""
    record = read_record(rdir.root) if exp.looks else None
    now = asked(exp, record)
    states = {s.run_id: rdir.state(s.run_id) for s in specs}
    states.update({s.run_id: "later" for s in specs
                   if states[s.run_id] == "pending" and not now(s.variant, s.seed)})
    return states, record


def _unevaluated(exp: Experiment, rdir: ResultsDir) -> str | None:
    """One line on the done runs without evaluations when the experiment evaluates its runs
    (they were trained before ``eval_every`` was set, which leaves run ids alone), else None."""
    if exp.analysis.eval_every is None:
        return None
    missing = rdir.without_evals(s.run_id for s in expand(exp))
    if not missing:
        return None
    return (f"done runs without evaluations (evals/): {len(missing)}, e.g. {missing[0]}; "
            "trained before analysis.eval_every was set, they have no eval score. Delete "
            f"their files in {rdir.root / 'updates'} to train them again")


def _print_looks(record: SequentialRecord) -> None:
    """A sequential design's looks so far (``sequential.json``), one line each."""
    for look in record.looks:
        verdicts = "; ".join([f"{c.variant} vs {c.control}: {c.verdict}"
                              for c in look.comparisons]
                             + [f"{v} never clipped: no more seeds" for v in look.never_clipped])
        print(f"look {look.look} ({look.runs_per_arm} runs per arm and env, level "
              f"{look.level:.3g}): {verdicts}")
    if record.has_stopped:
        print(f"sequential design: stopped because {record.stopped.value}")
    else:
        print(f"sequential design: running; the next `harness run` trains look "
              f"{len(record.looks) + 1}")


def _report(args: argparse.Namespace, argv: list[str]) -> int:
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    if not any(rdir.state(s.run_id) == "done" for s in expand(exp)):
        raise InputError(f"{rdir.root}: no finished runs of this experiment; "
                         f"run `harness run {args.experiment}` first")
    unevaluated = _unevaluated(exp, rdir)
    if unevaluated and exp.analysis.metric == "eval":
        raise InputError(f"{exp.source}: analysis.metric: eval scores need evaluations; "
                         f"{unevaluated}")
    if unevaluated:
        print(f"note: {unevaluated}", file=sys.stderr)
    from harness.analysis.report import write_report  # imports scipy, matplotlib, seaborn

    options = {} if args.n_boot is None else {"n_boot": args.n_boot}
    print(f"report written to {write_report(exp, rdir.root, **options)}")
    return EXIT_OK


def _plan(args: argparse.Namespace, argv: list[str]) -> int:
    exp = load_experiment(args.experiment)
    if args.pilot is not None and not Path(args.pilot).is_dir():
        raise InputError(f"--pilot {args.pilot}: not a directory; give a results directory "
                         "such as results/<name>")
    from harness import plan  # imports scipy and pandas; calibration imports torch

    try:
        spread = (plan.published_spread if args.pilot is None
                  else plan.pilot_spread(Path(args.pilot), exp.analysis.metric,
                                   exp.analysis.final_window))
    except ValueError as e:
        raise InputError(str(e)) from None
    found = plan.needs(exp, spread)
    table = plan.cost(exp, plan.planned_seeds(exp, found),
                      plan.calibrate(exp.envs)) if found else None
    print(plan.render(exp, found, table, args.jobs or os.cpu_count() or 1))
    return EXIT_OK


def _export(args: argparse.Namespace, argv: list[str]) -> int:
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    from harness.analysis.export import export_tensorboard
    from harness.analysis.study import experiment_results

    try:
        written = export_tensorboard(experiment_results(exp, rdir.root), Path(args.tensorboard))
    except (ValueError, ImportError) as e:
        raise InputError(str(e)) from None
    print(f"{len(written)} runs written to {args.tensorboard}; view them with: "
          f"tensorboard --logdir {shlex.quote(args.tensorboard)}")
    return EXIT_OK


def _rollout(args: argparse.Namespace, argv: list[str]) -> int:
    if args.video is not None:
        # MuJoCo picks its OpenGL backend when imported; headless machines need EGL or OSMesa
        os.environ.setdefault("MUJOCO_GL", "egl")
    from harness.replay import ReplayError, find_policy, load_policy, replay  # imports torch

    try:
        path = find_policy(Path(args.results_dir), args.run_id)
        record = load_policy(path)
        played = replay(record, args.episodes, seed=args.seed, video=args.video)
    except ReplayError as e:
        raise InputError(str(e)) from None
    print(f"{args.run_id} ({record['env_id']}, {path}): deterministic policy")
    for episode, ret, length in played:
        print(f"episode {episode}: return {ret:.2f}, length {length}")
    mean_return = sum(r for _, r, _ in played) / len(played)
    mean_length = sum(n for _, _, n in played) / len(played)
    print(f"mean over {len(played)} episodes: return {mean_return:.2f}, length {mean_length:.1f}")
    if args.video is not None:
        print(f"video written to {args.video}")
    return EXIT_OK


def _bench(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.bench import main as bench_main  # imports torch, gymnasium

    return bench_main(args) or EXIT_OK


def _print_matrix(exp: Experiment, rdir: ResultsDir, workers: int,
                  reuse: Sequence[str]) -> None:
    specs = expand(exp)
    steps = sum(s.total_steps for s in specs)
    print(f"experiment {exp.name} ({exp.source}): {len(exp.envs)} envs x {len(exp.seeds)} seeds"
          f" x {len(exp.variants)} variants = {len(specs)} runs, {steps:,} env steps "
          f"({', '.join(dict.fromkeys(f'{exp.steps(e):,}' for e in exp.envs))} per run)")
    print("variants (* = control):")
    for v in exp.variants:
        print(f"  {'*' if v.label == exp.control else ' '} {v.label}")
    from harness.runs.reuse import reusable  # reads parquet: pandas

    states, record = _states(exp, rdir, specs)
    # a later look copies its runs as the first does (harness.sequential), so price neither
    waiting = [s for s in specs if states[s.run_id] in ("pending", "later")]
    for run_id, (source, _) in reusable(waiting, reuse).items():
        states[run_id] = f"copy from {source.root}"
    rows = [[s.run_id, s.env_id, str(s.seed), s.variant, states[s.run_id]] for s in specs]
    print(_table(["run_id", "env_id", "seed", "variant", "state"], rows))
    if record is not None:
        _print_looks(record)
    todo = [s for s in specs if states[s.run_id] in ("pending", "failed", "damaged", "later")]
    _print_cost(exp, record, todo, workers)


def _print_cost(exp: Experiment, record: SequentialRecord | None, todo: Sequence[RunSpec],
                workers: int) -> None:
    """The expected wall time of the runs left: all of a fixed design's; for a sequential one,
    the next look's and, at most, every seed up to ``max`` of the comparisons still undecided
    (decided ones and clips that never acted get no more: ``harness.sequential``)."""
    now, may = asked(exp, record), may_train(exp, record)
    next_look = [s for s in todo if now(s.variant, s.seed)]
    at_most = [s for s in todo if may(s.variant, s.seed)]
    if not at_most:
        print("nothing left to train" + (f": the sequential design stopped because "
                                         f"{record.stopped.value}" if stopped(record) else ""))
        return
    from harness import plan  # calibration imports torch in its own process
    from harness.analysis.effects import small_n_notes

    for text in small_n_notes(exp.looks[0] if exp.looks else len(exp.seeds)):
        print(f"note: {text}")
    rates = plan.calibrate(exp.envs)
    if exp.looks and not stopped(record):
        k = len(record.looks) if record else 0
        print(f"look {k + 1} ({exp.looks[k]} seeds per arm and env)" + (
            ":" if next_look else ": trained; the next `harness run` analyses it"))
        if next_look:
            print("\n".join(plan.estimate(next_look, rates, workers)))
        print(f"at most (the {'undecided comparisons' if record else 'comparisons'}, "
              f"up to {exp.looks[-1]} seeds):")
    elif exp.looks:
        print("runs the recorded looks lack (the sequential design stopped):")
    print("\n".join(plan.estimate(at_most, rates, workers)))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in [headers, *rows])


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
