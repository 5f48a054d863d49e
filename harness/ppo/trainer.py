"""Train a pack of K independent PPO agents in lockstep (Baselines ppo2, docs/design.md §3, §5).

The loop reads top to bottom like CleanRL's: rollout -> GAE -> update epochs -> log. Agent k
uses only its own env, normalisation statistics, generator, Adam state, gradient-norm clip and
hyper-parameters, so its numbers do not depend on its pack-mates. No file I/O here.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from harness.ppo.agent import EPISODE_FIELDS, EVAL_FIELDS, UPDATE_FIELDS, AgentSpec
from harness.ppo.envs import PackEnv
from harness.ppo.evaluate import EvalEnvs, eval_updates
from harness.ppo.networks import init_actor_critic
from harness.ppo.objectives import gae
from harness.ppo.pack import PackState, hyper_tensors
from harness.ppo.policy import pack_policy, policy_record
from harness.ppo.rollout import Rollout, collect
from harness.ppo.snapshot import AgentSnapshot, capture, restore
from harness.ppo.update import ppo_update


@dataclass(frozen=True)
class AgentLog:
    """One agent's logged tables (``agent.UPDATE_FIELDS``/``EPISODE_FIELDS``/``EVAL_FIELDS``),
    its final policy and, if it diverged, why."""

    updates: pd.DataFrame
    """One row per PPO update."""
    episodes: pd.DataFrame
    """One row per finished episode."""
    failure: dict | None
    """None, or ``{"reason", "update", "global_step"}`` for an agent stopped on NaN/inf."""
    evals: pd.DataFrame
    """One row per evaluation episode; empty without ``AgentSpec.evaluation``."""
    policy: dict | None
    """The trained policy (``policy.policy_record``); None for an agent stopped on NaN/inf."""


Checkpoint = Callable[[int, Callable[[], dict[int, AgentSnapshot]]], None]
"""Called after every update but the last with ``(update, capture)``; it decides whether a
checkpoint is due and then calls ``capture()`` for the live agents' snapshots."""


def train_pack(specs: Sequence[AgentSpec], *, progress: Callable[[int], None] | None = None,
               checkpoint: Checkpoint | None = None,
               resume: Sequence[AgentSnapshot] | None = None) -> list[AgentLog]:
    """Train ``specs`` (equal ``pack_key``) together; returns one log per spec, in order.

    ``resume``: one snapshot per spec, all after the same update, to continue from; the
    result equals that of the uninterrupted run (``tests/test_checkpoints.py``). With
    ``AgentSpec.evaluation`` the live agents' deterministic policies are evaluated after the
    updates it names, on envs of their own (``evaluate``: the training numbers stay the same).
    """
    if len({s.pack_key for s in specs}) != 1:
        raise ValueError("train_pack: runs differ in env or update schedule; group by pack_key")
    cfg = specs[0].ppo
    n_updates = specs[0].total_steps // cfg.num_steps
    if n_updates < 1:
        raise ValueError(f"total_steps: must be >= num_steps={cfg.num_steps}, "
                         f"got {specs[0].total_steps}")
    state = _init_state(specs)
    schedule = specs[0].evaluation
    # update -> index of the evaluation after it
    due = {u: i for i, u in enumerate(eval_updates(n_updates, cfg.num_steps, schedule.every)
                                     if schedule else [])}
    evaluator = (EvalEnvs(specs[0].env_id, len(specs), **dict(specs[0].env_kwargs)) if due
                 else None)
    saved = resume or [None] * len(specs)
    logs = {i: list(s.logs) if s else [] for i, s in enumerate(saved)}
    episodes = {i: list(s.episodes) if s else [] for i, s in enumerate(saved)}
    evals = {i: list(s.evals) if s else [] for i, s in enumerate(saved)}
    failures: dict[int, dict] = {}
    obs = state.env.reset() if resume is None else restore(state, list(resume))
    done = resume[0].update if resume else 0
    start = time.perf_counter() - (resume[0].elapsed if resume else 0.0)
    try:
        for update in range(done + 1, n_updates + 1):
            # ppo2: frac = 1 - (update - 1) / nupdates; lr = lr0 * frac when annealing.
            frac = 1.0 - (update - 1.0) / n_updates
            lr = torch.where(state.hyper.anneal_lr, state.hyper.learning_rate * frac,
                             state.hyper.learning_rate)
            rollout, obs = collect(state, obs, update)
            advantages, returns = gae(rollout.rewards, rollout.values, rollout.dones,
                                      rollout.last_values, gamma=state.hyper.gamma,
                                      lam=state.hyper.gae_lambda)
            stats = ppo_update(state, rollout, advantages, returns, lr)
            global_step = update * cfg.num_steps
            n_alive = len(state.ids)
            elapsed = time.perf_counter() - start
            for slot, idx in enumerate(state.ids):
                episodes[idx].extend(rollout.episodes[slot])
                logs[idx].append(_update_row(update, global_step, rollout, stats, lr, slot,
                                             global_step / elapsed))
            bad = _diverged(state, stats)
            for slot in bad:
                failures[state.ids[slot]] = {"reason": bad[slot], "update": update,
                                             "global_step": global_step}
            if bad:
                keep = np.array([s for s in range(len(state.ids)) if s not in bad])
                if not len(keep):
                    break
                obs = obs[keep]
                state = state.select(keep)
            if update in due:
                _evaluate(evaluator, state, specs, due[update], global_step, evals)
            if progress is not None:
                progress(n_alive * cfg.num_steps)
            if checkpoint is not None and update < n_updates:
                checkpoint(update, functools.partial(capture, state, obs, update, logs, episodes,
                                                     evals, time.perf_counter() - start))
    finally:
        state.env.close()
        if evaluator is not None:
            evaluator.close()
    last = len(due) - 1 if due else 0
    policies = {idx: policy_record(state, slot, env_id=specs[idx].env_id, seed=specs[idx].seed,
                                   evaluation=last, env_kwargs=dict(specs[idx].env_kwargs))
                for slot, idx in enumerate(state.ids) if idx not in failures}
    return [AgentLog(pd.DataFrame(logs[i], columns=UPDATE_FIELDS),
                     pd.DataFrame(episodes[i], columns=EPISODE_FIELDS), failures.get(i),
                     pd.DataFrame(evals[i], columns=EVAL_FIELDS), policies.get(i))
            for i in range(len(specs))]


