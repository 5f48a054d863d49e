"""``harness export``: write the experiment's finished runs in another tool's format
(TensorBoard: ``analysis.tensorboard``)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from harness.commands.directories import check_directory
from harness.commands.errors import EXIT_OK, InputError
from harness.runs.experiment import load_experiment
from harness.runs.results import ResultsDir


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """One TensorBoard run per run id under ``--tensorboard``."""
    exp = load_experiment(args.experiment)
    rdir = ResultsDir(Path(args.results_dir) / exp.name)
    check_directory("--results-dir", args.results_dir, rdir.root, write=False)
    check_directory("--tensorboard", args.tensorboard, Path(args.tensorboard))
    from harness.analysis.study import experiment_results  # pandas, pyarrow
    from harness.analysis.tensorboard import export_tensorboard

    try:
        written = export_tensorboard(experiment_results(exp, rdir.root), Path(args.tensorboard))
    except (ValueError, ImportError) as e:
        raise InputError(str(e)) from None
    print(f"{len(written)} runs written to {args.tensorboard}; view them with: "
          f"tensorboard --logdir {shlex.quote(args.tensorboard)}")
    return EXIT_OK
