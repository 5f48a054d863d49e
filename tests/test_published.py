"""The published studies come with their raw data, and their committed report tables are
exactly what `harness report` computes from that data today (provenance)."""

import io
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import answer
from harness.analysis.load import experiment_from_manifest, read_sessions
from harness.analysis.report import report_tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PUBLISHED = ("ablation", "baselines_vs_unclipped")


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_committed_report_tables_are_reproduced_from_the_committed_runs(name):
    exp_dir = RESULTS / name
    exp = experiment_from_manifest(exp_dir)
    runs = len(exp.envs) * len(exp.seeds) * len(exp.variants)
    assert len(list((exp_dir / "updates").glob("*.parquet"))) == runs
    assert len(list((exp_dir / "episodes").glob("*.parquet"))) == runs
    computed = report_tables(exp, exp_dir).csv()
    for table, frame in computed.items():
        committed = pd.read_csv(exp_dir / "report" / f"{table}.csv")
        # read back through CSV as the committed file was; equal up to the last bits a
        # numpy or scipy release may change in a sum's order
        again = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
        pd.testing.assert_frame_equal(again, committed, check_exact=False, rtol=1e-12,
                                      obj=f"{name}/report/{table}.csv")


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_manifest_says_which_software_trained_the_runs(name):
    sessions = read_sessions(RESULTS / name)
    assert sessions and all(s["git"]["commit"] and s["versions"]["torch"] for s in sessions)
    assert sum(s.get("trained", 0) for s in sessions) >= 1


def test_the_readme_answer_is_the_published_claims_table():
    """The front page's table is generated from claims.csv, never typed by hand."""
    readme = ROOT / "README.md"
    assert answer.block(RESULTS / "baselines_vs_unclipped", ROOT) in readme.read_text()


def test_answer_table_by_hand():
    claims = pd.DataFrame([{"claim": "C2", "verdict": "inconclusive", "metric": "final",
                            "rel_diff": -0.056, "rel_ci_low": -0.189, "rel_ci_high": 0.099,
                            "n": 30, "seeds_needed": 63, "evidence": "..."}])
    table = answer.answer_table(claims, ["Hopper-v5", "Walker2d-v5"], 10, "r/report.md")
    assert table.splitlines()[2] == ("| C2 | **inconclusive** | -5.6% [-18.9%, +9.9%] (final) | "
                                     "10 / 63 | Hopper, Walker2d | [report](r/report.md) |")
