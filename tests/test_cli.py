"""Command-line options as the user sees them: a bad value is one line `error: ...`, exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.directories import check_directory
from harness.commands.errors import InputError

EXPERIMENT = "name: t\nenvs: [InvertedPendulum-v5]\nseeds: 1\ntotal_steps: 4096\n"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_one_error_line(out: subprocess.CompletedProcess, expected: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [expected]


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(EXPERIMENT)
    return path


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["run", "dry_run"])
@pytest.mark.parametrize(("results_dir", "in_the_way"), [
    ("a_file", "a_file"), ("a_file/sub", "a_file"), ("r", "r/t")],
    ids=["dir_is_a_file", "dir_under_a_file", "experiment_dir_is_a_file"])
def test_results_dir_that_is_not_a_directory(tmp_path, experiment, dry_run, results_dir,
                                             in_the_way):
    (tmp_path / in_the_way).parent.mkdir(exist_ok=True)
    (tmp_path / in_the_way).write_text("not a directory\n")
    out = harness("run", "x.yaml", "--results-dir", results_dir, *dry_run, cwd=tmp_path)
    assert_one_error_line(out, f"error: --results-dir {results_dir}: {in_the_way} is not a "
                               "directory; give a directory that exists or can be created")


def test_results_dir_under_a_dangling_link(tmp_path, experiment):
    """A results dir on a disk that is not mounted: refused as root too (unlike a read-only
    directory, which root writes in)."""
    (tmp_path / "disk").symlink_to(tmp_path / "unmounted")
    out = harness("run", "x.yaml", "--results-dir", "disk/results", cwd=tmp_path)
    assert_one_error_line(out, "error: --results-dir disk/results: disk is not a directory; "
                               "give a directory that exists or can be created")


def test_results_dir_one_may_not_write_in(tmp_path, monkeypatch):
    """What a user (not root) is told in a read-only directory: ``os.access`` says no."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InputError) as error:
        check_directory("--results-dir", "ro/results", tmp_path / "results" / "t")
    assert str(error.value) == (f"--results-dir ro/results: {tmp_path} is not writable; give a "
                                "directory you can write in")


def test_missing_results_dir_is_created_and_dry_run_writes_nothing(tmp_path, experiment):
    out = harness("run", "x.yaml", "--results-dir", "new/deeper", "--dry-run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("jobs", ["0", "-2", "two"])
def test_jobs_must_be_positive_or_minus_one(tmp_path, experiment, jobs):
    out = harness("run", "x.yaml", "--jobs", jobs, "--dry-run", cwd=tmp_path)
    assert_one_error_line(out, f"error: harness run: argument --jobs: must be a positive integer "
                               f"or -1 (all cores), got '{jobs}' (see harness run --help)")


def test_minus_one_jobs_is_accepted(tmp_path, experiment):
    assert harness("run", "x.yaml", "--jobs", "-1", "--dry-run", cwd=tmp_path).returncode == 0


def test_usage_errors_are_one_line(tmp_path):
    assert_one_error_line(harness("run", cwd=tmp_path), "error: harness run: the following "
                          "arguments are required: EXPERIMENT.yaml (see harness run --help)")
    out = harness("frobnicate", cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("error: harness: argument COMMAND: invalid choice: 'frobnicate'")


@pytest.mark.parametrize("command", [["status"], ["export", "--tensorboard", "tb"]],
                         ids=["status", "export"])
def test_a_results_dir_that_is_a_file_is_refused_by_every_command(tmp_path, experiment,
                                                                   command, capsys):
    (tmp_path / "a_file").write_text("not a directory\n")
    rc = main([command[0], str(experiment), "--results-dir", str(tmp_path / "a_file"),
               *[str(tmp_path / c) if c == "tb" else c for c in command[1:]]])
    assert rc == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: --results-dir {tmp_path / 'a_file'}: {tmp_path / 'a_file'} is not a directory; "
        "give a directory that exists or can be created"]


def test_tensorboard_onto_a_file_is_one_line(tmp_path, experiment, capsys):
    (tmp_path / "tb").write_text("a file\n")
    rc = main(["export", str(experiment), "--tensorboard", str(tmp_path / "tb")])
    assert rc == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: --tensorboard {tmp_path / 'tb'}: {tmp_path / 'tb'} is not a directory; give a "
        "directory that exists or can be created"]


def test_bench_of_an_unknown_env_is_one_line(capsys):
    assert main(["bench", "--env", "Nope-v0"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: harness bench: --env: 'Nope-v0' is not a registered "
                           "Gymnasium env id")
