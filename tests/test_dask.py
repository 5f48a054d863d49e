"""The Dask backend: a real LocalCluster of worker processes on loopback gives loky's numbers."""

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.runs.experiment import load_experiment
from harness.runs.runner import BackendError, run_experiment

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

EXPERIMENT = {"name": "d", "envs": ["InvertedPendulum-v5", "Hopper-v5"], "seeds": 2,
              "total_steps": 256, "ppo": {"num_steps": 64, "num_minibatches": 2,
                                          "update_epochs": 1},
              "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2]}}


def read_metrics(exp_dir: Path) -> dict[str, pd.DataFrame]:
    """Every run table of a results dir, without the timing column."""
    return {f"{kind}/{p.stem}": pd.read_parquet(p).drop(columns=["sps"], errors="ignore")
            for kind in ("updates", "episodes") for p in sorted((exp_dir / kind).glob("*"))}


@pytest.mark.slow
def test_dask_local_cluster_matches_loky(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    exp = load_experiment(path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.WARNING) as cluster:
        summary = run_experiment(exp, tmp_path / "dask", backend="dask",
                                 scheduler=cluster.scheduler_address)
    assert (summary.trained, summary.failed) == (8, ())
    run_experiment(exp, tmp_path / "loky", backend="loky", jobs=2)
    dask, loky = read_metrics(tmp_path / "dask" / "d"), read_metrics(tmp_path / "loky" / "d")
    assert len(dask) == 16 and dask.keys() == loky.keys()
    for name in dask:
        pd.testing.assert_frame_equal(dask[name], loky[name], check_exact=True, obj=name)
    session = json.loads((tmp_path / "dask" / "d" / "manifest.json").read_text())["sessions"][0]
    assert (session["backend"], session["workers"]) == ("dask", 2)
    assert session["scheduler"].startswith("tcp://127.0.0.1:")


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}), pytest.raises(
            BackendError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:1 "):
        run_experiment(load_experiment(path), tmp_path, backend="dask",
                       scheduler="tcp://127.0.0.1:1")
    assert not list((tmp_path / "d").glob("*/*"))  # nothing ran
