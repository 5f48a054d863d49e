"""Synthetic experiments and results directories in the documented schema (docs/design.md §4).

Run scores are drawn so a test knows the truth: run ``(env, variant, seed)`` levels off at
``base[env] * effect[variant] * (1 + noise * z)`` with ``z`` standard normal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness.ppo.config import PPOConfig
from harness.runs.expand import expand
from harness.runs.experiment import experiment_to_dict
from harness.runs.spec import Experiment, Variant

NUM_STEPS = 512


def make_experiment(variants: dict[str, dict], control: str, *, envs=("Hopper-v5",),
                    seeds=range(5), name: str = "synthetic",
                    total_steps: int = 20 * NUM_STEPS) -> Experiment:
    """An ``Experiment`` whose variants are ``label -> overrides``."""
    axes = tuple(dict.fromkeys(k for o in variants.values() for k in o))
    return Experiment(
        name=name, envs=tuple(envs), seeds=tuple(seeds), total_steps=total_steps,
        ppo=PPOConfig(num_steps=NUM_STEPS, num_minibatches=8),
        variants=tuple(Variant(label, tuple(o.items())) for label, o in variants.items()),
        control=control, axes=axes)


def write_results(exp_dir: Path, exp: Experiment, effect: dict[str, float], *,
                  base: dict[str, float] | None = None, noise: float = 0.05,
                  n_episodes: int = 150, seed: int = 0) -> None:
    """Write manifest.json and the updates/ and episodes/ files of every run of ``exp``
    (and evals/, of 2 episodes each ``exp.analysis.eval_every`` steps, when it evaluates)."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    (exp_dir / "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
    rng = np.random.default_rng(seed)
    base = base or {}
    ids = {(s.env_id, s.variant, s.seed): s.run_id for s in expand(exp)}
    for env_id in exp.envs:
        for s in exp.seeds:
            for v in exp.variants:
                level = base.get(env_id, 1000.0) * effect[v.label] * (1 + noise * rng.normal())
                write_run(exp_dir, exp, ids[env_id, v.label, s], env_id, v, s, level,
                          n_episodes, rng)


def write_run(exp_dir: Path, exp: Experiment, run_id: str, env_id: str, variant: Variant,
              seed: int, level: float, n_episodes: int, rng: np.random.Generator) -> None:
    """One run's two parquet files, named by ``run_id`` (the harness's own ids)."""
    cfg = exp.ppo.replace(**variant.as_dict())
    meta = {"run_id": run_id, "experiment": exp.name, "env_id": env_id, "seed": seed,
            "variant": variant.label, "value_clip": cfg.value_clip,
            "vf_clip_eps": cfg.vf_clip_eps if cfg.clips_value else math.nan}
    axes = {a: (meta["vf_clip_eps"] if a == "vf_clip_eps" else getattr(cfg, a))
            for a in exp.axes}
    n_updates = exp.total_steps // cfg.num_steps
    steps = np.arange(1, n_updates + 1) * cfg.num_steps
    ep_steps = np.sort(rng.integers(1, exp.total_steps + 1, n_episodes))
    ep_returns = level * _progress(ep_steps / exp.total_steps) + rng.normal(0, 5, n_episodes)
    updates = pd.DataFrame({
        **meta, "update": np.arange(1, n_updates + 1), "global_step": steps,
        "episodic_return": level * _progress(steps / exp.total_steps),
        "value_loss": rng.uniform(0.1, 1, n_updates),
        "value_loss_unclipped": rng.uniform(0.1, 1, n_updates),
        "value_clip_fraction": rng.uniform(0, 0.3, n_updates) if cfg.clips_value else 0.0,
        "policy_loss": rng.normal(0, 0.01, n_updates),
        "clip_fraction": rng.uniform(0, 0.2, n_updates),
        "approx_kl": rng.uniform(0, 0.02, n_updates), "entropy": rng.uniform(0, 5, n_updates),
        "explained_variance": np.linspace(0, 0.9, n_updates),
        "learning_rate": np.linspace(3e-4, 0, n_updates), "sps": 1000.0, **axes})
    updates.loc[0, "episodic_return"] = np.nan  # no episode ended in the first update
    episodes = pd.DataFrame({**meta, "global_step": ep_steps, "episode_return": ep_returns,
                             "episode_length": rng.integers(10, 1000, n_episodes), **axes})
    tables = [("updates", updates), ("episodes", episodes)]
    if exp.analysis.eval_every:
        at = np.repeat(np.arange(exp.analysis.eval_every, exp.total_steps + 1,
                                 exp.analysis.eval_every), 2)
        tables.append(("evals", pd.DataFrame({
            **meta, "global_step": at, "evaluation": np.arange(len(at)) // 2,
            "episode": np.arange(len(at)) % 2,
            "episode_return": level * _progress(at / exp.total_steps) + rng.normal(0, 5, len(at)),
            "episode_length": 1000, **axes})))
    for kind, frame in tables:
        (exp_dir / kind).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(exp_dir / kind / f"{run_id}.parquet", index=False)


def _progress(t: np.ndarray) -> np.ndarray:
    """A learning curve rising from 0 to ~1 over training fraction ``t``."""
    return 1 - np.exp(-6 * t)
