"""harness export --tensorboard: event files read back with TensorBoard's own reader."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import make_experiment, write_results
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harness.analysis.study import experiment_results
from harness.analysis.tensorboard import EPISODE_TAGS, UPDATE_TAGS, export_tensorboard
from harness.runs.schema import RUN_COLUMNS

TESTS = Path(__file__).parent
VARIANTS = {"value_clip=none": {"value_clip": "none"},
            "value_clip=max,vf_clip_eps=0.2": {"value_clip": "max", "vf_clip_eps": 0.2}}


@pytest.fixture
def exported(tmp_path):
    exp = make_experiment(VARIANTS, "value_clip=none", seeds=range(2))
    write_results(tmp_path / "runs", exp, {v: 1.0 for v in VARIANTS}, n_episodes=30)
    results = experiment_results(exp, tmp_path / "runs")
    return results, export_tensorboard(results, tmp_path / "tb")


def test_one_tensorboard_run_per_run_id(exported):
    results, dirs = exported
    assert sorted(d.name for d in dirs) == sorted(results.run_ids)


def test_scalars_read_back_equal_the_tables(exported):
    results, dirs = exported
    run = dirs[0]
    events = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
    assert set(events.Tags()["scalars"]) == {*UPDATE_TAGS.values(), *EPISODE_TAGS.values()}
    updates = results.updates[results.updates["run_id"] == run.name]
    loss = events.Scalars("losses/value_loss")
    assert [e.step for e in loss] == updates["global_step"].tolist()
    np.testing.assert_allclose([e.value for e in loss], updates["value_loss"], rtol=1e-6)
    # NaN (no episode ended in the first update) is skipped
    assert len(events.Scalars("charts/mean_episodic_return")) == len(updates) - 1
    episodes = results.episodes[results.episodes["run_id"] == run.name]
    returns = events.Scalars("charts/episodic_return")
    np.testing.assert_allclose([e.value for e in returns], episodes["episode_return"],
                               rtol=1e-6)
    assert [e.step for e in returns] == episodes["global_step"].tolist()


def test_export_without_results_is_one_line_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "harness", "export", "experiments/smoke.yaml",
                          "--results-dir", str(tmp_path), "--tensorboard", str(tmp_path / "tb")],
                         cwd=TESTS.parent, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"})
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: no finished runs in ")


def test_evaluations_are_one_point_each_at_their_mean(tmp_path):
    """An evals table written by hand for one run: two evaluations of two episodes."""
    exp = make_experiment(VARIANTS, "value_clip=none", seeds=range(1))
    write_results(tmp_path / "runs", exp, {v: 1.0 for v in VARIANTS}, n_episodes=30)
    run_id = sorted(p.stem for p in (tmp_path / "runs" / "updates").glob("*.parquet"))[0]
    first = pd.read_parquet(tmp_path / "runs" / "updates" / f"{run_id}.parquet").iloc[0]
    evals = pd.DataFrame({"global_step": [100, 100, 200, 200], "evaluation": [0, 0, 1, 1],
                          "episode": [0, 1, 0, 1], "episode_return": [1.0, 3.0, 5.0, 9.0],
                          "episode_length": [10, 20, 30, 30]})
    for column in reversed(RUN_COLUMNS):
        evals.insert(0, column, first[column])
    (tmp_path / "runs" / "evals").mkdir()
    evals.to_parquet(tmp_path / "runs" / "evals" / f"{run_id}.parquet", index=False)
    results = experiment_results(exp, tmp_path / "runs")
    [run] = [d for d in export_tensorboard(results, tmp_path / "tb") if d.name == run_id]
    events = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
    assert [(e.step, e.value) for e in events.Scalars("eval/mean_reward")] == [(100, 2.0),
                                                                                (200, 7.0)]
    assert [e.value for e in events.Scalars("eval/mean_ep_length")] == [15.0, 30.0]


def test_runs_carry_their_settings_as_hparams(exported):
    """TensorBoard's HParams tab can filter the runs by value_clip, vf_clip_eps, env, seed
    and variant: each run's own event file holds its session's settings."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    results, dirs = exported
    found = {}
    for run in dirs:
        events = EventAccumulator(str(run)).Reload()
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        found[run.name] = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                           for k, v in start.hparams.items()}
    clipped = next(h for h in found.values() if h["value_clip"] == "max")
    assert clipped["vf_clip_eps"] == pytest.approx(0.2)
    assert {clipped["env_id"], clipped["variant"]} == {"Hopper-v5",
                                                       "value_clip=max,vf_clip_eps=0.2"}
    unclipped = next(h for h in found.values() if h["value_clip"] == "none")
    assert "vf_clip_eps" not in unclipped  # NaN: left out
    assert sorted(h["seed"] for h in found.values()) == [0, 0, 1, 1]
