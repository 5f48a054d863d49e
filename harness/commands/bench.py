"""``harness bench``: env steps/s of our trainer beside the physics, the raw simulator and the
plug-in adapters (SB3's PPO and TorchRL's ClipPPOLoss, ``harness.runs.trainers``).

Every measurement runs in a fresh process on one torch thread (so peak memory is its own) and
all of them run in the same invocation on the same machine: compare the ratios, not the
absolute rates, since shared machines are noisy. The physics row, ``mj_step`` alone, is the
limit a MuJoCo env's trainer can approach on one core.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.commands.bench_profile import format_profiles, phase_profile
from harness.commands.errors import EXIT_OK
from harness.runs.experiment import check_env
from harness.runs.validation import ExperimentError

PACK_SIZES = (1, 4, 16, 32)
DEFAULT_STEPS = 8192  # env steps per agent: four ppo2 updates of 2048
PROFILE_PACK = 32
"""``--profile``: the pack size profiled, the bench's main row."""
ALL_ENVS = ("Ant-v5", "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
            "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
            "Swimmer-v5", "Walker2d-v5")
"""``--env all``: gymnasium's MuJoCo v5 envs."""


def main(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Run every measurement, print the table(s), optionally write JSON."""
    steps = args.steps or DEFAULT_STEPS
    if args.env != "all":  # before any process starts: one line, not a worker's traceback
        check_env(args.env, (), "--env",
                  lambda key, message: ExperimentError("harness bench", key, message))
    if args.profile:
        result: dict[str, Any] = {"profile": [
            in_fresh_process(phase_profile, env_id, steps, PROFILE_PACK)[0]
            for env_id in (ALL_ENVS if args.env == "all" else (args.env,))]}
        print(format_profiles(result["profile"]))
    elif args.env == "all":
        result = {"envs": [summarise(env_rows(env_id, steps, args.no_sb3), env_id, steps)
                           for env_id in ALL_ENVS]}
        print(format_envs_table(result["envs"]))
    else:
        result = summarise(single_env_rows(args.env, steps, args.no_sb3), args.env, steps)
        print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return EXIT_OK


def single_env_rows(env_id: str, steps: int, no_sb3: bool) -> list[dict[str, Any]]:
    """Physics, raw simulator, packs of 1-32, ``harness run`` on 1 and 2 workers, the
    adapters (SB3, TorchRL)."""
    rows = baseline_rows(env_id, steps)
    for k in PACK_SIZES:
        rows.append(measure(f"harness, 1 worker, pack of {k}", trainer_rate, env_id, steps, k))
    for jobs in (1, 2):
        rows.append(measure(f"harness run, --jobs {jobs}, 64 runs in 2 packs of 32",
                            experiment_rate, env_id, steps, jobs, kind="run"))
    return rows + ([] if no_sb3 else adapter_rows(env_id, steps))


def env_rows(env_id: str, steps: int, no_sb3: bool) -> list[dict[str, Any]]:
    """``--env all``'s rows of one env: physics, raw simulator, a pack of 32, the adapters."""
    print(env_id, flush=True)
    return [*baseline_rows(env_id, steps),
            measure("harness, 1 worker, pack of 32", trainer_rate, env_id, steps, 32),
            *([] if no_sb3 else adapter_rows(env_id, steps))]


def baseline_rows(env_id: str, steps: int) -> list[dict[str, Any]]:
    """``mj_step`` alone (MuJoCo envs only) and gymnasium's ``env.step``, each ``4 * steps``."""
    physics = measure(f"physics ({env_id}, mj_step alone, same actions and episodes)",
                      physics_rate, env_id, 4 * steps, kind="physics")
    raw = measure(f"raw simulator ({env_id}, unwrapped, random actions)", raw_simulator,
                  env_id, 4 * steps, kind="raw")
    return [row for row in (physics, raw) if row["steps_per_s"] is not None]


def adapter_rows(env_id: str, steps: int) -> list[dict[str, Any]]:
    """The plug-in adapters' rows (``trainer: sb3`` and ``trainer: torchrl``, unclipped
    value loss as each library's default), or none for a library not installed."""
    rows = [measure(f"{name} ({trainer} adapter, unclipped), 1 thread", adapter_rate, env_id,
                    steps, trainer, kind=trainer)
            for trainer, name in ADAPTER_ROWS.items()]
    return [row for row in rows if row["steps_per_s"] is not None]


def measure(name: str, fn: Callable[..., float | None], *args: Any,
            kind: str = "harness") -> dict[str, Any]:
    """``fn(*args)`` -> steps/s in a fresh process; also its peak resident memory.

    ``kind`` (physics, raw, harness, run, sb3, torchrl) says which rows the ratios divide by.
    """
    rate, peak_mb = in_fresh_process(fn, *args)
    print(f"  {name}: {'n/a' if rate is None else f'{rate:,.0f} steps/s'}", flush=True)
    return {"name": name, "kind": kind, "steps_per_s": rate, "peak_rss_mb": peak_mb}


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` in a new process on one torch thread, and that process's peak MB."""
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_timed, fn, *args).result()


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    import torch

    torch.set_num_threads(1)
    result = fn(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_simulator(env_id: str, steps: int) -> float:
    """The simulator alone: unwrapped env, pre-drawn random actions, resets on episode ends."""
    env, actions, limit = _random_episodes(env_id, steps)
    start = time.perf_counter()
    _play(env, actions, limit)
    return steps / (time.perf_counter() - start)


def physics_rate(env_id: str, steps: int) -> float | None:
    """``mj_step`` alone, on one ``MjData`` with the env's frame skip: the raw row's actions
    and episodes (an untimed ``env.step`` pass finds where they end), replayed without
    gymnasium's Python around the physics; the rare resets stay in. None for non-MuJoCo envs.
    """
    import mujoco
    from gymnasium.envs.mujoco import MujocoEnv

    env, actions, limit = _random_episodes(env_id, steps)
    if not isinstance(env, MujocoEnv):
        return None
    ends = _play(env, actions, limit)
    model, data, frame_skip = env.model, env.data, env.frame_skip
    env.reset(seed=0)
    start = time.perf_counter()
    for action, end in zip(actions, ends, strict=True):
        data.ctrl[:] = action
        mujoco.mj_step(model, data, nstep=frame_skip)
        if end:
            env.reset()
    return steps / (time.perf_counter() - start)


def _random_episodes(env_id: str, steps: int) -> tuple[Any, np.ndarray, int | None]:
    """The unwrapped env, ``steps`` uniform random actions (seed 0) and its time limit."""
    import gymnasium as gym

    made = gym.make(env_id)
    space, rng = made.action_space, np.random.default_rng(0)
    actions = (rng.integers(space.start, space.start + space.n, steps)
               if isinstance(space, gym.spaces.Discrete)
               else rng.uniform(space.low, space.high, (steps, *space.shape)))
    return made.unwrapped, actions, made.spec.max_episode_steps if made.spec else None


def _play(env: Any, actions: np.ndarray, limit: int | None) -> np.ndarray:
    """``env.step`` through ``actions`` from ``reset(seed=0)``, resetting where an episode
    ends; returns those ends, ``[steps]`` bool."""
    env.reset(seed=0)
    ends = np.zeros(len(actions), dtype=bool)
    length = 0
    for t, action in enumerate(actions):
        _, _, terminated, truncated, _ = env.step(action)
        length += 1
        if terminated or truncated or length == limit:
            env.reset()
            ends[t], length = True, 0
    return ends


def trainer_rate(env_id: str, steps: int, pack_size: int) -> float:
    """Aggregate env steps/s of one ``train_pack`` of ``pack_size`` default-config agents."""
    from harness.ppo.agent import AgentSpec
    from harness.ppo.config import PPOConfig
    from harness.ppo.trainer import train_pack

    specs = [AgentSpec(env_id, k, steps, PPOConfig()) for k in range(pack_size)]
    start = time.perf_counter()
    train_pack(specs)
    return pack_size * steps / (time.perf_counter() - start)


def experiment_rate(env_id: str, steps: int, jobs: int) -> float:
    """Aggregate rate of ``harness run`` with ``jobs`` workers, once the workers are up.

    64 runs (32 seeds x none/max) make the same two packs of 32 for one worker or two, so
    the ratio of the two rates is the parallel speed-up alone, not a change of pack size. A
    one-update warm-up experiment first starts the loky workers and their imports (~4 s),
    which the timed run reuses: start-up is paid once per experiment, not per 60M steps.
    """
    from joblib.externals.loky import get_reusable_executor

    from harness.runs.experiment import parse_experiment
    from harness.runs.runner import run_experiment

    def experiment(seeds: int, total_steps: int):
        return parse_experiment({"name": "bench", "envs": [env_id], "seeds": seeds,
                                 "total_steps": total_steps,
                                 "matrix": {"value_clip": ["none", "max"]},
                                 "control": {"value_clip": "none"}}, "<bench>")

    with (tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as quiet,
          contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet)):
        run_experiment(experiment(jobs, 2048), os.path.join(tmp, "warm-up"), jobs=jobs)
        start = time.perf_counter()
        run_experiment(experiment(32, steps), os.path.join(tmp, "timed"), jobs=jobs)
        rate = 64 * steps / (time.perf_counter() - start)
    # This measuring process exits without atexit hooks: stop loky's workers, or exit waits.
    get_reusable_executor().shutdown(wait=True)
    return rate


ADAPTER_ROWS = {"sb3": "Stable-Baselines3 PPO", "torchrl": "TorchRL ClipPPOLoss"}
"""Plug-in trainers measured beside ours (``harness.runs.trainers``), by trainer name."""


def adapter_rate(env_id: str, steps: int, trainer: str) -> float | None:
    """A plug-in adapter training one run of ppo2's settings (``value_clip: none``, each
    library's default) through the ``function(run, log)`` contract, as a worker calls it;
    None when the adapter's library is not installed."""
    import importlib.util

    from harness.ppo.config import PPOConfig
    from harness.runs.trainers import LIBRARIES, resolve
    from harness.runs.trainers.contract import Log, Run

    if importlib.util.find_spec(LIBRARIES[trainer]) is None:
        return None
    config = PPOConfig(value_clip="none", trainer=trainer).to_dict()
    train = resolve(trainer)
    start = time.perf_counter()
    train(Run(f"bench-{trainer}", env_id, {}, 0, steps, config), Log())
    return steps / (time.perf_counter() - start)


RATIOS = {"vs_sb3": "sb3", "vs_raw_simulator": "raw", "vs_physics": "physics"}
"""Ratio field -> the kind of row it divides by (None where that row is missing)."""


def summarise(rows: list[dict[str, Any]], env_id: str, steps: int) -> dict[str, Any]:
    """Add ratios to SB3, the raw simulator and the physics; machine and date for the record."""
    for field, kind in RATIOS.items():
        base = next((r["steps_per_s"] for r in rows if r["kind"] == kind), None)
        for row in rows:
            row[field] = row["steps_per_s"] / base if base else None
    return {"env": env_id, "steps_per_agent": steps, "date": datetime.now(UTC).isoformat(),
            "machine": f"{platform.node()} {platform.machine()} "
                       f"{multiprocessing.cpu_count()} cores", "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of one env's summary."""
    lines = [f"{result['env']}, {result['steps_per_agent']} steps per agent, {result['machine']}",
             f"{'measurement':62} {'steps/s':>9} {'x SB3':>7} {'x raw':>7} {'x physics':>9} "
             f"{'peak MB':>8}"]
    for r in result["rows"]:
        lines.append(f"{r['name']:62} {r['steps_per_s']:9,.0f} {_ratio(r['vs_sb3']):>7} "
                     f"{_ratio(r['vs_raw_simulator']):>7} {_ratio(r['vs_physics']):>9} "
                     f"{r['peak_rss_mb']:8.0f}")
    return "\n".join(lines)


def format_envs_table(results: list[dict[str, Any]]) -> str:
    """``--env all``: one line per env; the ratios are the pack of 32's, memory its peak."""
    first = results[0]
    lines = [f"{len(results)} envs, {first['steps_per_agent']} steps per agent, "
             f"{first['machine']}; ratios and peak MB of the pack of 32 (1 worker)",
             f"{'env':26} {'physics':>9} {'raw':>9} {'pack 32':>9} {'SB3':>7} {'TorchRL':>7} "
             f"{'x physics':>9} {'x raw':>7} {'x SB3':>7} {'peak MB':>8}"]
    for result in results:
        rate = {r["kind"]: r["steps_per_s"] for r in result["rows"]}
        pack = next(r for r in result["rows"] if r["kind"] == "harness")
        lines.append(f"{result['env']:26} {_rate(rate.get('physics')):>9} "
                     f"{_rate(rate.get('raw')):>9} {_rate(pack['steps_per_s']):>9} "
                     f"{_rate(rate.get('sb3')):>7} {_rate(rate.get('torchrl')):>7} "
                     f"{_ratio(pack['vs_physics']):>9} "
                     f"{_ratio(pack['vs_raw_simulator']):>7} {_ratio(pack['vs_sb3']):>7} "
                     f"{pack['peak_rss_mb']:8.0f}")
    return "\n".join(lines)


def _rate(steps_per_s: float | None) -> str:
    return "-" if steps_per_s is None else f"{steps_per_s:,.0f}"


def _ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"
