"""`harness rollout`: a tiny run trained through `harness run` is replayed from its saved
policy; bad input is one line and exit 2; videos where this machine can render."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.cli import main

TESTS = Path(__file__).parent
EPISODES = 3


def harness(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    """A finished two-run Hopper-v5 experiment with evaluations: its results dir and the id
    of one of its runs."""
    root = tmp_path_factory.mktemp("rollout")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny", "envs": ["Hopper-v5"], "seeds": 1, "total_steps": 256,
        "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1},
        "matrix": {"value_clip": ["none", "max"]},
        "analysis": {"eval_every": 128, "eval_episodes": EPISODES}}))
    out = harness("run", path, "--jobs", 1, "--results-dir", root / "results")
    assert out.returncode == 0, out.stderr
    [policy, _] = sorted((root / "results" / "tiny" / "policies").glob("*.pt"))
    return root / "results", policy.stem


def test_env_arguments_reach_training_evaluation_and_rollout(tmp_path):
    """Ant-v5 without contact forces in its observation (27 numbers, not 105): a policy that
    trained, was evaluated and is replayed on envs made otherwise could not act."""
    path = tmp_path / "ant.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ant", "envs": [{"id": "Ant-v5", "include_cfrc_ext_in_observation": False}],
        "seeds": 1, "total_steps": 128, "ppo": {"num_steps": 64, "num_minibatches": 2,
                                                "update_epochs": 1},
        "analysis": {"eval_every": 128, "eval_episodes": 1}}))
    assert harness("run", path, "--jobs", 1, "--results-dir", tmp_path).returncode == 0
    [policy] = (tmp_path / "ant" / "policies").glob("*.pt")
    out = harness("rollout", policy.stem, "--episodes", 1, "--results-dir", tmp_path)
    assert out.returncode == 0, out.stderr
    evals = pd.read_parquet(tmp_path / "ant" / "evals" / f"{policy.stem}.parquet")
    assert set(evals["env_id"]) == {"Ant-v5[include_cfrc_ext_in_observation=false]"}
    [row] = evals.itertuples()
    assert printed_episodes(out.stdout) == [(round(row.episode_return, 2), row.episode_length)]


def printed_episodes(stdout: str) -> list[tuple[float, int]]:
    return [(float(r), int(n)) for r, n in
            re.findall(r"^episode \d+: return (-?[\d.]+), length (\d+)$", stdout, re.M)]


def test_rollout_repeats_the_last_evaluation(trained, capsys):
    results, run_id = trained
    out = harness("rollout", run_id, "--episodes", EPISODES, "--results-dir", results)
    assert out.returncode == 0, out.stderr
    evals = pd.read_parquet(results / "tiny" / "evals" / f"{run_id}.parquet")
    last = evals[evals["evaluation"] == evals["evaluation"].max()]
    assert printed_episodes(out.stdout) == [
        (round(r, 2), n) for r, n in zip(last["episode_return"], last["episode_length"],
                                         strict=True)]
    mean = re.search(r"^mean over 3 episodes: return (-?[\d.]+), length ([\d.]+)$", out.stdout,
                     re.M)
    assert mean and float(mean[1]) == pytest.approx(last["episode_return"].mean(), abs=0.01)
    # another seed: other episodes, the same ones every time
    seeded = ["rollout", run_id, "--episodes", "2", "--results-dir", str(results), "--seed", "7"]
    assert main(seeded) == 0
    other = capsys.readouterr().out
    assert printed_episodes(other) != printed_episodes(out.stdout)[:2]
    assert main(seeded) == 0 and capsys.readouterr().out == other


def test_bad_input_is_one_line_exit_2(trained, tmp_path, capsys):
    results, run_id = trained
    twice = tmp_path / "twice"
    for name in ("a", "b"):
        (twice / name / "policies").mkdir(parents=True)
        shutil.copy(results / "tiny" / "policies" / f"{run_id}.pt", twice / name / "policies")
    cases = [
        (["nope", "--episodes", 1, "--results-dir", results], "nope: no saved policy in"),
        (["../tiny", "--episodes", 1, "--results-dir", results], "not a run id"),
        ([run_id, "--episodes", 1, "--results-dir", twice], "saved in 2 experiments"),
        ([run_id, "--episodes", 0, "--results-dir", results], "must be a positive integer"),
        ([run_id, "--results-dir", results], "--episodes"),
        ([run_id, "--episodes", 1, "--results-dir", results, "--seed", -1],
         "must be a non-negative integer"),
        ([run_id, "--episodes", 1, "--results-dir", results, "--video", tmp_path / "v.avi"],
         "must end in .mp4 or .gif"),
    ]
    for args, message in cases:
        try:  # in this process: a fresh interpreter per case would import torch each time
            code = main(["rollout", *map(str, args)])
        except SystemExit as e:  # argparse's errors
            code = e.code
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (args, lines)
        assert lines[0].startswith("error: ") and message in lines[0], (args, lines[0])


def can_render() -> str | None:
    """Why MuJoCo cannot render offscreen here, or None (MUJOCO_GL as the CLI sets it)."""
    probe = ("import gymnasium as gym; e = gym.make('Hopper-v5', render_mode='rgb_array'); "
             "e.reset(seed=0); assert e.render().shape[-1] == 3")
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, timeout=120)
    return None if out.returncode == 0 else (out.stderr.strip().splitlines() or ["?"])[-1]


def test_video(trained, tmp_path):
    pytest.importorskip("imageio", reason="--video needs imageio")
    problem = can_render()
    if problem:
        pytest.skip(f"MuJoCo cannot render offscreen here: {problem}")
    import imageio.v3 as iio

    results, run_id = trained
    gif = tmp_path / "replay.gif"
    out = harness("rollout", run_id, "--episodes", 1, "--results-dir", results, "--video", gif)
    assert out.returncode == 0, out.stderr
    frames = iio.imread(gif, index=None)
    [(_, length)] = printed_episodes(out.stdout)
    # a frame after the reset and every 4th step (125 frames/s cut to ~30)
    assert frames.shape == (1 + length // 4, 480, 480, 3)
    mp4 = tmp_path / "replay.mp4"
    out = harness("rollout", run_id, "--episodes", 1, "--results-dir", results, "--video", mp4)
    if out.returncode == 0:
        assert mp4.stat().st_size > 0
    else:  # imageio without an mp4 backend here
        assert out.returncode == 2 and "mp4 needs imageio-ffmpeg" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and not mp4.exists()
