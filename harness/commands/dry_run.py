"""``harness run --dry-run``: the expanded matrix, each run's state, and the wall time of what
is left to train (``throughput``); trains nothing."""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.commands.status import (
    checkpointed_steps,
    print_looks,
    run_states,
    steps_line,
    text_table,
)
from harness.runs.expand import expand
from harness.runs.results import ResultsDir
from harness.runs.sequential_record import SequentialRecord, asked, may_train, stopped
from harness.runs.spec import Experiment, RunSpec


def print_dry_run(exp: Experiment, rdir: ResultsDir, jobs: int | None, backend: str,
                  reuse: Sequence[str]) -> None:
    """The matrix and the cost of the runs left on the workers ``--jobs`` gives ``backend``."""
    cores = os.cpu_count() or 1
    jobs = None if jobs == -1 else jobs
    # loky caps the workers at the cores; a Dask cluster has what --jobs says
    workers = jobs or cores if backend == "dask" else min(jobs or cores, cores)
    specs = expand(exp)
    steps = sum(s.total_steps for s in specs)
    print(f"experiment {exp.name} ({exp.source}): {len(exp.envs)} envs x {len(exp.seeds)} seeds"
          f" x {len(exp.variants)} variants = {len(specs)} runs, {steps:,} env steps "
          f"({', '.join(dict.fromkeys(f'{exp.steps(e):,}' for e in exp.envs))} per run)")
    print("variants (* = control):")
    for v in exp.variants:
        print(f"  {'*' if v.label == exp.control else ' '} {v.label}")
    from harness.runs.reuse import reusable  # reads parquet: pandas

    states, record = run_states(exp, rdir, specs)
    # a later look copies its runs as the first does (running_looks), so price neither
    waiting = [s for s in specs if states[s.run_id] in ("pending", "later")]
    for run_id, (source, _) in reusable(waiting, reuse).items():
        states[run_id] = f"copy from {source.root}"
    rows = [[s.run_id, s.env_id, str(s.seed), s.variant, states[s.run_id]] for s in specs]
    print(text_table(["run_id", "env_id", "seed", "variant", "state"], rows))
    if record is not None:
        print_looks(record)
    todo = [s for s in specs if states[s.run_id] in ("pending", "failed", "damaged", "later")]
    if exp.analysis.claims or exp.looks:
        print_claims(exp, rdir, record)
    resumed = checkpointed_steps(rdir, todo, states)
    if resumed:
        print(steps_line(specs, states, resumed))
    print_cost(exp, record, todo, workers, resumed)


def print_claims(exp: Experiment, rdir: ResultsDir, record: SequentialRecord | None) -> None:
    """Each claim's runs to decide, as ``harness plan`` prices them: on the study's own
    finished runs when it has some (the report's number), else on the published spreads."""
    from harness.analysis.study import experiment_results, run_scores
    from harness.commands import plan

    try:
        scores = run_scores(exp, experiment_results(exp, rdir.root))[exp.analysis.metric]
    except ValueError:  # no finished run yet
        scores = None
    found = plan.claim_prices(exp, scores, record, "this study's runs")
    if found:
        print("claims (runs per arm and env to decide, simulated; `harness plan` for more):")
        print("\n".join(plan.claim_lines(found)))


def print_cost(exp: Experiment, record: SequentialRecord | None, todo: Sequence[RunSpec],
               workers: int, resumed: dict[str, int]) -> None:
    """The expected wall time of the runs left: all of a fixed design's; for a sequential one,
    the next look's and, at most, every seed up to ``max`` of the comparisons still undecided
    (decided ones and clips that never acted get no more: ``running_looks``); the steps
    ``resumed`` from checkpoints (by run id) are not trained again."""
    now, may = asked(exp, record), may_train(exp, record)
    next_look = [s for s in todo if now(s.variant, s.seed)]
    at_most = [s for s in todo if may(s.variant, s.seed)]
    if not at_most:
        print("nothing left to train" + (f": the sequential design stopped because "
                                         f"{record.stopped.value}" if stopped(record) else ""))
        return
    from harness.analysis.effects import small_n_notes
    from harness.commands import throughput  # calibration imports torch in its own process

    for text in small_n_notes(exp.looks[0] if exp.looks else len(exp.seeds)):
        print(f"note: {text}")
    if exp.looks and not stopped(record):
        k = len(record.looks) if record else 0
        print(f"look {k + 1} ({exp.looks[k]} seeds per arm and env)" + (
            ":" if next_look else ": trained; the next `harness run` analyses it"))
        if next_look:
            print("\n".join(throughput.wall_time(next_look, workers, exp.looks, resumed)))
        print(f"at most (the {'undecided comparisons' if record else 'comparisons'}, "
              f"up to {exp.looks[-1]} seeds):")
    elif exp.looks:
        print("runs the recorded looks lack (the sequential design stopped):")
    print("\n".join(throughput.wall_time(at_most, workers, exp.looks, resumed)))
