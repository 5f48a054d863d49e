"""Throughput of this machine: calibrated env steps/s per env (cached per host) and the wall
time of a set of runs at those rates, for ``harness plan`` and ``harness run --dry-run``.

A rate is that of one worker training a pack of a given size, measured as ``harness bench``
measures (``bench.measure``: a fresh single-threaded process) and cached per env and pack
size. ``harness plan`` and ``--dry-run`` price the packs the runner will train
(``expand.make_packs``), each size at its own rate, since small packs train slower per run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.runs.expand import Pack, expand, make_packs, pack_key
from harness.runs.files import write_json
from harness.runs.spec import Experiment, RunSpec, gym_id
from harness.runs.trainers import ADAPTERS, HARNESS

ADAPTER_STEPS = 4096
"""Env steps of an adapter's calibration run: two of ppo2's updates."""
CLUSTER_WORKERS = 32
STARTUP_S = 5.0
"""Seconds before the first step, paid once per ``harness run``: worker processes start and
import torch, and the envs are built (about 4-5 s measured on the 2-core CI machine)."""


def calibrate(envs: Sequence[str], pack: int, trainer: str = HARNESS) -> dict[str, float]:
    """Steps/s of one worker training a pack of ``pack`` agents (``trainer`` harness), or one
    run of a plug-in adapter (sb3, torchrl), per env: cached for this host in
    ``rates_path()`` (as ``<env id>@<pack>`` or ``<env id>@<trainer>``), else measured in a
    fresh single-threaded process as ``harness bench`` measures (a few seconds each) and
    cached. An env given ``gym.make`` arguments is priced at its id's rate (the same
    physics). A user's own trainer is never run to be timed: NaN."""
    if trainer != HARNESS and trainer not in ADAPTERS:  # a user's own trainer
        return dict.fromkeys(envs, math.nan)
    path = rates_path()
    try:
        cached = json.loads(path.read_text()).get(socket.gethostname(), {})
    except (OSError, ValueError, AttributeError):
        cached = {}
    tag = pack if trainer == HARNESS else trainer
    keys = {e: f"{gym_id(e)}@{tag}" for e in envs}
    missing = {gym_id(e): k for e, k in keys.items() if not isinstance(cached.get(k), int | float)}
    if missing:
        from harness.commands.bench import adapter_rate, measure  # spawns the measuring process

        cached.update({k: (measure(f"calibrating {e} (pack of {pack})", steady_rate, e, pack)
                           if trainer == HARNESS else
                           measure(f"calibrating {e} ({trainer})", adapter_rate, e,
                                   ADAPTER_STEPS, trainer))["steps_per_s"]
                       for e, k in missing.items()})
        with contextlib.suppress(OSError):  # an unwritable cache only costs a recalibration
            write_json(path, {socket.gethostname(): cached})
    return {e: float(cached[k]) for e, k in keys.items()}


