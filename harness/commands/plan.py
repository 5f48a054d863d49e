"""``harness plan``: the runs per arm and env each claim's design needs to decide it, and
their cost in env steps and wall time on this machine.

The runs come from simulating each claim's rule (``analysis.to_decide``: all its
comparisons, the design's looks and max, Holm within looks) under a pilot's means and
spreads (finished runs of this or another experiment: its current estimates are taken as
the truth, as the report does), or, without one, under the published spreads
(``analysis.published``: each run's ``RUN_CV``, and the envs' true effects spread by
``BETWEEN_ENV_TAU``, ``published_scores``) at true effects 0, +-margin/2 and +-margin, sized
for the hardest. Beyond the design's max it says "not decidable within this design". Wall
time uses the rate of one worker training the packs the runner will train
(``throughput.runner_rates``: each pack size at its own calibrated rate), times the workers:
packs run in parallel at about that rate each (``harness bench``: 1.9-2.0x for two workers).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import claims, effects, published, saturation, to_decide
from harness.analysis.load import load_results
from harness.analysis.study import run_scores
from harness.commands.errors import EXIT_OK, InputError
from harness.commands.throughput import CLUSTER_WORKERS, duration, runner_rates
from harness.runs import references
from harness.runs.experiment import load_experiment
from harness.runs.sequential_record import SequentialRecord
from harness.runs.spec import Experiment


def main(args: argparse.Namespace, argv: list[str]) -> int:
    """Print what each claim's design decides, the runs it needs and what they cost here."""
    exp = load_experiment(args.experiment)
    if args.pilot is not None and not Path(args.pilot).is_dir():
        raise InputError(f"--pilot {args.pilot}: not a directory; give a results directory "
                         "such as results/<name>")
    try:
        scores = None if args.pilot is None else pilot_scores(exp, Path(args.pilot))
    except ValueError as e:
        raise InputError(str(e)) from None
    found = claim_prices(exp, scores)
    jobs = args.jobs if args.jobs and args.jobs > 0 else os.cpu_count() or 1
    seeds = planned_seeds(exp, found)
    table = cost(exp, seeds, runner_rates(exp, seeds, jobs)) if found else None
    print(render(exp, found, table, jobs))
    return EXIT_OK


@dataclass(frozen=True)
class ClaimPrice:
    """What one claim's design decides (``to_decide``)."""

    claim: str
    pairs: tuple[tuple[str, str], ...]
    """Its comparisons (variant, control)."""
    estimand: str
    """``fixed`` | ``random`` (``claims.planned_estimand``)."""
    priced: tuple[to_decide.ToDecide, ...]
    """At the pilot's estimates (one), or without a pilot at true effects -margin,
    -margin/2, 0, +margin/2, +margin (the published spreads)."""
    source: str
    """Where the means and spreads came from."""
    envs: tuple[str, ...]
    """The envs priced (the experiment's, less those the pilot's runs saturate)."""

    @property
    def hardest(self) -> to_decide.ToDecide:
        """The one of ``priced`` needing the most runs (none up to the cap: more than any),
        the least likely decided by max among equals: the one the plan is sized for. (The
        least decidable by max is not it: at no effect a short design fails most often, yet
        an effect of half the margin needs more runs.)"""
        return max(self.priced, key=lambda t: (np.nan_to_num(t.runs, nan=np.inf),
                                               -np.nan_to_num(t.p_decide, nan=-1.0)))


def pilot_scores(exp: Experiment, pilot_dir: Path) -> pd.DataFrame:
    """The primary scores of a pilot's finished runs (``env_id``, ``variant``, ``score``)."""
    results = load_results(pilot_dir)
    if not results.run_ids:
        raise ValueError(f"--pilot {pilot_dir}: no finished runs there")
    return run_scores(exp, results)[exp.analysis.metric]


def published_scores(exp: Experiment, effect: float, tau: float) -> pd.DataFrame:
    """A pilot of the published spreads at a true relative effect ``effect`` on the gain over
    a random policy, spread over envs by ``tau``: per env and variant, as many runs as the
    design's first look (the runs on which the report would first leave an env out,
    ``over_envs.exclusions``) with exactly the arm's mean and sd. Each env is on its own
    scale (``published.env_scale``: random score r, published score p, or r = 0 and p = 1
    where either is unknown): the control's mean is p, its sd the env's published coefficient
    of variation (``published.run_cv``) times |p|; a clipped variant's mean is
    r + (p - r)(1 + e_i), so its ratio of gains over random is 1 + e_i, and its sd the
    control's times 1 + e_i (the spread moves with the gain, as ``pricing.draw_scores``
    draws it; the cv times its own |mean| would make an arm near a zero return, Reacher's,
    almost noiseless)."""
    envs = exp.envs
    # Every env the same true effect (tau = 0) prices a claim about tasks far too kindly:
    # its random-effects interval cannot get narrower than about t(k-1) tau / sqrt(k)
    # whatever the seeds (over_envs.seed_floor). Plan, as meta-analyses do, with an assumed
    # tau (Borenstein et al. 2009, ch. 29: power for random effects): log(1 + e_i) spread
    # by tau around log(1 + effect), at normal quantiles in env order (exactly sd tau).
    ratios = np.exp(math.log1p(effect) + tau * published.normal_quantiles(len(envs)))
    runs = published.normal_quantiles(max(2, (exp.looks or (len(exp.seeds),))[0]))
    rows = []
    for env, ratio in zip(envs, ratios, strict=True):
        random, score = published.env_scale(env)
        sd = abs(score) * published.run_cv(env)[0]
        for v, config in exp.configs.items():
            m, s = ((random + (score - random) * ratio, sd * ratio) if config.clips_value
                    else (score, sd))
            rows += [{"env_id": env, "variant": v, "score": m + s * z} for z in runs]
    return pd.DataFrame(rows)


