"""What a command warns of (stderr) before its work: what the numbers will silently differ by."""

from __future__ import annotations

import sys

from harness.runs.expand import expand
from harness.runs.experiment import step_warnings
from harness.runs.provenance import current, differences
from harness.runs.results import ResultsDir
from harness.runs.spec import Experiment


def print_notes(exp: Experiment, rdir: ResultsDir) -> None:
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
    missing = unevaluated(exp, rdir)
    if missing:
        print(f"note: {missing}", file=sys.stderr)
    sessions = rdir.sessions()
    changed = differences(sessions, current()) if sessions else []
    if changed:
        print(f"note: {rdir.root}: runs here were trained by other software than now: "
              f"{'; '.join(changed)}; they are reused as they are ({rdir.manifest_path.name} "
              "lists each session's)", file=sys.stderr)


def unevaluated(exp: Experiment, rdir: ResultsDir) -> str | None:
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
