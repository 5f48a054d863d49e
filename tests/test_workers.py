"""Lost worker processes: a pack whose worker dies is trained again from its checkpoints, and
one that keeps killing its worker becomes failed runs while the others finish (loky, and a
real Dask scheduler with worker processes on loopback)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

TESTS = Path(__file__).parent
# workers import lethal_env from tests/, and harness from this checkout
ENV = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"}
SCHEDULER = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def harness(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=600, **kwargs)


def write(tmp_path: Path, **fields) -> Path:
    exp = {"name": "w", "seeds": 1, "ppo": {"num_steps": 64, "num_minibatches": 2,
                                            "update_epochs": 1}, **fields}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def tables(exp_dir: Path) -> dict[str, pd.DataFrame]:
    return {f"{kind}/{p.stem}": pd.read_parquet(p).drop(columns=["sps"], errors="ignore")
            for kind in ("updates", "episodes") for p in sorted((exp_dir / kind).glob("*"))}


def test_a_pack_that_kills_its_worker_fails_alone(tmp_path):
    path = write(tmp_path, envs=["lethal_env:Lethal-v0", "Hopper-v5"], total_steps=512)
    out = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r")
    assert out.returncode == 1, out.stderr
    assert "2 runs: 0 were done, 1 trained now, 1 failed" in out.stdout
    [failure] = (tmp_path / "r" / "w" / "failures").glob("*.json")
    assert failure.name.startswith("lethal_env")
    assert "worker process died (TerminatedWorkerError) on each of 3 attempts" in \
        failure.read_text()
    assert [p.name.split("__")[0] for p in (tmp_path / "r" / "w" / "updates").iterdir()] == [
        "Hopper-v5"]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_a_killed_dask_worker_costs_nothing_but_time(tmp_path):
    """`dask scheduler` + `dask worker --nworkers 2`; one worker process is SIGKILLed mid-pack
    after a checkpoint: the experiment ends with exit 0 and the numbers of an undisturbed run."""
    path = write(tmp_path, envs=["Hopper-v5"], seeds=4, total_steps=120 * 64,
                 matrix={"value_clip": ["none", "max"], "vf_clip_eps": [0.2]})
    quiet = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "loky")
    assert quiet.returncode == 0, quiet.stderr
    log = open(tmp_path / "scheduler.log", "w")  # noqa: SIM115 (closed in finally)
    procs = [subprocess.Popen([*SCHEDULER, "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"Scheduler at:\s+(tcp://\S+)",
                                  (tmp_path / "scheduler.log").read_text())):
            assert time.monotonic() < deadline, "no scheduler"
            time.sleep(0.1)
        address = m.group(1)
        procs.append(subprocess.Popen([*WORKER, address, "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard"], env=ENV,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        exp_dir = tmp_path / "dask" / "w"
        run = subprocess.Popen([sys.executable, "-m", "harness", "run", path, "--backend",
                                "dask", "--scheduler", address, "--results-dir",
                                tmp_path / "dask", "--checkpoint-every", "0.2"], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while not list((exp_dir / "checkpoints").glob("*.ckpt")):
            assert run.poll() is None and time.monotonic() < deadline, run.stdout.read()
            time.sleep(0.05)
        workers = [p for p in _children(procs[1].pid)
                   if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)
        log.close()
    assert "8 runs: 0 were done, 8 trained now, 0 failed" in output
    a, b = tables(tmp_path / "loky" / "w"), tables(exp_dir)
    assert len(a) == 16 and a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(b[name], a[name], check_exact=True, obj=name)
