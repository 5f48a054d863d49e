"""Experiment -> ordered run specs -> packs. Pure: no I/O, no torch.

Run order is env, then seed, then variant, so the first runs to finish (and the runs of any
pack) compare every variant on the same seeds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from harness.ppo.config import RUN_ID_FIELDS, PPOConfig
from harness.runs import trainers
from harness.runs.experiment import format_value
from harness.runs.spec import EnvKwargs, Experiment, RunSpec, Variant, gym_id

MAX_PACK = 32
"""Largest pack a worker trains (issue 6: a worker with 32 agents stays under 1.5 GB)."""

Pack = tuple[RunSpec, ...]


def expand(exp: Experiment) -> list[RunSpec]:
    """Every run of ``exp``: envs x seeds x variants, in that nesting order."""
    configs = {v.label: exp.ppo.replace(**v.as_dict()) for v in exp.variants}
    return [_spec(exp, env_id, seed, v, configs[v.label])
            for env_id in exp.envs for seed in exp.seeds for v in exp.variants]


def config_hash(env_id: str, seed: int, total_steps: int, cfg: PPOConfig,
                env_kwargs: EnvKwargs = ()) -> str:
    """8 hex digits identifying what determines a run's numbers: env, seed, steps and the PPO
    fields in ``RUN_ID_FIELDS``, plus any later field whose value is not its default (so adding
    a field leaves existing ids alone); eps is dropped when unclipped. The env's ``gym.make``
    arguments count only when given, for the same reason."""
    defaults = type(cfg)().to_dict()
    ppo = {name: value for name, value in cfg.to_dict().items()
           if name in RUN_ID_FIELDS or value != defaults[name]}
    if not cfg.clips_value:
        del ppo["vf_clip_eps"]
    given = {"env_kwargs": dict(env_kwargs)} if env_kwargs else {}
    blob = json.dumps({"env_id": env_id, "seed": seed, "total_steps": total_steps, "ppo": ppo,
                       **given}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def run_id(env_id: str, variant: str, seed: int, digest: str) -> str:
    """``<env>__<variant>__s<seed>__<hash>``, safe as a file name on any OS; an env label's
    arguments are written like the variant's: ``Ant-v5+include_cfrc_ext_in_observation-false``."""
    env = env_id.replace("[", "+").removesuffix("]")
    return "__".join(_safe(_slug(part)) for part in (env, variant, f"s{seed}", digest))


def make_packs(specs: Sequence[RunSpec], n_workers: int,
               key: Callable[[RunSpec], Hashable], max_pack: int = MAX_PACK) -> list[Pack]:
    """Split runs into packs that keep ``n_workers`` busy, longest packs first.

    Runs with equal ``key`` (``train.pack_key``: same env and shapes) may share a pack. Each
    group is split into a multiple of ``n_workers`` near-equal packs (fewest such that none
    exceeds ``max_pack``), so every worker gets the same share of every env and finishes at
    about the same time; a group smaller than ``n_workers`` becomes packs of one.
    """
    groups: dict[Hashable, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(key(spec), []).append(spec)
    packs: list[Pack] = []
    for group in groups.values():
        rounds = math.ceil(len(group) / (n_workers * max_pack))
        packs += _split(group, min(len(group), n_workers * rounds))
    # Longest-processing-time first: the last packs to start are the short ones.
    return sorted(packs, key=lambda p: -sum(s.total_steps for s in p))


def _split(runs: list[RunSpec], n: int) -> list[Pack]:
    """``n`` contiguous chunks whose sizes differ by at most one."""
    size, extra = divmod(len(runs), n)
    bounds = [i * size + min(i, extra) for i in range(n + 1)]
    return [tuple(runs[a:b]) for a, b in itertools.pairwise(bounds)]


def _spec(exp: Experiment, env: str, seed: int, variant: Variant, cfg: PPOConfig) -> RunSpec:
    kwargs = exp.kwargs(env)
    digest = config_hash(gym_id(env), seed, exp.steps(env), cfg, kwargs)
    return RunSpec(run_id=run_id(env, variant.label, seed, digest), experiment=exp.name,
                   env_id=env, seed=seed, variant=variant.label,
                   total_steps=exp.steps(env), ppo=cfg,
                   columns=tuple((axis, _column(axis, cfg)) for axis in exp.axes),
                   evaluation=exp.analysis.evaluation, env_kwargs=kwargs)


def _column(axis: str, cfg: PPOConfig) -> Any:
    """An axis's value for the results column: a scalar; NaN for eps when unclipped."""
    value = cfg.applied_vf_clip_eps if axis == "vf_clip_eps" else getattr(cfg, axis)
    if axis == "trainer":
        return trainers.label(value)
    return format_value(value) if isinstance(value, tuple) else value


def _slug(label: str) -> str:
    return label.replace("=", "-").replace(",", "+")


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", part)
