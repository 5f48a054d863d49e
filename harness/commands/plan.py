"""``harness plan``: the seeds each primary comparison needs to resolve the margin, and their
cost in env steps and wall time on this machine.

Seeds per arm and env come from the textbook two-sample size on the relative scale the
verdicts use (``effects.Effect.seeds_needed``), with each run's spread (coefficient of
variation of its score) taken from a pilot (finished runs of this or another experiment) or,
without one, from the published spreads (``analysis.published.RUN_CV``). Wall time uses the
rate of one worker training the packs the runner will train (``throughput.runner_rates``:
each pack size at its own calibrated rate), times the workers: packs run in parallel at about
that rate each (``harness bench``: 1.9-2.0x for two workers).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import alpha_spending, effects, pairs
from harness.analysis.load import load_results
from harness.analysis.published import run_cv
from harness.analysis.scores import auc_scores, eval_scores, final_scores
from harness.commands.errors import EXIT_OK, InputError
from harness.commands.throughput import CLUSTER_WORKERS, duration, runner_rates
from harness.runs.experiment import load_experiment
from harness.runs.spec import Experiment

Spread = Callable[[str, str], tuple[float, str]]
"""(env id, variant) -> (squared coefficient of variation of one run's score, its source)."""


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Print the seeds each primary comparison needs and what they cost here."""
    exp = load_experiment(args.experiment)
    if args.pilot is not None and not Path(args.pilot).is_dir():
        raise InputError(f"--pilot {args.pilot}: not a directory; give a results directory "
                         "such as results/<name>")
    try:
        spread = (published_spread if args.pilot is None
                  else pilot_spread(Path(args.pilot), exp.analysis.metric,
                                    exp.analysis.final_window))
    except ValueError as e:
        raise InputError(str(e)) from None
    found = needs(exp, spread)
    jobs = args.jobs if args.jobs and args.jobs > 0 else os.cpu_count() or 1
    seeds = planned_seeds(exp, found)
    table = cost(exp, seeds, runner_rates(exp, seeds, jobs)) if found else None
    print(render(exp, found, table, jobs))
    return EXIT_OK


@dataclass(frozen=True)
class Need:
    """Seeds one primary comparison needs."""

    variant: str
    control: str
    sources: tuple[str, ...]
    """Where each env's spread came from."""
    seeds: int
    """Runs per arm and env to detect ``margin`` with ``power`` at ``alpha``."""


def needs(exp: Experiment, spread: Spread) -> list[Need]:
    """Seeds for each primary comparison (clip effects over all of ``exp``'s envs); for a
    sequential design, the first look with the power to decide (``alpha_spending.need_for``)."""
    need = alpha_spending.need_for(exp.analysis, exp.looks)
    found = []
    for variant, control in pairs.primary_pairs(exp):
        cells = [(spread(e, variant), spread(e, control)) for e in exp.envs]
        # se^2 with one run per arm and env, as in effects.log_ratio: sum of CV^2 over k^2
        unit = sum(x[0] + y[0] for x, y in cells) / len(exp.envs) ** 2
        seeds = need(effects.Effect(0.0, math.nan, math.nan, unit))
        sources = tuple(f"{e}: {x[1]}" for e, (x, _) in zip(exp.envs, cells, strict=True))
        found.append(Need(variant, control, sources, int(seeds)))
    return found


def published_spread(env_id: str, variant: str) -> tuple[float, str]:
    """No pilot: the published spread of the env, the same for every variant."""
    cv, source = run_cv(env_id)
    return cv**2, f"cv {cv:.2f} {source}"


def pilot_spread(pilot_dir: Path, metric: str, window: int) -> Spread:
    """Spreads measured in a pilot's finished runs: the variant's own in that env when the
    pilot has it, else the mean over the env's variants, else the published one.
    ``window``: episodes averaged for the final score."""
    results = load_results(pilot_dir)
    if not results.run_ids:
        raise ValueError(f"--pilot {pilot_dir}: no finished runs there")
    if metric == "eval":
        scores = eval_scores(results.evals)
    elif metric == "auc":
        scores = auc_scores(results.updates)
    else:
        scores = final_scores(results.episodes, window)
    per_cell = scores.groupby(["env_id", "variant"])["score"].agg(
        lambda s: (s.std(ddof=1) / abs(s.mean())) ** 2 if len(s) > 1 else np.nan).dropna()

    def spread(env_id: str, variant: str) -> tuple[float, str]:
        if (env_id, variant) in per_cell.index:
            cv2 = float(per_cell[env_id, variant])
            return cv2, f"cv {math.sqrt(cv2):.2f} from the pilot's {variant}"
        if env_id in per_cell.index.get_level_values(0):
            cv2 = float(per_cell[env_id].mean())
            return cv2, f"cv {math.sqrt(cv2):.2f} from the pilot's runs of this env"
        return published_spread(env_id, variant)

    return spread


def cost(exp: Experiment, seeds: int, rates: dict[str, float]) -> pd.DataFrame:
    """Per env and in total: runs, env steps and hours on one worker at ``rates`` (env ->
    steps/s of one worker) for ``seeds`` runs per arm."""
    rows = []
    for env_id in exp.envs:
        runs = seeds * len(exp.variants)
        steps = runs * exp.steps(env_id)
        rows.append({"env_id": env_id, "runs": runs, "env_steps": steps,
                     "steps_per_s": rates[env_id], "worker_hours": steps / rates[env_id] / 3600})
    table = pd.DataFrame(rows)
    total = {"env_id": "total", "runs": table["runs"].sum(),
             "env_steps": table["env_steps"].sum(), "worker_hours": table["worker_hours"].sum()}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def planned_seeds(exp: Experiment, found: Sequence[Need]) -> int:
    """Seeds per arm to cost: the most any comparison needs, but no more than a sequential
    design's last look (it never trains beyond)."""
    most = max((n.seeds for n in found), default=len(exp.seeds))
    return min(most, exp.looks[-1]) if exp.looks else most


def render(exp: Experiment, found: Sequence[Need], table: pd.DataFrame, jobs: int) -> str:
    """The plan as text: seeds per comparison, then the cost of the largest."""
    a = exp.analysis
    lines = [f"plan for {exp.name}: seeds per arm and env to resolve ±{a.margin:.0%} "
             f"({a.metric} score, alpha {a.alpha:g}, power {a.power:.0%}), "
             + (f"looks at {', '.join(map(str, exp.looks))} (the first look whose own share "
                "of alpha has that power):" if exp.looks
                else f"now {len(exp.seeds)}:")]
    lines += [f"  note: {text}" for text in
              effects.small_n_notes(exp.looks[0] if exp.looks else len(exp.seeds))]
    for need in found:
        lines.append(f"  {need.variant} vs {need.control} over {', '.join(exp.envs)}: "
                     f"{need.seeds} seeds")
        lines += [f"      {s}" for s in need.sources]
    if not found:
        lines.append("  no primary comparison (needs a clipped and a matching unclipped "
                     "variant)")
        return "\n".join(lines)
    hours = table.iloc[-1]["worker_hours"]
    seeds = planned_seeds(exp, found)
    beyond = [n for n in found if n.seeds > seeds]
    if beyond:
        lines.append(f"  note: {len(beyond)} of {len(found)} comparisons need more than the "
                     f"design's {seeds} seeds per arm: at {seeds} they may stay inconclusive")
    lines += [f"cost at {seeds} seeds per arm "
              f"({', '.join(f'{exp.steps(e):,}' for e in exp.envs)} steps per run):",
              # pandas prints NaN before any formatter sees it: the total's rate is blank
              *("  " + line for line in table.to_string(index=False, na_rep="", formatters={
                  "env_steps": "{:,.0f}".format, "worker_hours": "{:.2f}".format,
                  "steps_per_s": "{:,.0f}".format}).splitlines()),
              f"wall time: {duration(hours / jobs)} on {jobs} workers here, "
              f"{duration(hours / CLUSTER_WORKERS)} on {CLUSTER_WORKERS} cluster workers "
              "as fast as this machine's"]
    return "\n".join(lines)
