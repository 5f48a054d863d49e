"""A run's numbers depend only on its RunSpec, not on its pack-mates (docs/design.md §3)."""

import numpy as np
import pandas as pd
import pytest

from harness.ppo.config import PPOConfig
from harness.runs.spec import RunSpec
from harness.runs.train import pack_key, train_runs

TINY = PPOConfig(num_steps=128, num_minibatches=4, update_epochs=2)


def spec(seed, **overrides):
    cfg = TINY.replace(**overrides)
    return RunSpec(f"run{seed}-{cfg.value_clip}", "test", "Hopper-v5", seed, cfg.value_clip,
                   128 * 5, cfg)


def metrics(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["sps"]).select_dtypes("number")


def test_run_alone_equals_run_in_a_mixed_pack():
    target = spec(1)
    mates = [spec(0, value_clip="none"), spec(2, value_clip="clipped", vf_clip_eps=1.0),
             spec(3, normalize_reward=False, truncation="bootstrap", learning_rate=1e-3)]
    alone = train_runs([target])[0]
    packed = train_runs([mates[0], target, *mates[1:]])
    assert [r.spec for r in packed] == [mates[0], target, *mates[1:]]
    mixed = packed[1]
    assert len(alone.updates) == 5 and alone.failure is None
    np.testing.assert_allclose(metrics(mixed.updates).to_numpy(),
                               metrics(alone.updates).to_numpy(), rtol=1e-5, atol=1e-5)
    pd.testing.assert_frame_equal(mixed.episodes, alone.episodes)
    # The pack-mates really did train differently.
    assert not np.allclose(packed[0].updates["value_loss"], mixed.updates["value_loss"])


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
