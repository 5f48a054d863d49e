"""A run's numbers depend only on its RunSpec, not on its pack-mates (docs/design.md §3)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.ppo.config import PPOConfig
from harness.runs.expand import pack_key
from harness.runs.spec import RunSpec
from harness.runs.train import train_runs

TINY = PPOConfig(num_steps=128, num_minibatches=4, update_epochs=2)

# Bit for bit: a drift of one ulp per update grows into a different learning curve over a
# 1M-step run, so the comparisons below are exact.
LAYOUTS = [(3, 0), (5, 4), (16, 7)]
"""(pack size, the run's slot) besides training alone: first of 3, last of 5, middle of 16."""
N_UPDATES = 20
ENV_CASES = {
    # Thin-stepped (harness.ppo.mjstep); minibatches of 32, where torch's batched matmul would
    # round the value head of a pack differently from that of a run alone.
    "Hopper-v5": {"num_steps": 64, "num_minibatches": 2},
    # Thin-stepped; minibatches of 10 and a hidden layer of 17: activation blocks that are
    # not multiples of 16 floats, so the trainer pads and copies them.
    "InvertedPendulum-v5": {"num_steps": 60, "num_minibatches": 6, "hidden_sizes": (17,)},
    # Through gymnasium's own step (GymStepper), with a time limit every 50 steps bootstrapped.
    "Reacher-v5": {"num_steps": 64, "truncation": "bootstrap"},
    # A categorical policy; minibatches of 10 put 20 logits per agent, so an agent's rows sit
    # at other offsets of the pack's softmax inputs in every layout.
    "CartPole-v1": {"num_steps": 60, "num_minibatches": 6},
}
MATES = [{"value_clip": "none"}, {"value_clip": "clipped", "vf_clip_eps": 1.0},
         {"normalize_reward": False, "learning_rate": 1e-3}, {"ent_coef": 0.01, "gamma": 0.95},
         {"value_clip": "max_signed", "vf_clip_eps": 0.5}]
"""Pack-mates cycle through these settings (and differ in seed)."""


def spec(seed, env_id="Hopper-v5", base=TINY, n_updates=5, **overrides):
    cfg = base.replace(**overrides)
    return RunSpec(f"run{seed}-{cfg.value_clip}", "test", env_id, seed, cfg.value_clip,
                   base.num_steps * n_updates, cfg)


@pytest.mark.parametrize("env_id", ENV_CASES)
def test_run_equals_itself_at_any_slot_of_any_pack(env_id):
    base = TINY.replace(**ENV_CASES[env_id])
    target = spec(7, env_id, base, N_UPDATES)
    alone = train_runs([target])[0]
    assert len(alone.updates) == N_UPDATES and alone.failure is None
    assert len(alone.episodes) > 0
    for size, slot in LAYOUTS:
        mates = [spec(100 + i, env_id, base, N_UPDATES, **MATES[i % len(MATES)])
                 for i in range(size - 1)]
        packed = train_runs([*mates[:slot], target, *mates[slot:]])
        where = f"{env_id}, slot {slot} of {size}"
        assert packed[slot].spec == target
        pd.testing.assert_frame_equal(packed[slot].updates.drop(columns="sps"),
                                      alone.updates.drop(columns="sps"), check_exact=True,
                                      obj=f"updates ({where})")
        pd.testing.assert_frame_equal(packed[slot].episodes, alone.episodes, check_exact=True,
                                      obj=f"episodes ({where})")
        # The pack-mates really did train differently.
        assert not np.allclose(packed[slot - 1].updates["value_loss"],
                               alone.updates["value_loss"])


@pytest.mark.slow
def test_jobs_1_and_jobs_2_write_equal_tables(tmp_path):
    """The issue's case: ``--jobs 2`` trains four packs of 3 runs, ``--jobs 1`` two packs of 6."""
    exp = {"name": "packing", "envs": ["InvertedPendulum-v5", "Hopper-v5"], "seeds": [3, 4, 5],
           "total_steps": 4096,
           "ppo": {"num_steps": 512, "num_minibatches": 8, "update_epochs": 2},
           "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2]},
           "control": {"value_clip": "none"}}
    path = tmp_path / "packing.yaml"
    path.write_text(yaml.safe_dump(exp))
    tables = {}
    for jobs, n_packs in ((1, 2), (2, 4)):
        out = subprocess.run(
            [sys.executable, "-m", "harness", "run", str(path), "--jobs", str(jobs),
             "--results-dir", str(tmp_path / f"jobs{jobs}")],
            capture_output=True, text=True, timeout=300, env=os.environ)
        assert out.returncode == 0, out.stderr
        assert f"training 12 in {n_packs} packs" in out.stdout
        exp_dir = tmp_path / f"jobs{jobs}" / "packing"
        tables[jobs] = {f"{kind}/{p.stem}": pd.read_parquet(p).drop(columns="sps",
                                                                    errors="ignore")
                        for kind in ("updates", "episodes")
                        for p in sorted((exp_dir / kind).glob("*.parquet"))}
    assert len(tables[1]) == 24 and tables[1].keys() == tables[2].keys()
    for name, table in tables[1].items():
        assert len(table) > 0
        pd.testing.assert_frame_equal(table, tables[2][name], check_exact=True, obj=name)


def test_same_spec_twice_is_deterministic():
    a, b = train_runs([spec(4)])[0], train_runs([spec(4)])[0]
    pd.testing.assert_frame_equal(a.updates.drop(columns="sps"), b.updates.drop(columns="sps"))


def test_result_tables_follow_the_schema():
    result = train_runs([spec(5, value_clip="none")])[0]
    assert list(result.updates.columns) == [
        "run_id", "experiment", "env_id", "seed", "variant", "value_clip", "vf_clip_eps",
        "update", "global_step", "episodic_return", "value_loss", "value_loss_unclipped",
        "value_clip_fraction", "policy_loss", "clip_fraction", "approx_kl", "entropy",
        "explained_variance", "learning_rate", "sps"]
    assert result.updates["vf_clip_eps"].isna().all()
    assert (result.updates["value_clip_fraction"] == 0).all()
    # unclipped: the optimised loss is the plain squared error
    assert np.allclose(result.updates["value_loss"], result.updates["value_loss_unclipped"])
    assert result.updates["global_step"].tolist() == [128, 256, 384, 512, 640]
    # ppo2 annealing: lr * (1 - (update - 1) / n_updates)
    assert result.updates["learning_rate"].tolist() == pytest.approx(
        [3e-4 * (1 - u / 5) for u in range(5)])
    assert list(result.episodes.columns[-3:]) == ["global_step", "episode_return",
                                                   "episode_length"]
    assert len(result.episodes) > 0


def test_pack_key_separates_schedules():
    assert pack_key(spec(0)) == pack_key(spec(1, value_clip="none", gamma=0.9))
    assert pack_key(spec(0)) != pack_key(spec(0, num_steps=256))
    with pytest.raises(ValueError, match="pack_key"):
        train_runs([spec(0), spec(1, num_steps=256)])
