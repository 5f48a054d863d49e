"""Damaged results: a truncated parquet or checkpoint, and a write that fails, as the user
sees them through the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.runs.checkpoints import checkpoint_path

TESTS = Path(__file__).parent


def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t", "envs": ["InvertedPendulum-v5"], "seeds": 2, "total_steps": 256,
        "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1},
        "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2]},
        "control": {"value_clip": "none"}}))
    return path


def harness(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"})


@pytest.fixture
def finished(tmp_path):
    path = experiment(tmp_path)
    assert harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "r").returncode == 0
    return path, tmp_path / "r" / "t"


def cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_table_is_damaged_then_retrained(finished, tmp_path):
    path, exp_dir = finished
    victim = sorted((exp_dir / "episodes").glob("*.parquet"))[0]
    original = pd.read_parquet(victim)
    cut_short(victim)
    status = harness("status", path, "--results-dir", tmp_path / "r")
    assert "3 done, 0 failed, 1 damaged, 0 pending" in status.stdout.splitlines()[0]
    assert f"damaged: {victim.stem}: a results file cannot be read" in status.stdout
    report = harness("report", path, "--results-dir", tmp_path / "r", "--n-boot", 100)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    text = (exp_dir / "report" / "report.md").read_text()
    assert f"failed `{victim.stem}`: unreadable {victim.name}" in text
    again = harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "r")
    assert again.returncode == 0, again.stderr
    assert f"note: {victim.stem}: a results file is damaged" in again.stderr
    assert "3 were done, 1 trained now" in again.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(victim), original)


def test_truncated_checkpoint_is_noted_and_the_run_starts_again(tmp_path):
    path = experiment(tmp_path)
    exp_dir = tmp_path / "r" / "t"
    run_id = "InvertedPendulum-v5__value_clip-none__s0"
    out = harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "r", "--dry-run")
    real = next(line.split()[0] for line in out.stdout.splitlines() if line.startswith(run_id))
    ckpt = checkpoint_path(exp_dir, real)
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x80\x05not a whole pickle")
    run = harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "r")
    assert run.returncode == 0, run.stderr
    assert f"unreadable checkpoint (UnpicklingError): {real} starts again" in run.stderr
    assert "0 were done, 4 trained now" in run.stdout
    assert not ckpt.exists()


def test_a_write_that_fails_is_one_line_and_leaves_no_partial_file(tmp_path):
    path = experiment(tmp_path)
    exp_dir = tmp_path / "r" / "t"
    exp_dir.mkdir(parents=True)
    (exp_dir / "updates").write_text("a file where the directory should be")
    out = harness("run", path, "--jobs", 1, "--results-dir", tmp_path / "r")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "writing results under" in errors[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not list((exp_dir / "episodes").glob("*.parquet.tmp"))
    assert not [p for p in exp_dir.rglob("*") if p.name.endswith(".tmp")]
