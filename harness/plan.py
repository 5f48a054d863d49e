"""``harness plan``: the seeds each primary comparison needs to resolve the margin, and their
cost in env steps and wall time on this machine.

Seeds per arm and env come from the textbook two-sample size on the relative scale the
verdicts use (``effects.Effect.seeds_needed``), with each run's spread (coefficient of
variation of its score) taken from a pilot (finished runs of this or another experiment) or,
without one, from the published spreads (``analysis.published.RUN_CV``). Wall time uses the
rate of a pack of 16 agents on one worker, calibrated here for each env, times the workers:
packs of one env run in parallel at about that rate each (``harness bench``: 1.9-2.0x for
two workers).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import claims, effects, sequential
from harness.analysis.load import load_results
from harness.analysis.published import run_cv
from harness.analysis.scores import auc_scores, eval_scores, final_scores
from harness.runs.files import write_json
from harness.runs.spec import Experiment, RunSpec, gym_id

CLUSTER_WORKERS = 32
STARTUP_S = 5.0
"""Seconds before the first step, paid once per ``harness run``: worker processes start and
import torch, and the envs are built (about 4-5 s measured on the 2-core CI machine)."""
CALIBRATION_PACK = 16

Spread = Callable[[str, str], tuple[float, str]]
"""(env id, variant) -> (squared coefficient of variation of one run's score, its source)."""


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
    sequential design, the first look with the power to decide (``sequential.need_for``)."""
    need = sequential.need_for(exp.analysis, exp.looks)
    found = []
    for variant, control in claims.primary_pairs(exp):
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


def calibrate(envs: Sequence[str]) -> dict[str, float]:
    """Steps/s of one worker training a pack of 16 agents, per env: cached for this host in
    ``rates_path()``, else measured in a fresh single-threaded process as ``harness bench``
    measures (a few seconds each) and cached. An env given ``gym.make`` arguments is priced
    at its id's rate (the same physics)."""
    path = rates_path()
    try:
        cached = json.loads(path.read_text()).get(socket.gethostname(), {})
    except (OSError, ValueError, AttributeError):
        cached = {}
    ids = dict.fromkeys(gym_id(e) for e in envs)
    missing = [e for e in ids if not isinstance(cached.get(e), int | float)]
    if missing:
        from harness.bench import measure  # spawns the measuring process

        cached.update({e: measure(f"calibrating {e}", steady_rate, e)["steps_per_s"]
                       for e in missing})
        with contextlib.suppress(OSError):  # an unwritable cache only costs a recalibration
            write_json(path, {socket.gethostname(): cached})
    return {e: float(cached[gym_id(e)]) for e in envs}


def rates_path() -> Path:
    """The per-host cache of calibrated rates (``HARNESS_RATES`` overrides it)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(os.environ.get("HARNESS_RATES", default / "vclip-harness" / "rates.json"))


def estimate(specs: Sequence[RunSpec], rates: dict[str, float], workers: int) -> list[str]:
    """Expected wall time of training ``specs`` on ``workers`` workers, per env and in total,
    at one worker's ``rates`` each (packs keep every worker busy: ``expand.make_packs``)."""
    steps: dict[str, int] = {}
    for spec in specs:
        steps[spec.env_id] = steps.get(spec.env_id, 0) + spec.total_steps
    hours = {e: n / rates[e] / 3600 for e, n in steps.items()}
    lines = [f"  {e}: {steps[e]:,} env steps at {rates[e]:,.0f}/s per worker: "
             f"{_duration(h / workers)}" for e, h in hours.items()]
    total, start = sum(hours.values()), STARTUP_S / 3600
    return [*lines, f"expected wall time: {_duration(start + total / workers)} on {workers} "
                    f"worker{'s' if workers != 1 else ''}, "
                    f"{_duration(start + total / CLUSTER_WORKERS)} on {CLUSTER_WORKERS} "
                    "cluster workers (start-up included)"]


def steady_rate(env_id: str, updates: int = 4) -> float:
    """Env steps/s of a pack of ``CALIBRATION_PACK`` agents after its first update (start-up,
    paid once per pack, is left out). Rollouts of 512 steps in minibatches of 64 cost the same
    per env step as ppo2's 2048 (the update's work is epochs x batch either way)."""
    import time

    from harness.ppo.agent import AgentSpec
    from harness.ppo.config import PPOConfig
    from harness.ppo.trainer import train_pack

    cfg = PPOConfig(num_steps=512, num_minibatches=8)
    stamps: list[float] = []
    train_pack([AgentSpec(env_id, k, updates * cfg.num_steps, cfg)
                for k in range(CALIBRATION_PACK)],
               progress=lambda steps: stamps.append(time.perf_counter()))
    return (updates - 1) * CALIBRATION_PACK * cfg.num_steps / (stamps[-1] - stamps[0])


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
              *("  " + line for line in table.to_string(index=False, formatters={
                  "env_steps": "{:,.0f}".format, "worker_hours": "{:.2f}".format,
                  "steps_per_s": lambda v: "" if math.isnan(v) else f"{v:,.0f}"}).splitlines()),
              f"wall time: {_duration(hours / jobs)} on {jobs} workers here, "
              f"{_duration(hours / CLUSTER_WORKERS)} on {CLUSTER_WORKERS} cluster workers "
              "as fast as this machine's"]
    return "\n".join(lines)


def _duration(hours: float) -> str:
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"
