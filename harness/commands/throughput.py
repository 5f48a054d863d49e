"""Throughput of this machine: calibrated env steps/s per env (cached per host) and the wall
time of a set of runs at those rates, for ``harness plan`` and ``harness run --dry-run``.

A rate is that of a pack of ``CALIBRATION_PACK`` agents on one worker, measured as ``harness
bench`` measures (``bench.measure``: a fresh single-threaded process).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from harness.runs.files import write_json
from harness.runs.spec import RunSpec

CLUSTER_WORKERS = 32
STARTUP_S = 5.0
"""Seconds before the first step, paid once per ``harness run``: worker processes start and
import torch, and the envs are built (about 4-5 s measured on the 2-core CI machine)."""
CALIBRATION_PACK = 16


def calibrate(envs: Sequence[str]) -> dict[str, float]:
    """Steps/s of one worker training a pack of 16 agents, per env: cached for this host in
    ``rates_path()``, else measured in a fresh single-threaded process as ``harness bench``
    measures (a few seconds each) and cached."""
    path = rates_path()
    try:
        cached = json.loads(path.read_text()).get(socket.gethostname(), {})
    except (OSError, ValueError, AttributeError):
        cached = {}
    missing = [e for e in envs if not isinstance(cached.get(e), int | float)]
    if missing:
        from harness.commands.bench import measure  # spawns the measuring process

        cached.update({e: measure(f"calibrating {e}", steady_rate, e)["steps_per_s"]
                       for e in missing})
        with contextlib.suppress(OSError):  # an unwritable cache only costs a recalibration
            write_json(path, {socket.gethostname(): cached})
    return {e: float(cached[e]) for e in envs}


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
             f"{duration(h / workers)}" for e, h in hours.items()]
    total, start = sum(hours.values()), STARTUP_S / 3600
    return [*lines, f"expected wall time: {duration(start + total / workers)} on {workers} "
                    f"worker{'s' if workers != 1 else ''}, "
                    f"{duration(start + total / CLUSTER_WORKERS)} on {CLUSTER_WORKERS} "
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


def duration(hours: float) -> str:
    """Hours as seconds, minutes or hours, whichever reads best."""
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"
