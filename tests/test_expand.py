"""Expansion (order, collapsing, run ids) and packing; all pure, no training."""

import math
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass

import pytest

from harness.ppo.config import RUN_ID_FIELDS, PPOConfig, field_names
from harness.runs.expand import config_hash, expand, make_packs, run_id
from harness.runs.experiment import load_experiment, parse_experiment

BASE = {"name": "t", "envs": ["Hopper-v5", "Walker2d-v5"], "seeds": [0, 1, 2],
        "total_steps": 4096, "ppo": {"num_steps": 1024}}
MATRIX = {"value_clip": ["none", "max", "clipped"], "vf_clip_eps": [0.1, 0.2]}
SMOKE = "experiments/smoke.yaml"
SMOKE_IDS = [
    "InvertedPendulum-v5__value_clip-none__s0__a7417dd0",
    "InvertedPendulum-v5__value_clip-max+vf_clip_eps-0.2__s0__57fc59dd",
    "InvertedPendulum-v5__value_clip-none__s1__1710e0cc",
    "InvertedPendulum-v5__value_clip-max+vf_clip_eps-0.2__s1__a2dd44d9",
    "Hopper-v5__value_clip-none__s0__521c8be9",
    "Hopper-v5__value_clip-max+vf_clip_eps-0.2__s0__e1e711ea",
    "Hopper-v5__value_clip-none__s1__b8f8133c",
    "Hopper-v5__value_clip-max+vf_clip_eps-0.2__s1__52334162",
]
"""``experiments/smoke.yaml``'s run ids as first published: finished results are found by id."""


def exp(**changes):
    return parse_experiment({**BASE, **changes}, "t.yaml")


def test_order_is_env_then_seed_then_variant():
    specs = expand(exp(matrix=MATRIX))
    variants = [v.label for v in exp(matrix=MATRIX).variants]
    assert len(specs) == 2 * 3 * 5
    assert [(s.env_id, s.seed, s.variant) for s in specs] == [
        (e, seed, v) for e in BASE["envs"] for seed in BASE["seeds"] for v in variants]
    assert all(s.experiment == "t" and s.total_steps == 4096 and s.ppo.num_steps == 1024
               for s in specs)


def test_unclipped_collapses_the_eps_axis():
    e = exp(matrix=MATRIX)
    assert [v.label for v in e.variants] == [
        "value_clip=none", "value_clip=max,vf_clip_eps=0.1", "value_clip=max,vf_clip_eps=0.2",
        "value_clip=clipped,vf_clip_eps=0.1", "value_clip=clipped,vf_clip_eps=0.2"]
    first = expand(e)[:5]
    assert [s.ppo.value_clip for s in first] == ["none", "max", "max", "clipped", "clipped"]
    assert [s.ppo.vf_clip_eps for s in first[1:]] == [0.1, 0.2, 0.1, 0.2]
    columns = [dict(s.columns) for s in first]
    assert columns[0]["value_clip"] == "none" and math.isnan(columns[0]["vf_clip_eps"])
    assert columns[2] == {"value_clip": "max", "vf_clip_eps": 0.2}


def test_default_label_and_axis_columns():
    plain = expand(exp())
    assert {s.variant for s in plain} == {"default"} and plain[0].columns == ()
    sized = expand(exp(matrix={"hidden_sizes": [[64, 64], [32]]}))
    assert [dict(s.columns)["hidden_sizes"] for s in sized[:2]] == ["64x64", "32"]


def test_run_id_is_readable_and_file_safe():
    spec = expand(exp(matrix=MATRIX))[1]
    env, variant, seed, digest = spec.run_id.split("__")
    assert (env, variant, seed) == ("Hopper-v5", "value_clip-max+vf_clip_eps-0.1", "s0")
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert run_id("pkg.mod:Env-v0", "a=1,b=x/y", 3, "0123abcd") == (
        "pkg.mod_Env-v0__a-1+b-x_y__s3__0123abcd")


def test_run_id_depends_only_on_the_run():
    ids = {s.run_id: s for s in expand(exp(matrix=MATRIX))}
    assert len(ids) == 30
    # Other seeds, envs, variants or their order do not change a run's id ...
    narrower = exp(envs=["Walker2d-v5"], seeds=[2, 5],
                   variants=[{"value_clip": "max", "vf_clip_eps": 0.2}, {"value_clip": "none"}])
    for spec in expand(narrower):
        if spec.seed == 2:
            assert ids[spec.run_id].variant == spec.variant
    # ... an irrelevant eps of an unclipped run does not either; what the run computes does.
    none_a = expand(exp(ppo={"num_steps": 1024, "value_clip": "none", "vf_clip_eps": 0.5}))[0]
    none_b = expand(exp(ppo={"num_steps": 1024, "value_clip": "none"}))[0]
    assert none_a.run_id == none_b.run_id
    assert expand(exp(total_steps=8192))[0].run_id != expand(exp())[0].run_id
    assert expand(exp(ppo={"num_steps": 1024, "gamma": 0.9}))[0].run_id != expand(exp())[0].run_id


def test_run_ids_are_stable_across_processes():
    code = ("from harness.runs.experiment import load_experiment; "
            "from harness.runs.expand import expand; "
            f"print(' '.join(s.run_id for s in expand(load_experiment({SMOKE!r}))))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": str(seed)}).stdout
            for seed in (1, 2)}
    assert outs == {" ".join(SMOKE_IDS) + "\n"}


