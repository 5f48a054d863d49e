"""The published studies come with their raw data, and their committed report tables are
exactly what `harness report` computes from that data today (provenance)."""

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis import answer, prereg, published
from harness.analysis.load import experiment_from_manifest, read_sessions
from harness.analysis.report_tables import report_tables
from harness.runs import plan_history
from harness.runs.sequential_record import looked_runs, read_record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PUBLISHED = ("ablation", "baselines_vs_unclipped", "eps_sweep", "reward_scale", "clip_pilot",
             "ant_check")
ANSWER = ("eps_sweep", "reward_scale", "baselines_vs_unclipped")
"""The studies the README's answer is written from: each claim from the one whose
``analysis.claims`` pre-registers it (C2, declared by two, from eps_sweep, listed first: it
judges every clipped form)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_committed_report_tables_are_reproduced_from_the_committed_runs(name):
    exp_dir = RESULTS / name
    exp = experiment_from_manifest(exp_dir)
    record = read_record(exp_dir)
    # a sequential study publishes the runs its looks analysed, a fixed one every run
    runs = len(exp.envs) * (len(looked_runs(record, exp.seeds)) if record
                            else len(exp.seeds) * len(exp.variants))
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
def test_committed_preregistration_is_what_the_history_says(name, monkeypatch):
    """prereg.json is dated by git, not computed from the runs: checked where this checkout
    has the experiment file's history (a copy without it says so in the report instead)."""
    monkeypatch.chdir(ROOT)  # manifests record the experiment file relative to the root
    exp = experiment_from_manifest(RESULTS / name)
    committed = json.loads((RESULTS / name / "report" / "prereg.json").read_text())
    found = plan_history.registration(exp) if exp.analysis.claims else None
    if isinstance(found, plan_history.Unknown):
        pytest.skip(f"registration commit unknown here: {found.why}")
    timing = None if found is None else prereg.timing(found, read_sessions(RESULTS / name))
    assert json.loads(json.dumps(prereg.record(exp, timing))) == committed  # as written


@pytest.mark.parametrize("name", ANSWER)
def test_the_answer_studies_declared_their_claims_after_their_runs(name):
    """Their header comments registered the plan in words; analysis.claims came later."""
    committed = json.loads((RESULTS / name / "report" / "prereg.json").read_text())
    assert committed["verdict"] == "post hoc"


@pytest.mark.parametrize("name", PUBLISHED)
def test_where_adastop_decides_a_direction_our_per_env_verdict_agrees(name):
    """The committed cross-check (reproduced from the runs above): wherever AdaStop says
    larger or smaller, our estimate has that sign and our verdict is not the opposite."""
    pytest.importorskip("adastop")
    cross = pd.read_csv(RESULTS / name / "report" / "adastop.csv")
    decided = cross[cross["adastop"].isin(["larger", "smaller"])]
    assert decided["agree"].astype(bool).all(), decided
    assert cross.loc[~cross.index.isin(decided.index), "agree"].isna().all()


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_manifest_says_which_software_trained_the_runs(name):
    sessions = read_sessions(RESULTS / name)
    assert sessions and all(s["git"]["commit"] and s["versions"]["torch"] for s in sessions)
    assert sum(s.get("trained", 0) for s in sessions) >= 1


def test_the_readme_answer_is_the_published_claims_table():
    """The front page's table is generated from claims.csv, never typed by hand."""
    readme = ROOT / "README.md"
    assert answer.block([RESULTS / s for s in ANSWER], ROOT) in readme.read_text()


def test_answer_table_by_hand():
    """A count read back from claims.csv beside empty cells is a float: printed whole."""
    claims = pd.DataFrame([{"claim": "C2", "verdict": "inconclusive", "metric": "final",
                            "rel_diff": -0.056, "rel_ci_low": -0.189, "rel_ci_high": 0.099,
                            "confidence": 0.9, "n": 30, "seeds_needed": 63.0, "evidence": "...",
                            "study": "s",
                            "envs": ["Hopper-v5", "Walker2d-v5"], "runs": 10,
                            "report": "r/report.md"}])
    table = answer.answer_table(claims)
    assert table.splitlines()[2] == ("| C2 | **inconclusive** | -5.6% [-18.9%, +9.9%] "
                                     "(final, 90%) | – | – | – | 10 / 63 | Hopper, Walker2d | "
                                     "[s](r/report.md) |")
    spread = claims.assign(estimand="random", pred_low=-0.31, pred_high=0.48, i2=0.659)
    assert answer.answer_table(spread).splitlines()[2].split(" | ")[3:6] == [
        "random effects: a new task", "[-31%, +48%]", "66%"]
    fixed = spread.assign(estimand="fixed")  # its spread is described at another level
    assert answer.answer_table(fixed).splitlines()[2].split(" | ")[3:6] == [
        "fixed: these envs", "–", "66%"]


