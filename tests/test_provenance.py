"""What `harness status` and `harness run` say about runs the current experiment and software
did not make: stray run files (an edited experiment) and runs of other commits or versions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ppo.numerics import NUMERICS
from harness.runs import provenance
from harness.runs.expand import expand
from harness.runs.experiment import load_experiment

EXPERIMENT = "name: t\nenvs: [InvertedPendulum-v5]\nseeds: 2\ntotal_steps: 4096\n"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def notes(tmp_path: Path) -> list[str]:
    """stderr of `status` and of `run --dry-run`, which must agree."""
    status = harness("status", "x.yaml", cwd=tmp_path)
    dry_run = harness("run", "x.yaml", "--dry-run", cwd=tmp_path)
    assert status.returncode == dry_run.returncode == 0, status.stderr + dry_run.stderr
    assert status.stderr == dry_run.stderr
    return status.stderr.splitlines()


@pytest.fixture
def exp_dir(tmp_path: Path) -> Path:
    """A results dir with the experiment's two runs done (file names are what counts)."""
    (tmp_path / "x.yaml").write_text(EXPERIMENT)
    updates = tmp_path / "results" / "t" / "updates"
    updates.mkdir(parents=True)
    for spec in expand(load_experiment(tmp_path / "x.yaml")):
        (updates / f"{spec.run_id}.parquet").touch()
    return tmp_path / "results" / "t"


def write_sessions(exp_dir: Path, *sessions: dict) -> None:
    (exp_dir / "manifest.json").write_text(json.dumps({"sessions": list(sessions)}))


def test_runs_of_an_earlier_total_steps_are_counted_and_said_ignored(tmp_path, exp_dir):
    assert notes(tmp_path) == []
    (tmp_path / "x.yaml").write_text(EXPERIMENT.replace("4096", "8192"))
    assert notes(tmp_path) == [
        f"note: {Path('results/t/updates')}: finished runs that are not runs of x.yaml as it is "
        "now: 2 (from an earlier total_steps, seeds or ppo setting?); run and status ignore them, "
        "but report still counts those of the same env and variant"]
    status = harness("status", "x.yaml", cwd=tmp_path).stdout.splitlines()
    assert status[0].endswith("0 done, 0 failed, 0 damaged, 2 pending")


def test_runs_of_another_commit_or_version_are_named(tmp_path, exp_dir):
    now = provenance.current()
    write_sessions(exp_dir, {**now, "trained": 2})
    assert notes(tmp_path) == []
    older = {"git": {"commit": "0123456789abcdef", "dirty": False},
             "versions": {**now["versions"], "torch": "2.12.0", "not-installed-now": "1.0"}}
    write_sessions(exp_dir, {**older, "trained": 1}, {**now, "trained": 1})
    commit = now["git"]["commit"][:10] if now["git"] else None
    changed = ([f"git 0123456789 (now {commit})"] if commit else []) + [
        f"torch 2.12.0 (now {now['versions']['torch']})",
        f"trainer numerics 1 (now {NUMERICS})"]  # a session without it: version 1
    assert notes(tmp_path) == [
        f"note: {Path('results/t')}: runs here were trained by other software than now: "
        f"{'; '.join(changed)}; they are reused as they are (manifest.json lists each session's)"]


def test_runs_reused_from_other_trainer_numerics_are_named(tmp_path, exp_dir):
    now = provenance.current()
    write_sessions(exp_dir, {**now, "trained": 0, "reused_numerics": [NUMERICS]})
    assert notes(tmp_path) == []
    write_sessions(exp_dir, {**now, "trained": 0, "reused_numerics": [1, NUMERICS]})
    assert notes(tmp_path) == [
        f"note: {Path('results/t')}: runs here were trained by other software than now: "
        f"trainer numerics 1 (now {NUMERICS}); they are reused as they are (manifest.json "
        "lists each session's)"]


def test_a_session_that_trained_nothing_made_no_runs(tmp_path, exp_dir):
    older = {"git": {"commit": "0123456789abcdef", "dirty": False}, "versions": {"torch": "1"}}
    write_sessions(exp_dir, {**older, "trained": 0}, {**provenance.current(), "trained": 2})
    assert notes(tmp_path) == []
