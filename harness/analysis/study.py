"""An experiment's finished runs and their scores: what the report, the look loop and
``harness export`` read (``load`` reads the files, ``scores`` scores one frame)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.analysis.load import Results, load_results
from harness.analysis.scores import auc_scores, eval_scores, final_scores
from harness.analysis.tables import in_experiment_order
from harness.runs.expand import expand
from harness.runs.spec import Experiment


def experiment_results(exp: Experiment, exp_dir: Path) -> Results:
    """The finished runs of ``exp`` as it is now: its run ids only, so runs left in the dir
    by an earlier version of the file (another ``total_steps``, seeds or settings) or by
    other experiments are ignored."""
    results = load_results(exp_dir)
    ids = {s.run_id for s in expand(exp)}

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["run_id"].isin(ids)].reset_index(drop=True)

    results = Results(keep(results.updates), keep(results.episodes), results.failures,
                      keep(results.evals))
    if not results.run_ids:
        source = exp.source or "EXPERIMENT.yaml"
        raise ValueError(f"no finished runs in {exp_dir}: run `harness run {source}` first")
    return results


def run_scores(exp: Experiment, results: Results) -> dict[str, pd.DataFrame]:
    """Each run's ``final`` and ``auc`` score, and its ``eval`` score when the experiment
    evaluates its runs (``env_id``, ``variant``, ``seed``, ``score``, ...), in the
    experiment's order."""
    final = final_scores(results.episodes, exp.analysis.final_window, exp.steps)
    scores = {"final": final, "auc": auc_scores(results.updates)}
    if exp.analysis.eval_every is not None:
        scores["eval"] = eval_scores(results.evals)
    return {metric: in_experiment_order(frame, exp) for metric, frame in scores.items()}
