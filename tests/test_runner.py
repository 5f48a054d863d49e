"""The runner end to end with the real trainer on tiny budgets: files, resume, failures, lock."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml

from harness.runs import progress
from harness.runs.experiment import load_experiment
from harness.runs.results import ResultsDir, ResultsLocked
from harness.runs.runner import run_experiment

TESTS = Path(__file__).parent
TINY = {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1}


def write_experiment(tmp_path: Path, **fields) -> Path:
    """A small two-env, two-seed, clipped-vs-unclipped experiment file (8 runs)."""
    exp = {"name": "t", "envs": ["InvertedPendulum-v5", "Hopper-v5"], "seeds": 2,
           "total_steps": 256, "ppo": TINY,
           "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2]},
           "control": {"value_clip": "none"}, **fields}
    path = tmp_path / f"{exp['name']}.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def harness_command(*args) -> list[str]:
    return [sys.executable, "-m", "harness", *map(str, args)]


def harness(*args) -> subprocess.CompletedProcess:
    # workers import divergent_env from tests/, and harness from this checkout
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"}
    return subprocess.run(harness_command(*args), capture_output=True, text=True, env=env,
                          timeout=300)


def read_metrics(exp_dir: Path) -> dict[str, pd.DataFrame]:
    """Every run table of a results dir, without the timing column."""
    return {f"{kind}/{p.stem}": pd.read_parquet(p).drop(columns=["sps"], errors="ignore")
            for kind in ("updates", "episodes") for p in sorted((exp_dir / kind).glob("*"))}


def test_same_experiment_twice_gives_identical_metrics(tmp_path):
    exp = load_experiment(write_experiment(tmp_path))
    first = run_experiment(exp, tmp_path / "a", jobs=2)
    run_experiment(exp, tmp_path / "b", jobs=2)
    assert (first.total, first.skipped, first.trained, first.failed) == (8, 0, 8, ())
    a, b = read_metrics(tmp_path / "a" / "t"), read_metrics(tmp_path / "b" / "t")
    assert len(a) == 16 and a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    updates = a[next(k for k in a if k.startswith("updates/Hopper-v5__value_clip-none"))]
    assert len(updates) == 4 and updates["vf_clip_eps"].isna().all()
    assert {"run_id", "experiment", "seed", "variant", "value_clip", "value_loss_unclipped",
            "value_clip_fraction", "explained_variance"} <= set(updates.columns)
    # A second run on a complete directory trains nothing.
    again = run_experiment(exp, tmp_path / "a", jobs=2)
    assert (again.skipped, again.trained) == (8, 0)
    manifest = json.loads((tmp_path / "a" / "t" / "manifest.json").read_text())
    assert manifest["experiment"]["control"] == "value_clip=none" and len(manifest["runs"]) == 8
    assert [s["status"] for s in manifest["sessions"]] == ["complete", "complete"]
    assert [s["trained"] for s in manifest["sessions"]] == [8, 0]
    assert {"torch", "gymnasium", "joblib"} <= manifest["sessions"][0]["versions"].keys()
    assert manifest["sessions"][0]["host"]["name"] and manifest["sessions"][0]["finished"]


@pytest.mark.slow
def test_diverging_run_fails_while_pack_mates_finish(tmp_path):
    path = write_experiment(tmp_path, envs=["divergent_env:Divergent-v0"], seeds=4,
                            total_steps=512, matrix={"value_clip": ["max"]}, control=None)
    out = harness("run", path, "--jobs", "2", "--results-dir", tmp_path / "r")
    assert out.returncode == 1, out.stderr
    exp_dir = tmp_path / "r" / "t"
    failed = [json.loads(p.read_text()) for p in (exp_dir / "failures").glob("*.json")]
    assert len(failed) == 1 and failed[0]["seed"] == 1  # divergent_env.DIVERGING_SEED
    assert "non-finite" in failed[0]["reason"]
    # NaN rewards start at env step 101, inside the second rollout of 64 steps.
    assert (failed[0]["update"], failed[0]["global_step"]) == (2, 128)
    done = sorted((exp_dir / "updates").glob("*.parquet"))
    assert [pd.read_parquet(p)["seed"].iloc[0] for p in done] == [0, 2, 3]
    assert all(len(pd.read_parquet(p)) == 8 for p in done)
    status = harness("status", path, "--results-dir", tmp_path / "r")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].endswith("3 done, 1 failed, 0 damaged, 0 pending")
    assert lines[2].split() == ["divergent_env:Divergent-v0", "value_clip=max", "(control)",
                                "3", "1", "0", "0"]
    assert lines[3].startswith(f"failed: {failed[0]['run_id']}: non-finite")
    # The next run skips the done runs and retries the failed one (which fails again).
    again = harness("run", path, "--jobs", "2", "--results-dir", tmp_path / "r")
    assert again.returncode == 1
    assert "t: 4 runs: 3 were done, 0 trained now, 1 failed" in again.stdout


def test_dry_run_prints_the_matrix_and_env_steps_and_trains_nothing(tmp_path):
    path = write_experiment(tmp_path)
    out = harness("run", path, "--dry-run", "--results-dir", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (f"experiment t ({path}): 2 envs x 2 seeds x 2 variants = 8 runs, "
                        "2,048 env steps (256 per run)")
    assert lines[1:4] == ["variants (* = control):", "  * value_clip=none",
                          "    value_clip=max,vf_clip_eps=0.2"]
    assert lines[5].split() == ["InvertedPendulum-v5__value_clip-none__s0__" +
                                lines[5].split()[0][-8:], "InvertedPendulum-v5", "0",
                                "value_clip=none", "pending"]
    # then what 2 runs per arm cannot give, and the expected wall time per env and in total
    # (rates from the tests' cache)
    assert lines[13].startswith("note: 2 runs per arm and env: P(X>Y) gets no interval")
    assert lines[-1].startswith("expected wall time: ")
    assert len(lines) == 5 + 8 + 4 and not (tmp_path / "r").exists()
    report = harness("report", path, "--results-dir", tmp_path / "r")
    assert report.returncode == 2 and report.stderr.startswith(
        f"error: {tmp_path / 'r' / 't'}: no finished runs of this experiment")


def test_progress_reaches_the_bar_while_a_pack_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.05)  # stderr is not a terminal here
    with progress.ProgressBar(tmp_path / ".progress", label="t", total_steps=4000,
                              total_runs=4, done_runs=1) as bar:
        report = progress.PackProgress(progress.pack_progress_path(tmp_path / ".progress", 0))
        report(1000)  # the first call writes at once; the next ones at most every 2 s
        time.sleep(0.5)
        live = capsys.readouterr().err
        bar.pack_done(0, steps=2000, runs=2)
    assert "1.00k/4.00k" in live and "runs 1/4" in live
    assert "2.00k/4.00k" in capsys.readouterr().err.splitlines()[-1].split("\r")[-1]


def test_second_run_on_a_busy_results_dir_is_refused(tmp_path):
    path = write_experiment(tmp_path)
    rdir = ResultsDir(tmp_path / "r" / "t")
    with rdir.lock("the test"):
        out = harness("run", path, "--results-dir", tmp_path / "r")
        status = harness("status", path, "--results-dir", tmp_path / "r")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: {rdir.root}: in use by another `harness run` (pid {os.getpid()} on "
        f"{os.uname().nodename} since {json.loads(rdir.lock_path.read_text())['started']}); "
        "wait for it to finish or stop it, or choose another --results-dir"]
    assert not (rdir.root / "updates").exists()
    assert "a run is in progress: pid" in status.stdout.splitlines()[0]
    assert "in progress" not in harness("status", path, "--results-dir", tmp_path / "r").stdout


def _start(path: Path, results: Path, log: Path) -> subprocess.Popen:
    """`harness run` in its own process group, so a signal reaches it and its workers."""
    with open(log, "w") as f:
        return subprocess.Popen(harness_command("run", path, "--jobs", 2, "--results-dir",
                                                results),
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(condition, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, "harness run ended before the test could stop it"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_resume_after_sigkill_keeps_finished_runs(tmp_path):
    # 2 envs x 4 runs on 2 workers = 4 packs, trained two at a time.
    path = write_experiment(tmp_path, total_steps=1024, ppo={**TINY, "num_steps": 256})
    exp_dir = tmp_path / "r" / "t"
    proc = _start(path, tmp_path / "r", tmp_path / "log")
    try:
        _wait_for(lambda: any((exp_dir / "updates").glob("*.parquet")), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {p.stem for p in (exp_dir / "updates").glob("*.parquet")}
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for run in finished
              for p in (exp_dir / "updates" / f"{run}.parquet",
                        exp_dir / "episodes" / f"{run}.parquet")}
    assert 0 < len(finished) < 8
    out = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert f"{len(finished)} were done, {8 - len(finished)} trained now" in out.stdout
    assert len(list((exp_dir / "updates").glob("*.parquet"))) == 8
    assert len(list((exp_dir / "episodes").glob("*.parquet"))) == 8
    assert not list(exp_dir.glob("*/.*.tmp"))
    for p, (content, mtime) in before.items():
        assert p.read_bytes() == content and p.stat().st_mtime_ns == mtime, p


def _ctrl_c(pid: int) -> None:
    os.killpg(pid, signal.SIGINT)  # what a terminal's Ctrl-C does


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)  # the main process only: it must stop its workers itself


def _timeout(pid: int) -> None:
    # What `timeout` does (SLURM's scancel is alike): the command, then its whole group.
    os.kill(pid, signal.SIGTERM)
    os.killpg(pid, signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "code", "word"), [(_ctrl_c, 130, "interrupted"),
                                                    (_kill, 143, "terminated"),
                                                    (_timeout, 143, "terminated")],
                         ids=["ctrl_c", "kill_term", "timeout"])
def test_interrupt_stops_cleanly_and_says_how_to_resume(tmp_path, stop, code, word):
    path = write_experiment(tmp_path, total_steps=4096, ppo={**TINY, "num_steps": 256})
    exp_dir = tmp_path / "r" / "t"
    proc = _start(path, tmp_path / "r", tmp_path / "log")
    try:
        _wait_for(lambda: any((exp_dir / ".progress").glob("*.json")), proc)
        stop(proc.pid)
        assert proc.wait(timeout=60) == code
    finally:
        with_leftovers = _kill_group(proc.pid)
    log = (tmp_path / "log").read_text()
    assert f"{word}: finished runs are saved in {exp_dir}; resume with: harness run" in log
    assert "Traceback" not in log
    manifest = json.loads((exp_dir / "manifest.json").read_text())
    assert manifest["sessions"][-1]["status"] == "interrupted"
    assert not with_leftovers, "worker processes outlived harness run"


@pytest.mark.slow
def test_sigkill_of_harness_run_takes_its_workers_with_it(tmp_path):
    # SIGKILL cannot be caught: the workers must notice by themselves that their parent died.
    path = write_experiment(tmp_path, total_steps=10**6, ppo={**TINY, "num_steps": 256})
    proc = _start(path, tmp_path / "r", tmp_path / "log")
    try:
        _wait_for(lambda: any((tmp_path / "r" / "t" / ".progress").glob("*.json")), proc)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only
        proc.wait()
    finally:
        with_leftovers = _kill_group(proc.pid)
    assert not with_leftovers, "worker processes outlived a SIGKILLed harness run"


def test_live_workers_of_an_earlier_run_keep_the_results_dir(tmp_path):
    rdir = ResultsDir(tmp_path / "x")
    rdir.workers_dir.mkdir(parents=True)
    # A worker whose `harness run` (pid 1 here) died, still holding its lock file.
    script = ("import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
              "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)")
    worker = subprocess.Popen([sys.executable, "-c", script, rdir.workers_dir / "1-worker.lock"],
                              stdout=subprocess.PIPE, text=True)
    stale = rdir.workers_dir / "2-3.lock"  # a worker that died: nobody holds its file
    stale.touch()
    ours = rdir.workers_dir / f"{os.getpid()}-4.lock"  # this process's own worker: skipped
    ours.touch()
    try:
        assert worker.stdout.readline() == "held\n"
        taken = r"workers of an earlier `harness run` still write here \(pids worker\)"
        with (pytest.raises(ResultsLocked, match=taken),
              rdir.lock("harness run x.yaml", workers_grace_s=0.3)):
            pass
    finally:
        worker.kill()
        worker.wait()
    assert not stale.exists() and ours.exists()
    with rdir.lock("harness run x.yaml", workers_grace_s=0.3):
        assert not (rdir.workers_dir / "1-worker.lock").exists()


@pytest.mark.slow
def test_jobs_above_the_cores_are_capped_with_a_warning(tmp_path):
    cores = joblib.cpu_count()
    path = write_experiment(tmp_path, envs=["InvertedPendulum-v5"], seeds=1)
    out = harness("run", path, "--jobs", 4 * cores, "--results-dir", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[0] == (f"warning: --jobs {4 * cores}: more than the {cores} "
                                          f"cores here; using {cores} loky workers")
    assert f"on {cores} loky workers" in out.stdout
    # -1 is joblib's "all cores" (nothing is left to train: no worker starts)
    out = harness("run", path, "--jobs", -1, "--results-dir", tmp_path / "r")
    assert out.returncode == 0 and "warning" not in out.stderr, out.stderr
    assert f"training 0 in 0 packs on {cores} loky workers" in out.stdout


def _kill_group(pgid: int, grace_s: float = 10) -> bool:
    """Whether processes of the group were still alive after ``grace_s`` (then killed)."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
    return True