def pack_env(specs: Sequence[AgentSpec]) -> PackEnv:
    """The agents' training envs (one ``pack_key``: the same env and ``gym.make`` arguments)."""
    cfgs = [s.ppo for s in specs]
    return PackEnv(specs[0].env_id, [s.seed for s in specs],
                   normalize_obs=[c.normalize_obs for c in cfgs],
                   normalize_reward=[c.normalize_reward for c in cfgs],
                   gamma=[c.gamma for c in cfgs], env_kwargs=dict(specs[0].env_kwargs))


def _init_state(specs: Sequence[AgentSpec]) -> PackState:
    cfgs = [s.ppo for s in specs]
    env = pack_env(specs)
    # One generator per agent, seeded by its run alone: init, action noise, minibatch order.
    generators = [torch.Generator().manual_seed(s.seed) for s in specs]
    net = init_actor_critic(generators, env.obs_dim, env.act_dim, cfgs[0].hidden_sizes,
                            discrete=env.discrete)
    return PackState.create(env, net, generators, hyper_tensors(cfgs), cfgs[0])


def _evaluate(evaluator: EvalEnvs, state: PackState, specs: Sequence[AgentSpec],
              evaluation: int, global_step: int, evals: dict[int, list]) -> None:
    """Evaluate the live agents' deterministic policies; append their episodes to ``evals``."""
    found = evaluator.run(pack_policy(state), state.ids, [specs[i].seed for i in state.ids],
                          evaluation, specs[0].evaluation.episodes)
    for idx, episodes in zip(state.ids, found, strict=True):
        evals[idx].extend((global_step, evaluation, *episode) for episode in episodes)


def _update_row(update: int, global_step: int, rollout: Rollout, stats: dict[str, torch.Tensor],
                lr: torch.Tensor, slot: int, sps: float) -> dict:
    returns = [r for _, r, _ in rollout.episodes[slot]]
    row = {"update": update, "global_step": global_step,
           "episodic_return": float(np.mean(returns)) if returns else math.nan}
    row.update({name: float(values[slot]) for name, values in stats.items()})
    row["learning_rate"] = float(lr[slot])
    row["sps"] = sps
    return row


def _diverged(state: PackState, stats: dict[str, torch.Tensor]) -> dict[int, str]:
    """Slots whose losses or parameters are no longer finite, with the reason."""
    bad: dict[int, str] = {}
    for name in ("value_loss", "policy_loss"):
        for slot in torch.nonzero(~torch.isfinite(stats[name])).flatten().tolist():
            bad.setdefault(slot, f"non-finite {name}")
    for slot in torch.nonzero(~torch.isfinite(state.net.flat).all(1)).flatten().tolist():
        bad.setdefault(slot, "non-finite network parameters")
    return bad

