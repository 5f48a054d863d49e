"""Reading results back (harness.analysis.load): schema, and tolerance of failed or broken runs."""

import json

import numpy as np
import pandas as pd
from synthetic import make_experiment, write_results

from harness.analysis.load import load_results
from harness.runs.schema import EPISODE_COLUMNS, UPDATE_COLUMNS

VARIANTS = {"value_clip=none": {"value_clip": "none"},
            "value_clip=max,vf_clip_eps=0.2": {"value_clip": "max", "vf_clip_eps": 0.2}}
EFFECT = dict.fromkeys(VARIANTS, 1.0)


def test_missing_directory_reads_as_no_runs(tmp_path):
    results = load_results(tmp_path / "nothing")
    assert results.run_ids == () and results.failures == ()
    assert set(UPDATE_COLUMNS) <= set(results.updates.columns)


def test_loads_every_run_with_the_documented_columns(tmp_path):
    exp = make_experiment(VARIANTS, "value_clip=none", seeds=range(3))
    write_results(tmp_path, exp, EFFECT)
    results = load_results(tmp_path)
    assert len(results.run_ids) == 6
    assert set(UPDATE_COLUMNS) | {"value_clip"} <= set(results.updates.columns)
    assert set(EPISODE_COLUMNS) <= set(results.episodes.columns)
    unclipped = results.updates[results.updates["value_clip"] == "none"]
    assert unclipped["vf_clip_eps"].isna().all()
    assert results.failures == ()


def test_null_typed_columns_stack_with_float_ones(tmp_path):
    exp = make_experiment(VARIANTS, "value_clip=none", seeds=[0])
    write_results(tmp_path, exp, EFFECT)
    path = next((tmp_path / "updates").glob("*none*"))
    frame = pd.read_parquet(path)
    frame["vf_clip_eps"] = None  # an all-null column is stored with the null type
    frame.to_parquet(path, index=False)
    updates = load_results(tmp_path).updates
    assert updates["vf_clip_eps"].dtype == np.float64


def test_failed_incomplete_and_unreadable_runs_are_listed_not_fatal(tmp_path):
    exp = make_experiment(VARIANTS, "value_clip=none", seeds=range(3))
    write_results(tmp_path, exp, EFFECT)
    (tmp_path / "failures").mkdir()
    (tmp_path / "failures" / "crashed.json").write_text(json.dumps(
        {"run_id": "crashed", "reason": "value loss is NaN", "update": 3, "global_step": 1536}))
    updates = sorted((tmp_path / "updates").glob("*.parquet"))
    updates[0].unlink()                                   # killed between its two files
    updates[1].write_bytes(b"not parquet")                # a broken file
    results = load_results(tmp_path)
    assert len(results.run_ids) == 4
    assert set(results.episodes["run_id"]) == set(results.run_ids)
    errors = {f.run_id: f.error for f in results.failures}
    assert errors["crashed"] == "value loss is NaN (at step 1536)"
    assert errors[updates[0].stem].startswith("incomplete")
    assert errors[updates[1].stem].startswith("unreadable")