@dataclass(frozen=True)
class WithNewKey(PPOConfig):
    """``PPOConfig`` once a key is added whose default keeps the old behaviour."""

    new_key: float = 0.0


def smoke_digests(**changes) -> list[str]:
    """The id hashes of smoke.yaml's runs, their configs rebuilt as ``WithNewKey``."""
    return [config_hash(s.env_id, s.seed, s.total_steps,
                        WithNewKey(**{**s.ppo.to_dict(), **changes}))
            for s in expand(load_experiment(SMOKE))]


def test_a_new_key_changes_run_ids_only_away_from_its_default():
    published = [rid.rsplit("__", 1)[1] for rid in SMOKE_IDS]
    assert smoke_digests() == published
    for changed in (smoke_digests(new_key=0.5), smoke_digests(gamma=0.95)):
        assert all(a != b for a, b in zip(changed, published, strict=True))
    assert set(RUN_ID_FIELDS) <= set(field_names())  # a frozen field cannot be dropped


def _by_env(spec):
    return spec.env_id


def _check_partition(specs, packs):
    assert Counter(s.run_id for p in packs for s in p) == Counter(s.run_id for s in specs)
    assert all(len({s.env_id for s in p}) == 1 for p in packs)


@pytest.mark.parametrize(("n_seeds", "workers", "max_pack", "sizes"), [
    (5, 2, 32, [5, 5, 5, 5]),     # 2 envs x 10 runs: each env split across both workers
    (4, 3, 32, [3, 3, 3, 3, 2, 2]),  # 8 runs per env on 3 workers; the bigger packs first
    (1, 4, 32, [1, 1, 1, 1]),     # fewer runs than workers: packs of one
    (50, 2, 32, [25] * 8),        # 100 runs per env: 4 packs per env so none exceeds 32
    (8, 1, 32, [16, 16]),         # one worker: one pack per env
])
def test_pack_sizes(n_seeds, workers, max_pack, sizes):
    specs = expand(exp(seeds=n_seeds, variants=[{"value_clip": "none"}, {"value_clip": "max"}]))
    packs = make_packs(specs, workers, key=_by_env, max_pack=max_pack)
    _check_partition(specs, packs)
    assert [len(p) for p in packs] == sizes
    # Runs keep their order inside packs: a pack holds all variants of consecutive seeds.
    assert packs[0] == tuple(specs[:sizes[0]])


def test_resumed_runs_keep_their_packs():
    """Runs checkpointed at the same step stay one pack (a fresh group would be split per
    worker); runs at different steps never share one."""
    specs = expand(exp(seeds=5, variants=[{"value_clip": "none"}, {"value_clip": "max"}]))
    hopper = [s for s in specs if s.env_id == "Hopper-v5"]
    done = {s.run_id: 2048 for s in hopper[:8]} | {s.run_id: 1024 for s in hopper[8:]}
    packs = make_packs(specs, 2, key=_by_env, done=done)
    _check_partition(specs, packs)
    assert sorted(len(p) for p in packs) == [2, 5, 5, 8]  # Walker2d fresh: 5 + 5
    assert all(len({done.get(s.run_id, 0) for s in p}) == 1 for p in packs)
    assert sorted(len(p) for p in make_packs(specs, 2, key=_by_env)) == [5, 5, 5, 5]
    # at most max_pack a pack
    assert sorted(len(p) for p in make_packs(specs, 2, _by_env, 6, done)) == [2, 4, 4, 5, 5]


def test_a_resumed_pack_is_split_only_where_workers_would_sit_idle():
    specs = [s for s in expand(exp(seeds=6)) if s.env_id == "Hopper-v5"]
    done = dict.fromkeys((s.run_id for s in specs), 2048)
    # alone, the 6 resumed runs would keep one of two workers idle
    assert [len(p) for p in make_packs(specs, 2, _by_env, done=done)] == [3, 3]
    assert [len(p) for p in make_packs(specs, 1, _by_env, done=done)] == [6]
    # with 12 fresh runs beside them, they are a worker's share of the work
    fresh = [s for s in expand(exp(seeds=12)) if s.env_id == "Walker2d-v5"]
    assert sorted(len(p) for p in make_packs([*specs, *fresh], 2, _by_env, done=done)) == [
        6, 6, 6]


def test_packs_group_by_key_and_longest_go_first():
    specs = expand(exp(seeds=3, matrix={"num_steps": [512, 1024]}))
    packs = make_packs(specs, 2, key=lambda s: (s.env_id, s.ppo.num_steps))
    _check_partition(specs, packs)
    assert all(len({s.ppo.num_steps for s in p}) == 1 for p in packs)
    steps = [sum(s.total_steps for s in p) for p in packs]
    assert steps == sorted(steps, reverse=True)


def test_variant_configs_are_built_once_and_are_the_runs_configs():
    exp = parse_experiment({"name": "x", "envs": ["Hopper-v5"], "seeds": 1,
                            "total_steps": 2048, "ppo": {"learning_rate": 1e-3},
                            "matrix": {"value_clip": ["none", "max"]},
                            "control": {"value_clip": "none"}})
    assert exp.configs is exp.configs
    assert {s.variant: s.ppo for s in expand(exp)} == exp.configs
    assert exp.configs["value_clip=none"] == PPOConfig(learning_rate=1e-3, value_clip="none")
