"""``harness compare``: did the runs under ``--results-dir`` reproduce the published ones
under ``--published``? ``analysis.reproduction`` judges (run by run on the same software and
CPU model, else within seed noise); the last line printed says what it found. Exit 0 when
reproduced, 1 when not (as ``diff`` does), 2 on bad input."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.errors import EXIT_FAILED_RUNS, EXIT_OK, InputError
from harness.commands.status import text_table
from harness.runs.experiment import load_experiment

if TYPE_CHECKING:  # pandas, pyarrow
    import pandas as pd

    from harness.analysis.load import Results


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Load both sides' finished runs of the experiment, print the per-cell means and the
    verdict's line."""
    exp = load_experiment(args.experiment)
    local, published = (Path(d) / exp.name for d in (args.results_dir, args.published))
    if local.resolve() == published.resolve():
        raise InputError(f"--published {args.published}: the same directory as --results-dir; "
                         "train into another one (e.g. --results-dir results/local)")
    from harness.analysis import reproduction  # scipy, pandas
    from harness.analysis.load import read_sessions
    from harness.analysis.study import experiment_results, run_scores

    try:
        mine, theirs = experiment_results(exp, local), experiment_results(exp, published)
    except ValueError as e:
        raise InputError(str(e)) from None
    metric = exp.analysis.metric
    evals = exp.analysis.eval_every is not None
    equal = reproduction.identical_runs(_tables(mine, evals), _tables(theirs, evals))
    cells = reproduction.seed_noise(run_scores(exp, mine)[metric], run_scores(exp, theirs)[metric])
    same = reproduction.same_machine(read_sessions(local), read_sessions(published))
    rep = reproduction.judge(equal, same, cells, exp.analysis.alpha)
    print(f"{local} against {published}, {metric} scores per env x variant:")
    print(text_table(["env_id", "variant", "runs", "mean", "published", "diff", "Holm p"],
                     [[r.env_id, r.variant, f"{r.n_local}/{r.n_published}",
                       f"{r.mean_local:.6g}", f"{r.mean_published:.6g}", f"{r.rel_diff:+.1%}",
                       f"{r.p_holm:.2g}"] for r in rep.cells.itertuples()]))
    print(rep.line(exp.analysis.alpha))
    return EXIT_OK if rep.reproduced else EXIT_FAILED_RUNS


def _tables(results: Results, evals: bool) -> dict[str, pd.DataFrame]:
    """The tables compared run by run: ``updates``, ``episodes`` and, if evaluated, ``evals``."""
    tables = {"updates": results.updates, "episodes": results.episodes}
    return tables | ({"evals": results.evals} if evals else {})
