"""``harness run`` for a sequential design (``seeds: {min, max, step}``): seeds until decided.

At each look it trains the runs missing for the primary comparisons still undecided (their
two arms, every env, the look's number of seeds), then tests those comparisons at the look's
share of alpha (``analysis.sequential``). Decided comparisons stop, and so do those whose
clipped arm never clipped a value prediction in the look's runs (it is the unclipped loss:
``claims.inactive_clips``; C2 and C3 leave it out, so more seeds would buy nothing); the
others get ``step`` more seeds, until all are decided or ``max`` is reached. The decisions
are replayed from the run files at every invocation, so resuming an interrupted study
continues at the right look; ``results/<name>/sequential.json`` records each look and why
the study stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.analysis import claims, sequential
from harness.analysis.report import experiment_results, run_scores
from harness.runs.expand import expand
from harness.runs.files import write_json
from harness.runs.runner import RunSummary, run_experiment
from harness.runs.spec import Experiment

RECORD = "sequential.json"


def run_sequential(exp: Experiment, results_root: str | Path, until_look: int | None = None,
                   **options: Any) -> tuple[list[RunSummary], dict]:
    """Train look after look, pausing once look ``until_look`` is recorded (the record says
    ``running``: the next call goes on); returns each look's ``RunSummary`` and the record
    written."""
    root = Path(results_root) / exp.name
    a = exp.analysis
    levels = sequential.look_levels(exp.looks, a.alpha)
    open_pairs = claims.primary_pairs(exp)
    looks, summaries = [], []
    for j, n in enumerate(exp.looks):
        seeds = exp.seeds[:n]
        arms = {v for pair in open_pairs for v in pair}
        wanted = {s.run_id for s in expand(exp) if s.variant in arms and s.seed in seeds}
        summaries.append(run_experiment(exp, results_root, only=wanted, **options))
        results = experiment_results(exp, root)
        scores = run_scores(exp, results)[a.metric]
        found = sequential.decide(scores, open_pairs, seeds, float(levels[j]), a.margin)
        never = claims.inactive_clips(exp, results.updates[results.updates["seed"].isin(seeds)])
        idle = [v for v, _ in open_pairs if v in never]
        looks.append({"look": j + 1, "runs_per_arm": n, "level": float(levels[j]),
                      "comparisons": found.to_dict("records"), "never_clipped": idle})
        decided = set(zip(found.loc[found["verdict"] != "inconclusive", "variant"],
                          found.loc[found["verdict"] != "inconclusive", "control"],
                          strict=True))
        open_pairs = [p for p in open_pairs if p not in decided and p[0] not in idle]
        record = _record(looks, open_pairs, last=j == len(exp.looks) - 1)
        write_json(root / RECORD, record)
        if not open_pairs or j + 1 == until_look:
            break
    return summaries, record


def _record(looks: list[dict], open_pairs: list[tuple[str, str]], last: bool) -> dict:
    idle = any(look.get("never_clipped") for look in looks)
    stopped = ("every primary comparison is decided" + (" or its clip never acted" if idle else "")
               if not open_pairs
               else "the largest number of seeds is reached" if last else "running")
    return {"looks": looks, "stopped": stopped,
            "undecided": [list(p) for p in open_pairs]}

