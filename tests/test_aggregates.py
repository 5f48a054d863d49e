"""harness.analysis.aggregates on hand-computed cases: normalisation, rliable's aggregate
metrics, performance profiles, IQM curves, and resampling within envs (stratification)."""

import numpy as np
import pandas as pd
import pytest

from harness.analysis import aggregates, stats


def runs(scores: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """One row per run from ``{(env_id, variant): [score, ...]}`` (min-max normalised, for
    the aggregate tables)."""
    return pd.DataFrame([{"env_id": env, "variant": variant, "seed": seed, "score": score,
                          "normalisation": "min-max"}
                         for (env, variant), values in scores.items()
                         for seed, score in enumerate(values)])


def test_minmax_normalisation_spans_all_variants_of_each_env():
    frame = runs({("A", "x"): [0.0, 10.0], ("A", "y"): [5.0, 20.0],
                  ("B", "x"): [-300.0, -100.0], ("B", "y"): [-200.0, -200.0],
                  ("C", "x"): [7.0, 7.0]})
    normalised = aggregates.minmax_normalised(frame)
    np.testing.assert_allclose(normalised["score"],
                               [0.0, 0.5, 0.25, 1.0, 0.0, 1.0, 0.5, 0.5, 0.0, 0.0])
    assert frame["score"].iloc[1] == 10.0  # the input is not modified
    assert list(normalised.columns) == list(frame.columns)


def test_reference_scores_normalise_where_an_env_has_both():
    """Random 0, published PPO 1 (rliable): InvertedPendulum's 955-1000 stays near 1 where
    min-max would stretch it over 0-1; an env without references falls back to min-max."""
    frame = runs({("InvertedPendulum-v5", "x"): [955.0, 1000.0],
                  ("InvertedPendulum-v5", "y"): [1000.0, 1000.0], ("Ant-v5", "x"): [0.0, 10.0]})
    normalised = aggregates.normalised(frame, {"InvertedPendulum-v5": (5.0, 955.0)})
    np.testing.assert_allclose(normalised["score"], [1.0, 995 / 950, 995 / 950, 995 / 950,
                                                     0.0, 1.0])
    assert normalised["normalisation"].tolist() == ["reference"] * 4 + ["min-max"] * 2
    table = aggregates.aggregate_table(normalised, n_boot=50, seed=0)
    assert (table["normalisation"] == "random 0, published PPO 1: InvertedPendulum-v5; "
                                      "min-max per env over all runs: Ant-v5").all()


def test_aggregate_metrics_by_hand():
    env_a = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])  # mean 0.35
    env_b = np.array([1.2, 1.0, 0.9, 0.1])                       # mean 0.8
    env_c = np.array([0.5, 0.5, 0.5, 0.5])                       # mean 0.5
    iqm, median, mean, gap = aggregates.aggregate_metrics(env_a, env_b, env_c)
    pooled = np.sort(np.concatenate([env_a, env_b, env_c]))  # 16 runs: drop 4 at each end
    assert iqm == pytest.approx(pooled[4:12].mean())
    assert iqm == pytest.approx((0.3 + 0.4 + 0.5 * 5 + 0.6) / 8)
    assert median == pytest.approx(0.5)  # of the env means 0.35, 0.8, 0.5
    assert mean == pytest.approx((0.35 + 0.8 + 0.5) / 3)
    # mean of max(0, 1 - s) over all 16 runs: env a 0.65 * 8, env b 0.1 + 0.9, env c 0.5 * 4
    assert gap == pytest.approx((0.65 * 8 + 0.1 + 0.9 + 2.0) / 16)


def test_aggregate_metrics_batch_axes():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(5, 3)), rng.uniform(size=(7, 3))  # runs along axis 0
    batched = aggregates.aggregate_metrics(a, b, axis=0)
    assert batched.shape == (4, 3)
    for j in range(3):
        np.testing.assert_allclose(batched[:, j], aggregates.aggregate_metrics(a[:, j], b[:, j]))