def rates_path() -> Path:
    """The per-host cache of calibrated rates (``HARNESS_RATES`` overrides it)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(os.environ.get("HARNESS_RATES", default / "vclip-harness" / "rates.json"))


def wall_time(specs: Sequence[RunSpec], workers: int, looks: Sequence[int] = (),
              done: Mapping[str, int] | None = None) -> list[str]:
    """``estimate`` of ``specs`` packed as the runner packs them, at rates calibrated for
    those pack sizes (``runner_packs``); ``done``: env steps already in a run's checkpoint
    (by run id), which the runner resumes from and so does not train again."""
    packs = runner_packs(specs, workers, looks)
    return estimate(packs, pack_rates(packs), workers, done)


def runner_rates(exp: Experiment, seeds: int, workers: int) -> dict[str, float]:
    """Per env, one worker's steps/s over the packs the runner trains for ``seeds`` runs per
    arm on ``workers`` workers (``harness plan``'s cost); NaN where a pack's rate is
    unknown (a user's own trainer)."""
    specs = expand(dataclasses.replace(exp, seeds=tuple(range(seeds))))
    packs = runner_packs(specs, workers, exp.looks)
    rates = pack_rates(packs)
    steps: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for pack in packs:
        env, n = pack[0].env_id, sum(s.total_steps for s in pack)
        steps[env] = steps.get(env, 0) + n
        seconds[env] = seconds.get(env, 0.0) + n / rates[rate_key(pack)]
    return {e: steps[e] / seconds[e] for e in exp.envs}


def rate_key(pack: Pack) -> tuple[str, int, str]:
    """What a pack's rate depends on: its env, its size and who trains it."""
    return pack[0].env_id, len(pack), pack[0].ppo.trainer


def runner_packs(specs: Sequence[RunSpec], workers: int,
                 looks: Sequence[int] = ()) -> list[Pack]:
    """``specs`` (none resumed) packed as the runner packs them: a sequential design trains
    each look apart (``looks``: runs per arm at each), so its runs are packed look by look."""
    bounds = [0, *looks[:-1], math.inf] if looks else [0, math.inf]
    return [p for low, high in itertools.pairwise(bounds)
            for p in make_packs([s for s in specs if low <= s.seed < high], workers,
                                key=pack_key)]


def pack_rates(packs: Sequence[Pack]) -> dict[tuple[str, int, str], float]:
    """``calibrate``'s rate for each (env, pack size, trainer) of ``packs``."""
    rates: dict[tuple[str, int, str], float] = {}
    for size, trainer in sorted({rate_key(p)[1:] for p in packs}):
        envs = list(dict.fromkeys(p[0].env_id for p in packs if rate_key(p)[1:] == (size, trainer)))
        rates.update({(e, size, trainer): r for e, r in calibrate(envs, size, trainer).items()})
    return rates


def estimate(packs: Sequence[Pack], rates: Mapping[tuple[str, int, str], float],
             workers: int, done: Mapping[str, int] | None = None) -> list[str]:
    """Expected wall time of training ``packs`` on ``workers`` workers, per env and in total,
    at one worker's ``rates`` (per env, pack size and trainer: ``rate_key``) each (packs keep
    every worker busy: ``expand.make_packs``), less the steps ``done`` (by run id) already
    in checkpoints; runs whose rate is unknown are counted apart."""
    done = done or {}
    steps: dict[str, int] = {}
    hours: dict[str, float] = {}
    sizes: dict[str, set[int]] = {}
    unpriced: dict[str, int] = {}
    for pack in packs:
        if math.isnan(rates[rate_key(pack)]):
            unpriced[pack[0].ppo.trainer] = unpriced.get(pack[0].ppo.trainer, 0) + len(pack)
            continue
        env, n = pack[0].env_id, sum(s.total_steps - done.get(s.run_id, 0) for s in pack)
        steps[env] = steps.get(env, 0) + n
        hours[env] = hours.get(env, 0.0) + n / rates[rate_key(pack)] / 3600
        sizes.setdefault(env, set()).add(len(pack))
    lines = [f"  {e}: {steps[e]:,} env steps in packs of {_sizes(sizes[e])} at "
             f"{steps[e] / h / 3600:,.0f}/s per worker: {duration(h / workers)}"
             for e, h in hours.items()]
    lines += [f"  not priced: {n} runs of trainer {t} (a user's trainer is not run to be "
              "timed)" for t, n in unpriced.items()]
    total, start = sum(hours.values()), STARTUP_S / 3600
    return [*lines, f"expected wall time: {duration(start + total / workers)} on {workers} "
                    f"worker{'s' if workers != 1 else ''}, "
                    f"{duration(start + total / CLUSTER_WORKERS)} on {CLUSTER_WORKERS} "
                    "cluster workers (start-up included)"]


def steady_rate(env_id: str, pack: int, updates: int = 4) -> float:
    """Env steps/s of a pack of ``pack`` agents after its first update (start-up, paid once
    per pack, is left out). Rollouts of 512 steps in minibatches of 64 cost the same
    per env step as ppo2's 2048 (the update's work is epochs x batch either way)."""
    import time

    from harness.ppo.agent import AgentSpec
    from harness.ppo.config import PPOConfig
    from harness.ppo.trainer import train_pack

    cfg = PPOConfig(num_steps=512, num_minibatches=8)
    stamps: list[float] = []
    train_pack([AgentSpec(env_id, k, updates * cfg.num_steps, cfg) for k in range(pack)],
               progress=lambda steps: stamps.append(time.perf_counter()))
    return (updates - 1) * pack * cfg.num_steps / (stamps[-1] - stamps[0])


def duration(hours: float) -> str:
    """Hours as seconds, minutes or hours, whichever reads best."""
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _sizes(sizes: set[int]) -> str:
    return " and ".join(map(str, sorted(sizes)))
