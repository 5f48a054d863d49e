"""`harness run --reuse`: runs another experiment has done under the same config hash are
copied, equal to training them, with this experiment's identity columns."""

import json

import pandas as pd
import torch
import yaml
from test_runner import TINY, harness, read_metrics

from harness.runs.experiment import load_experiment
from harness.runs.runner import run_experiment


def write(tmp_path, name, **matrix):
    exp = {"name": name, "envs": ["InvertedPendulum-v5"], "seeds": 2, "total_steps": 128,
           "ppo": TINY, "matrix": matrix, "control": {"value_clip": "none"},
           "analysis": {"eval_every": 64, "eval_episodes": 2}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def test_reused_runs_equal_trained_ones_and_carry_the_new_identity(tmp_path):
    # "a" has none and max 0.2; "b" adds max 1.0 and names every variant by both axes.
    a = write(tmp_path, "a", value_clip=["none", "max"], vf_clip_eps=[0.2])
    b = write(tmp_path, "b", value_clip=["none", "max"], vf_clip_eps=[0.2, 1.0],
              normalize_reward=[True])
    run_experiment(load_experiment(a), tmp_path / "r", jobs=1)
    summary = run_experiment(load_experiment(b), tmp_path / "r", jobs=1,
                             reuse=[tmp_path / "r" / "a"])
    assert (summary.total, summary.skipped, summary.trained) == (6, 4, 2)
    run_experiment(load_experiment(b), tmp_path / "fresh", jobs=1)
    copied, fresh = read_metrics(tmp_path / "r" / "b"), read_metrics(tmp_path / "fresh" / "b")
    assert copied.keys() == fresh.keys() and len(copied) == 12
    for name in copied:  # column order and identity columns included
        pd.testing.assert_frame_equal(copied[name], fresh[name], check_exact=True, obj=name)
    for path in sorted((tmp_path / "fresh" / "b" / "evals").glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r" / "b" / "evals" / path.name),
                                      pd.read_parquet(path), check_exact=True)
    policies = sorted((tmp_path / "fresh" / "b" / "policies").glob("*.pt"))
    assert len(policies) == 6
    for path in policies:
        again = torch.load(tmp_path / "r" / "b" / "policies" / path.name, weights_only=False)
        assert_same(again, torch.load(path, weights_only=False))
    session = json.loads((tmp_path / "r" / "b" / "manifest.json").read_text())["sessions"][-1]
    assert len(session["reused"]) == 4
    assert set(session["reused"].values()) == {"../a"}  # from the manifest's folder


def assert_same(a, b):
    """Nested dicts and lists of tensors and plain values, equal exactly."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def test_dry_run_shows_what_would_be_copied_and_a_missing_source_is_one_line(tmp_path):
    a = write(tmp_path, "a", value_clip=["none"])
    b = write(tmp_path, "b", value_clip=["none", "max"], vf_clip_eps=[0.2])
    run_experiment(load_experiment(a), tmp_path / "r", jobs=1)
    out = harness("run", b, "--results-dir", tmp_path / "r", "--reuse", tmp_path / "r" / "a",
                  "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(f"copy from {tmp_path / 'r' / 'a'}") == 2
    assert out.stdout.count("pending") == 2
    bad = harness("run", b, "--results-dir", tmp_path / "r", "--reuse", tmp_path / "nowhere")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--reuse" in bad.stderr


def test_dry_run_of_a_sequential_design_copies_later_looks_too(tmp_path):
    """Seeds a later look asks for are copied then as at the first look, so the dry-run marks
    them as copies and prices none of them."""
    a = write(tmp_path, "a", value_clip=["none", "max"], vf_clip_eps=[0.2])
    a.write_text(yaml.safe_dump({**yaml.safe_load(a.read_text()), "seeds": 4}))
    run_experiment(load_experiment(a), tmp_path / "r", jobs=1)
    s = write(tmp_path, "s", value_clip=["none", "max"], vf_clip_eps=[0.2])
    s.write_text(yaml.safe_dump({**yaml.safe_load(s.read_text()),
                                 "seeds": {"min": 2, "max": 4, "step": 2}}))
    out = harness("run", s, "--results-dir", tmp_path / "r", "--reuse", tmp_path / "r" / "a",
                  "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(f"copy from {tmp_path / 'r' / 'a'}") == 2 * 4
    assert "nothing left to train" in out.stdout