def test_each_claim_comes_from_the_study_that_declares_it(tmp_path):
    """Hand-made claims.csv files: the study that pre-registers a claim gives its row, even
    with fewer runs or a `not tested`; undeclared, the first listed that tests it, marked."""
    def study(name, verdicts, seeds, n=0, declared=()):
        root = tmp_path / "results" / name
        (root / "report").mkdir(parents=True, exist_ok=True)
        exp = {"name": name, "envs": ["Hopper-v5"], "seeds": list(range(seeds)),
               "total_steps": 2048, "ppo": {}, "variants": [], "control": "value_clip=none",
               "axes": [], "analysis": {"claims": {c: {"estimand": "fixed"} for c in declared}}}
        (root / "manifest.json").write_text(json.dumps({"experiment": exp}))
        pd.DataFrame([{"claim": c, "verdict": v, "metric": "final", "rel_diff": math.nan,
                       "rel_ci_low": math.nan, "rel_ci_high": math.nan, "confidence": math.nan,
                       "n": n,
                       "seeds_needed": math.nan, "evidence": ""} for c, v in verdicts.items()]
                     ).to_csv(root / "report" / "claims.csv", index=False)
        return root

    a = study("a", {"C1": "inconclusive", "C2": "inconclusive", "C3": "not tested",
                    "C4": "not tested"}, 10, n=30, declared=("C2", "C3"))
    b = study("b", {"C1": "supported", "C2": "supported", "C3": "contradicted",
                    "C4": "not tested"}, 20, n=60, declared=("C1", "C2"))
    lines = answer.block([a, b], tmp_path).splitlines()[3:-1]
    assert [line.split(" | ")[:2] + [line.split(" | ")[-1]] for line in lines] == [
        ["| C1", "**supported**", "[b](results/b/report/report.md) |"],
        ["| C2", "**inconclusive**", "[a](results/a/report/report.md) |"],  # first declaring
        ["| C3", "**not tested**", "[a](results/a/report/report.md) |"],  # declared by a
        ["| C4", "**not tested**", "[a (not pre-registered)](results/a/report/report.md) |"]]
    lines = answer.block([b, a], tmp_path).splitlines()[3:-1]
    assert lines[0].endswith("[b](results/b/report/report.md) |")  # C1 declared by b only


def test_the_planners_published_spreads_are_the_committed_summary():
    """``published.RUN_CV`` quotes baselines_vs_unclipped's summary.csv: it must not go stale
    (it once cited Hopper 293.81 / 2031.12 where the file said 383.8 / 2003)."""
    summary = pd.read_csv(RESULTS / "baselines_vs_unclipped" / "report" / "summary.csv")
    arms = ["value_clip=none", "value_clip=max,vf_clip_eps=0.2"]
    for family in ("Hopper", "Walker2d", "HalfCheetah"):
        rows = summary[(summary["env_id"] == f"{family}-v5") & summary["variant"].isin(arms)]
        cv = math.sqrt(((rows["std"] / rows["mean"]) ** 2).mean())
        assert published.RUN_CV[family] == pytest.approx(cv, rel=1e-3), family


def test_the_planners_between_env_spread_is_the_committed_tau():
    """``published.BETWEEN_ENV_TAU`` quotes baselines_vs_unclipped's primary random-effects
    row (REML tau of the log ratio of gains over random, max 0.2 against unclipped)."""
    rows = pd.read_csv(RESULTS / "baselines_vs_unclipped" / "report" / "comparisons.csv")
    [tau] = rows.loc[(rows["family"] == "primary") & (rows["estimand"] == "random"), "tau"]
    assert tau == pytest.approx(published.BETWEEN_ENV_TAU, abs=5e-7)
