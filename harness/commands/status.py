"""``harness status``: done / failed / damaged / pending runs per env and variant, and a
sequential design's looks; also the run states and look lines the dry run prints."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path

from harness.commands.directories import check_directory
from harness.commands.errors import EXIT_OK
from harness.commands.notes import print_notes
from harness.runs.expand import expand
from harness.runs.experiment import load_experiment
from harness.runs.results import RUN_STATES, ResultsDir
from harness.runs.sequential_record import SequentialRecord, asked, read_record
from harness.runs.spec import Experiment, RunSpec


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Print the experiment's runs by state, env and variant, then the failed and damaged."""
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    check_directory("--results-dir", args.results_dir, rdir.root, write=False)
    print_notes(exp, rdir)
    specs = expand(exp)
    states, record = run_states(exp, rdir, specs)
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
    print(text_table(["env_id", "variant", *columns], rows))
    if record is not None:
        print_looks(record)
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
    print(steps_line(specs, states, checkpointed_steps(rdir, specs, states)))
    return EXIT_OK


def run_states(exp: Experiment, rdir: ResultsDir,
               specs: Sequence[RunSpec]) -> tuple[dict[str, str], SequentialRecord | None]:
    """Each run's state (reading its tables), with the pending runs a sequential design has
    not asked for (yet) as ``later``; and the design's ``sequential.json`` (None if fixed)."""
    record = read_record(rdir.root) if exp.looks else None
    now = asked(exp, record)
    states = {s.run_id: rdir.state(s.run_id) for s in specs}
    states.update({s.run_id: "later" for s in specs
                   if states[s.run_id] == "pending" and not now(s.variant, s.seed)})
    return states, record


def checkpointed_steps(rdir: ResultsDir, specs: Sequence[RunSpec],
                       states: dict[str, str]) -> dict[str, int]:
    """Env steps each unfinished run's checkpoint holds (runs with a readable one), what the
    next ``harness run`` resumes from."""
    if not any((rdir.root / "checkpoints").glob("*.ckpt")):
        return {}
    # unpickling a snapshot imports torch: only when there are checkpoints to read
    from harness.runs.checkpoints import DamagedCheckpoint, checkpoint_path, read_checkpoint

    found = {}
    for spec in specs:
        if states[spec.run_id] in ("pending", "failed", "damaged"):
            with contextlib.suppress(DamagedCheckpoint):
                snapshot = read_checkpoint(checkpoint_path(rdir.root, spec.run_id))
                if snapshot is not None:
                    found[spec.run_id] = snapshot.update * spec.ppo.num_steps
    return found


def steps_line(specs: Sequence[RunSpec], states: dict[str, str],
               partial: dict[str, int]) -> str:
    """Env steps trained of all the runs': finished runs whole, unfinished ones as far as
    their checkpoints go."""
    total = sum(s.total_steps for s in specs)
    done = sum(s.total_steps for s in specs if states[s.run_id] == "done") + sum(partial.values())
    line = f"env steps: {done:,} of {total:,} ({done / total:.0%})"
    if partial:
        line += (f", of which {sum(partial.values()):,} in the checkpoints of {len(partial)} "
                 "unfinished runs (the next `harness run` resumes them there)")
    return line


def print_looks(record: SequentialRecord) -> None:
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


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in [headers, *rows])
