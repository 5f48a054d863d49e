"""``harness run`` for a sequential design (``seeds: {min, max, step}``): running its looks,
seeds until decided.

At each look it trains the runs the look wants (``runs.sequential_record.look_wants``: both arms
of the primary comparisons still undecided, every env, the look's number of seeds), then
tests those comparisons at the look's exact levels (``analysis.alpha_spending.levels``: the
levels of looks already recorded are kept, later ones spend what they left). Decided
comparisons stop, and so do those whose clipped arm's clip does not act in the look's runs
(mean clip fraction below ``analysis.active_clip``: it is the unclipped loss up to rounding,
``pairs.inactive_clips``; C2 and C3 leave it out, so more seeds would buy nothing); the
others get ``step`` more seeds, until all are decided or ``max`` is reached. The decisions
are replayed from the run files at every invocation, so resuming an interrupted study
continues at the right look; ``results/<name>/sequential.json`` records each look and why the
study stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.analysis import alpha_spending, pairs
from harness.analysis.study import experiment_results, run_scores
from harness.runs.expand import expand
from harness.runs.runner import RunSummary, run_experiment
from harness.runs.sequential_record import (
    Decision,
    Look,
    SequentialRecord,
    arms,
    look_wants,
    read_record,
    write_record,
)
from harness.runs.spec import Experiment


def run_sequential(exp: Experiment, results_root: str | Path, until_look: int | None = None,
                   **options: Any) -> tuple[list[RunSummary], SequentialRecord]:
    """Train look after look, pausing once look ``until_look`` is recorded (the record says
    ``running``: the next call goes on); returns each look's ``RunSummary`` and the record
    written."""
    root = Path(results_root) / exp.name
    a = exp.analysis
    levels = alpha_spending.levels(exp.looks, a.alpha, read_record(root))
    open_pairs = pairs.primary_pairs(exp)
    looks, summaries = [], []
    for j, n in enumerate(exp.looks):
        seeds = exp.seeds[:n]
        want = look_wants(arms(open_pairs), seeds)
        wanted = {s.run_id for s in expand(exp) if want(s.variant, s.seed)}
        summaries.append(run_experiment(exp, results_root, only=wanted, **options))
        results = experiment_results(exp, root)
        scores = run_scores(exp, results)[a.metric]
        two, one = float(levels.equal[j]), float(levels.equivalence[j])
        found = alpha_spending.decide(scores, open_pairs, seeds, two, a.margin, one)
        never = pairs.inactive_clips(exp, results.updates[results.updates["seed"].isin(seeds)])
        idle = [v for v, _ in open_pairs if v in never]
        looks.append(Look(j + 1, n, two, one, tuple(
            Decision(r.variant, r.control, int(r.n), float(r.rel_diff), float(r.p_holm),
                     float(r.p_tost_holm), r.verdict) for r in found.itertuples()), tuple(idle)))
        decided = {(c.variant, c.control) for c in looks[-1].comparisons
                   if c.verdict != "inconclusive"}
        open_pairs = [p for p in open_pairs if p not in decided and p[0] not in idle]
        record = SequentialRecord.after(looks, open_pairs, last=j == len(exp.looks) - 1)
        write_record(root, record)
        if not open_pairs or j + 1 == until_look:
            break
    return summaries, record
