"""Evaluations in the results directory: the files a finished run leaves, and what status,
run and report say of done runs that have no evaluations (trained before `eval_every` was set:
their run ids are the same, so they stay done)."""

from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from harness.cli import main
from harness.runs.schema import EVAL_COLUMNS

EXPERIMENT = {"name": "ev", "envs": ["Hopper-v5"], "seeds": 1, "total_steps": 256,
              "ppo": {"num_steps": 64, "num_minibatches": 2, "update_epochs": 1},
              "matrix": {"value_clip": ["none", "max"]}}
EVALUATED = {"eval_every": 128, "eval_episodes": 2}


def write(tmp_path: Path, **analysis) -> str:
    path = tmp_path / "ev.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, "analysis": analysis}))
    return str(path)


def harness(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_done_runs_without_evaluations_are_named_and_eval_scores_refuse(tmp_path, capsys):
    results, exp_dir = tmp_path / "results", tmp_path / "results" / "ev"
    assert harness(capsys, "run", write(tmp_path), "--jobs", 1, "--results-dir", results)[0] == 0
    assert not (exp_dir / "evals").exists()
    policies = sorted((exp_dir / "policies").glob("*.pt"))
    assert len(policies) == 2 and all(p.stat().st_size < 100_000 for p in policies)
    assert torch.load(policies[0], weights_only=True)["env_id"] == "Hopper-v5"

    # evaluation switched on: the same run ids, so both runs stay done, without evaluations
    path = write(tmp_path, **EVALUATED, metric="eval")
    code, out, err = harness(capsys, "run", path, "--jobs", 1, "--results-dir", results)
    assert code == 0 and "0 trained now" in out
    assert "note: done runs without evaluations (evals/): 2, e.g. Hopper-v5__" in err
    code, _, err = harness(capsys, "status", path, "--results-dir", results)
    assert code == 0 and "done runs without evaluations (evals/): 2" in err
    code, _, err = harness(capsys, "report", path, "--results-dir", results, "--n-boot", 100)
    [line] = err.strip().splitlines()
    assert code == 2 and line.startswith(f"error: {path}: analysis.metric: eval scores need "
                                         "evaluations; done runs without evaluations (evals/): 2")
    assert "Delete their files in" in line

    # another metric: the report is written, and says which runs have no eval score
    path = write(tmp_path, **EVALUATED)
    code, _, err = harness(capsys, "report", path, "--results-dir", results, "--n-boot", 100)
    assert code == 0 and "note: done runs without evaluations (evals/): 2" in err
    report = (exp_dir / "report" / "report.md").read_text()
    assert report.count("- no evaluations (trained before `analysis.eval_every` was set)") == 2

    # a run trained again has its evaluations, before its updates file marks it done
    [first, _] = sorted((exp_dir / "updates").glob("*.parquet"))
    first.unlink()
    assert harness(capsys, "run", path, "--jobs", 1, "--results-dir", results)[0] == 0
    evals = pd.read_parquet(exp_dir / "evals" / first.name)
    assert tuple(evals.columns) == EVAL_COLUMNS
    assert evals[["global_step", "evaluation", "episode"]].values.tolist() == [
        [128, 0, 0], [128, 0, 1], [256, 1, 0], [256, 1, 1]]
    assert (evals["run_id"] == first.stem).all()
    assert "done runs without evaluations (evals/): 1," in harness(
        capsys, "status", path, "--results-dir", results)[2]


@pytest.mark.parametrize("metric", ["eval", "final"])
def test_eval_scores_are_compared_when_runs_are_evaluated(tmp_path, capsys, metric):
    results = tmp_path / "results"
    path = write(tmp_path, **EVALUATED, metric=metric)
    assert harness(capsys, "run", path, "--jobs", 1, "--results-dir", results)[0] == 0
    code, _, err = harness(capsys, "report", path, "--results-dir", results, "--n-boot", 100)
    assert code == 0 and "without evaluations" not in err
    comparisons = pd.read_csv(results / "ev" / "report" / "comparisons.csv")
    assert comparisons.set_index("metric")["family"].to_dict() == {
        "final": "primary" if metric == "final" else "secondary", "auc": "secondary",
        "eval": "primary" if metric == "eval" else "secondary"}
