"""``harness report``: write results/<name>/report/ (``analysis.report_writer``) from the
experiment's finished runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.commands.errors import EXIT_OK, InputError
from harness.commands.notes import unevaluated
from harness.runs.expand import expand
from harness.runs.experiment import load_experiment
from harness.runs.results import ResultsDir


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Refuse an experiment without finished runs (or without the evaluations its metric
    needs), then write the report."""
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    if not any(rdir.state(s.run_id) == "done" for s in expand(exp)):
        raise InputError(f"{rdir.root}: no finished runs of this experiment; "
                         f"run `harness run {args.experiment}` first")
    missing = unevaluated(exp, rdir)
    if missing and exp.analysis.metric == "eval":
        raise InputError(f"{exp.source}: analysis.metric: eval scores need evaluations; "
                         f"{missing}")
    if missing:
        print(f"note: {missing}", file=sys.stderr)
    from harness.analysis.report_writer import write_report  # scipy, matplotlib, seaborn

    options = {} if args.n_boot is None else {"n_boot": args.n_boot}
    print(f"report written to {write_report(exp, rdir.root, **options)}")
    return EXIT_OK