def test_performance_profile_weighs_envs_equally():
    env_a, env_b = np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.8])
    taus = np.array([0.0, 0.5, 1.0])
    # env a: 2/3, 1/3, 0 above; env b: 1, 1/2, 0 above (pooling would give 4/5, 2/5, 0)
    np.testing.assert_allclose(aggregates.fraction_above(env_a, env_b, taus=taus),
                               [5 / 6, 5 / 12, 0.0])


def test_aggregate_table_by_hand():
    normalised = runs({("A", "x"): [0.0, 1.0], ("B", "x"): [0.5, 0.5],
                       ("A", "y"): [0.2], ("B", "y"): [0.4, 0.6]})
    table = aggregates.aggregate_table(normalised, n_boot=200, seed=0)
    assert list(table.columns) == aggregates.AGGREGATE_COLUMNS
    assert list(table["metric"]) == list(aggregates.METRICS) * 2
    x = table[table["variant"] == "x"].set_index("metric")
    assert x["value"].tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert (x["ci_low"] <= x["value"]).all() and (x["value"] <= x["ci_high"]).all()
    assert (table["normalisation"] == "min-max per env over all runs: A, B").all()
    y = table[table["variant"] == "y"]  # one run in env A: no interval
    assert y["ci_low"].isna().all() and y["ci_high"].isna().all()
    assert y["value"].notna().all()


def test_bootstrap_resamples_runs_within_each_env():
    """Env A's runs all score 0 and env B's all 1. Resampling within each env keeps 10 runs of
    each, so IQM and mean are 0.5 in every resample; pooling the 20 runs would not."""
    normalised = runs({("A", "x"): [0.0] * 10, ("B", "x"): [1.0] * 10})
    table = aggregates.aggregate_table(normalised, n_boot=2000, seed=0).set_index("metric")
    for metric in ("IQM", "mean"):
        assert table.loc[metric, ["value", "ci_low", "ci_high"]].tolist() == [0.5, 0.5, 0.5]
    pooled = stats.bootstrap_distribution([normalised["score"].to_numpy()], stats.iqm,
                                          n_boot=2000, seed=0)
    low, high = stats.percentile_ci(pooled, 0.95)
    assert high - low > 0.3


def test_profile_table():
    normalised = runs({("A", "x"): [0.0, 0.4, 1.0], ("B", "x"): [0.1, 0.9, 1.0],
                       ("A", "y"): [0.3, 0.6], ("B", "y"): [0.0, 0.5]})
    taus = np.array([0.0, 0.5, 1.0])
    profile = aggregates.profile_table(normalised, n_boot=300, seed=0, taus=taus)
    assert list(profile.columns) == aggregates.PROFILE_COLUMNS
    x = profile[profile["variant"] == "x"]
    np.testing.assert_allclose(x["fraction"], [(2 / 3 + 1) / 2, (1 / 3 + 2 / 3) / 2, 0.0])
    np.testing.assert_allclose(profile[profile["variant"] == "y"]["fraction"], [0.75, 0.25, 0])
    assert (profile["ci_low"] <= profile["fraction"]).all()
    assert (profile["fraction"] <= profile["ci_high"]).all()
    assert (profile.loc[profile["tau"] == 1.0, ["ci_low", "ci_high"]] == 0).all().all()


def test_iqm_curve_bands():
    curves = pd.DataFrame({"run_id": np.repeat([f"r{i}" for i in range(4)], 2),
                           "env_id": "A", "variant": "x", "global_step": [0, 10] * 4,
                           "value": [0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 100.0, 4.0]})
    bands = aggregates.iqm_curve_bands(curves, n_boot=300, seed=0)
    assert list(bands.columns) == ["env_id", "variant", "global_step", "iqm", "ci_low",
                                   "ci_high"]
    np.testing.assert_allclose(bands["iqm"], [1.5, 2.5])  # the outlier 100 is trimmed
    assert (bands["ci_low"] <= bands["iqm"]).all() and (bands["iqm"] <= bands["ci_high"]).all()


def test_after_first_update_keeps_the_named_variants_from_update_two():
    updates = pd.DataFrame({"variant": ["a", "a", "a", "b", "b"], "update": [1, 2, 3, 1, 2]})
    kept = aggregates.after_first_update(updates, ["a"])
    assert kept["update"].tolist() == [2, 3] and set(kept["variant"]) == {"a"}
