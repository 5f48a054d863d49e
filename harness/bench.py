"""``harness bench``: env steps/s of our trainer beside the raw simulator and SB3, in one run.

Every measurement runs in a fresh process on one torch thread (so peak memory is its own) and
all of them run in the same invocation on the same machine: compare the ratios, not the
absolute rates, since shared machines are noisy.
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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

PACK_SIZES = (1, 4, 16, 32)
DEFAULT_STEPS = 8192  # env steps per agent: four ppo2 updates of 2048


def main(args: argparse.Namespace) -> int:
    """Run every measurement, print the table, optionally write JSON."""
    steps = args.steps or DEFAULT_STEPS
    rows = [measure(f"raw simulator ({args.env}, unwrapped, random actions)", raw_simulator,
                    args.env, 4 * steps)]
    for k in PACK_SIZES:
        rows.append(measure(f"harness, 1 worker, pack of {k}", trainer_rate, args.env, steps, k))
    for jobs in (1, 2):
        rows.append(measure(f"harness run, --jobs {jobs}, 64 runs in 2 packs of 32",
                            experiment_rate, args.env, steps, jobs))
    sb3 = measure("Stable-Baselines3 PPO, 1 thread", sb3_rate, args.env, steps)
    if sb3["steps_per_s"] is not None:
        rows.append(sb3)
    result = summarise(rows, args.env, steps)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def measure(name: str, fn: Callable[..., float | None], *args: Any) -> dict[str, Any]:
    """``fn(*args)`` -> steps/s in a fresh process; also its peak resident memory."""
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        rate, peak_mb = pool.submit(_timed, fn, *args).result()
    print(f"  {name}: {'n/a' if rate is None else f'{rate:,.0f} steps/s'}", flush=True)
    return {"name": name, "steps_per_s": rate, "peak_rss_mb": peak_mb}


def _timed(fn: Callable[..., float | None], *args: Any) -> tuple[float | None, float]:
    import torch

    torch.set_num_threads(1)
    rate = fn(*args)
    return rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_simulator(env_id: str, steps: int) -> float:
    """The simulator alone: unwrapped env, pre-drawn random actions, resets on episode ends."""
    import gymnasium as gym

    made = gym.make(env_id)
    env, limit = made.unwrapped, made.spec.max_episode_steps
    actions = np.random.default_rng(0).uniform(made.action_space.low, made.action_space.high,
                                               (steps, *made.action_space.shape))
    env.reset(seed=0)
    length = 0
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        length += 1
        if terminated or truncated or length == limit:
            env.reset()
            length = 0
    return steps / (time.perf_counter() - start)


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


def sb3_rate(env_id: str, steps: int) -> float | None:
    """SB3 PPO with ppo2's MuJoCo defaults (VecNormalize, separate 64-64 tanh nets)."""
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize
    except ImportError:
        return None
    import torch

    env = VecNormalize(make_vec_env(env_id, n_envs=1, seed=0), gamma=0.99)
    model = PPO("MlpPolicy", env, n_steps=2048, batch_size=64, n_epochs=10,
                learning_rate=lambda f: 3e-4 * f, gamma=0.99, gae_lambda=0.95, clip_range=0.2,
                ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, seed=0, device="cpu",
                policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]},
                               "activation_fn": torch.nn.Tanh})
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - start)


def summarise(rows: list[dict[str, Any]], env_id: str, steps: int) -> dict[str, Any]:
    """Add ratios to SB3 and to the raw simulator; machine and date for the record."""
    raw = rows[0]["steps_per_s"]
    sb3 = next((r["steps_per_s"] for r in rows if r["name"].startswith("Stable")), None)
    for row in rows:
        row["vs_raw_simulator"] = row["steps_per_s"] / raw
        row["vs_sb3"] = row["steps_per_s"] / sb3 if sb3 else None
    return {"env": env_id, "steps_per_agent": steps, "date": datetime.now(UTC).isoformat(),
            "machine": f"{platform.node()} {platform.machine()} "
                       f"{multiprocessing.cpu_count()} cores", "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the summary."""
    lines = [f"{result['env']}, {result['steps_per_agent']} steps per agent, {result['machine']}",
             f"{'measurement':58} {'steps/s':>9} {'x SB3':>7} {'x raw':>7} {'peak MB':>8}"]
    for r in result["rows"]:
        sb3 = "-" if r["vs_sb3"] is None else f"{r['vs_sb3']:.2f}"
        lines.append(f"{r['name']:58} {r['steps_per_s']:9,.0f} {sb3:>7} "
                     f"{r['vs_raw_simulator']:7.2f} {r['peak_rss_mb']:8.0f}")
    return "\n".join(lines)