def claim_prices(exp: Experiment, scores: pd.DataFrame | None,
                 record: SequentialRecord | None = None,
                 source: str = "the pilot's means and spreads") -> list[ClaimPrice]:
    """Each testable claim of C1-C3 priced by ``to_decide`` at the design's looks, on
    ``scores`` (a pilot's or the study's own) or, without, on the published spreads at the
    effects of ``ClaimPrice.priced``. The report prices the same rule on the same runs: an
    env where ``scores`` all score alike is left out, as the report leaves it out
    (``saturation``)."""
    if scores is not None:
        saturated = saturation.saturated_envs(scores)
        scores = saturation.without(scores, saturated)
        exp = dataclasses.replace(exp, envs=tuple(e for e in exp.envs if e not in saturated))
    design = exp.looks or (len(exp.seeds),)
    m = exp.analysis.margin
    frames = ([(scores, source)] if scores is not None else
              [(published_scores(exp, e, published.BETWEEN_ENV_TAU), "published spreads")
               for e in (-m, -m / 2, 0, m / 2, m)])
    # the published pilot's random scores are those of its own scales (env_scale)
    randoms = ({e: r.random_mean for e, r in references.read().items()} if scores is not None
               else {e: published.env_scale(e)[0] for e in exp.envs})
    prices = [to_decide.pricer(f, exp.envs, exp.analysis, record=record, random_scores=randoms)
              for f, _ in frames]
    found = []
    for cid, pairs in claims.claim_pairs(exp).items():
        if not pairs:
            continue
        estimand = claims.planned_estimand(cid, exp, len(exp.envs))
        found.append(ClaimPrice(cid, tuple(pairs), estimand,
                                tuple(price(pairs, estimand, design) for price in prices),
                                frames[0][1], exp.envs))
    return found


def claim_lines(found: Sequence[ClaimPrice]) -> list[str]:
    """Each claim's "to decide" line, as plan and dry-run print it."""
    lines = []
    for c in found:
        t = c.hardest
        at = ("" if len(c.priced) == 1 else " (sized for the true effect needing the most; "
              f"P(decided by {t.design_max}) at -margin .. +margin: "
              + ", ".join(f"{p.p_decide:.2f}" for p in c.priced) + ")")
        lines.append(f"  {c.claim} ({len(c.pairs)} comparison{'s' * (len(c.pairs) > 1)} over "
                     f"{', '.join(c.envs)}, {c.estimand}; {c.source}): {t.line()}{at}")
    return lines


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


def planned_seeds(exp: Experiment, found: Sequence[ClaimPrice]) -> int:
    """Seeds per arm to cost: the most any claim needs (the design's max where no count is
    known), but no more than a sequential design's last look (it never trains beyond)."""
    design = exp.looks[-1] if exp.looks else len(exp.seeds)
    most = max((int(np.nan_to_num(c.hardest.runs, nan=design)) for c in found), default=design)
    return min(most, exp.looks[-1]) if exp.looks else most


def render(exp: Experiment, found: Sequence[ClaimPrice], table: pd.DataFrame,
           jobs: int) -> str:
    """The plan as text: each claim's runs to decide, then the cost of the largest."""
    a = exp.analysis
    design = exp.looks or (len(exp.seeds),)
    lines = [f"plan for {exp.name}: runs per arm and env at which each claim's rule decides "
             f"with {a.power:.0%} probability ({a.metric} score, alpha {a.alpha:g}, margin "
             f"±{a.margin:.0%}; simulated, {to_decide.STUDIES:,} studies, Monte-Carlo error "
             f"<= 1.1 points), design max {design[-1]}"
             + (f", looks at {', '.join(map(str, exp.looks))}:" if exp.looks else ":")]
    lines += [f"  note: {text}" for text in effects.small_n_notes(design[0])]
    lines += claim_lines(found)
    if not found:
        lines.append("  no claim to price (needs a clipped and a matching unclipped variant)")
        return "\n".join(lines)
    hours = table.iloc[-1]["worker_hours"]
    seeds = planned_seeds(exp, found)
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
