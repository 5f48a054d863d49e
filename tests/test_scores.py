"""Per-run scores and curves (harness.analysis.scores) on small hand-made tables."""

import numpy as np
import pandas as pd
import pytest

from harness.analysis.scores import auc_scores, eval_scores, final_scores, run_curves
from harness.analysis.tables import curve_bands


def _run(run_id: str, **columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"run_id": run_id, "env_id": "Hopper-v5", "variant": "v", "seed": 0}
                        | columns, index=range(n))


def test_final_score_is_the_mean_of_the_last_100_episodes_in_step_order():
    order = np.random.default_rng(0).permutation(150)
    long = _run("a", global_step=order * 10, episode_return=order.astype(float))
    short = _run("b", global_step=np.arange(10), episode_return=np.arange(10.0))
    scores = final_scores(pd.concat([long, short])).set_index("run_id")["score"]
    assert scores["a"] == pytest.approx(np.mean(np.arange(50, 150)))
    assert scores["b"] == pytest.approx(4.5)  # fewer than 100 episodes: all of them


def test_few_episodes_fall_back_to_the_last_tenth_of_training():
    """49 episodes of 1,000 steps in a 50k-step run: the last 100 would be the whole run."""
    steps = np.arange(1, 50) * 1000
    run = _run("a", global_step=steps, episode_return=steps / 1000.0)
    scored = final_scores(run, total_steps=lambda env: 50_000).iloc[0]
    assert scored["score"] == pytest.approx(np.mean([46, 47, 48, 49]))  # ended after 45,000
    assert scored["window"] == pytest.approx(1 - 46_000 / 50_000)
    lone = _run("b", global_step=[100, 2000], episode_return=[1.0, 7.0])
    last = final_scores(lone, total_steps=lambda env: 50_000)
    assert last["score"].item() == 7.0  # its last episode
    whole = final_scores(run)  # without total_steps: the old rule, no window
    assert whole["score"].item() == pytest.approx(25.0) and np.isnan(whole["window"].item())


def test_window_share_of_a_long_run():
    steps = np.arange(1, 301) * 1000
    run = _run("a", global_step=steps, episode_return=np.ones(300))
    assert final_scores(run, total_steps=lambda env: 300_000)["window"].item() == pytest.approx(
        1 - 201_000 / 300_000)


def test_final_score_window_is_configurable():
    run = _run("a", global_step=np.arange(5), episode_return=[0.0, 0, 0, 2, 4])
    assert final_scores(run, last_n=2)["score"].item() == 3.0


def test_auc_score_skips_updates_without_episodes():
    run = _run("a", global_step=[1, 2, 3, 4], episodic_return=[np.nan, 1.0, 2.0, 3.0])
    assert auc_scores(run)["score"].item() == 2.0


def test_run_curves_share_a_grid_per_env():
    a = _run("a", global_step=[0, 10], episodic_return=[0.0, 10.0])
    b = _run("b", global_step=[0, 5, 10], episodic_return=[np.nan, 4.0, 8.0])
    curves = run_curves(pd.concat([a, b]), "episodic_return", n_points=3)
    wide = curves.pivot(index="global_step", columns="run_id", values="value")
    assert list(wide.index) == [0.0, 5.0, 10.0]
    np.testing.assert_allclose(wide["a"], [0.0, 5.0, 10.0])
    np.testing.assert_allclose(wide["b"], [4.0, 4.0, 8.0])  # held flat before its first value


def test_runs_of_one_logged_step_give_a_one_point_curve():
    # total_steps = 2 x num_steps, first update dropped (log-scale plots): one step per run
    runs = pd.concat([_run(r, global_step=[128], value_clip_fraction=[0.1 * i])
                      for i, r in enumerate("ab")])
    curves = run_curves(runs, "value_clip_fraction")
    assert list(curves["global_step"]) == [128.0, 128.0]
    bands = curve_bands(curves, n_boot=10, seed=0)
    assert list(bands["global_step"]) == [128.0] and bands["mean"].item() == pytest.approx(0.05)


def test_eval_score_is_the_mean_return_of_the_last_evaluation():
    a = _run("a", global_step=[100, 100, 200, 200, 250, 250], evaluation=[0, 0, 1, 1, 2, 2],
             episode=[0, 1] * 3, episode_return=[1.0, 2.0, 3.0, 4.0, 10.0, 20.0])
    b = _run("b", global_step=[100], evaluation=[0], episode=[0], episode_return=[7.0])
    scores = eval_scores(pd.concat([b, a])).set_index("run_id")["score"]
    assert scores.to_dict() == {"a": 15.0, "b": 7.0}
    assert eval_scores(a.iloc[:0]).empty
