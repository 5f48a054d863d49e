"""The group-sequential stopping rule (harness.analysis.alpha_spending): its looks, its levels, and
its error rates simulated over thousands of experiments (vectorised)."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import yaml

from harness.analysis import alpha_spending, effects
from harness.runs.sequential_record import (
    Look,
    SequentialRecord,
    Stop,
    asked,
    looked_runs,
    may_train,
    read_record,
    record_path,
    write_record,
)
from harness.runs.spec import AnalysisSettings, schedule

ALPHA, MARGIN = 0.05, 0.10
EXPERIMENTS = 4000
MC = 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)
LOOKS = schedule(10, 60, 10)


def test_schedule():
    assert LOOKS == [10, 20, 30, 40, 50, 60]
    assert schedule(10, 25, 10) == [10, 20, 25]
    assert schedule(5, 5, 10) == [5]


def test_levels_spend_alpha_mostly_late():
    levels = alpha_spending.look_levels(LOOKS, ALPHA)
    assert levels.sum() == pytest.approx(ALPHA)
    assert (np.diff(levels) > 0).all() and levels[0] < 1e-5
    assert alpha_spending.look_levels([30], ALPHA) == pytest.approx([ALPHA])  # one look: fixed
    with pytest.raises(ValueError, match="increase"):
        alpha_spending.look_levels([20, 10], ALPHA)


def test_exact_levels_keep_the_published_looks_and_spend_the_rest():
    """Issue 25: the runner's levels (``alpha_spending.levels`` given the study's record) for a
    study whose looks 1-2 were tested at the union bound's 1.6e-6 and 6.9e-4 keep those, and
    looks 3-6 of {10, ..., 60} get the exact ~0.0053, 0.0143, 0.0256, 0.0375 (two-sided),
    where the union bound gave 0.0049, 0.0108, 0.0154, 0.0182; the one-sided levels of the
    tests of equivalence are a little larger at the late looks. A record without the
    one-sided field reads its single level for both."""
    record = read_record(Path("results/reward_scale"))
    assert [k.runs_per_arm for k in record.looks] == [10, 20]
    assert [k.equivalence_level for k in record.looks] == [k.level for k in record.looks]
    at = alpha_spending.levels(LOOKS, ALPHA, record)
    assert at.equal[:2].tolist() == [k.level for k in record.looks]
    assert at.equal[:2] == pytest.approx([1.58e-6, 6.85e-4], rel=2e-3)
    assert at.equal[2:] == pytest.approx([0.0053, 0.0143, 0.0256, 0.0375], abs=1e-4)
    assert at.equivalence[2:] == pytest.approx([0.0054, 0.0146, 0.0266, 0.0396], abs=1e-4)
    fresh = alpha_spending.levels(LOOKS, ALPHA)
    assert fresh.equal == pytest.approx(at.equal, rel=2e-3)  # so little was spent at 1-2


def simulate(rho, cv, seed, looks=LOOKS):
    """Every experiment's runs up to the last look; the look j analysis uses the first n_j."""
    rng = np.random.default_rng(seed)
    x = rng.normal(rho * 100, cv * 100, (EXPERIMENTS, looks[-1]))
    y = rng.normal(100, cv * 100, (EXPERIMENTS, looks[-1]))
    return [effects.log_ratio([x[:, :n]], [y[:, :n]]) for n in looks]


def union(looks=LOOKS, alpha=ALPHA):
    """The union bound's levels for both kinds of test."""
    levels = alpha_spending.look_levels(looks, alpha)
    return alpha_spending.Levels(levels, levels)


def rates(ratios, levels):
    where, verdict = alpha_spending.first_decisions(ratios, levels, MARGIN)
    names = np.array(effects.VERDICTS)[verdict]
    return where, names


@pytest.mark.parametrize("cv", [0.2, 0.5])
def test_no_effect_is_rarely_called_better_or_worse_over_all_looks(cv):
    ratios = simulate(1.0, cv, seed=int(cv * 10))
    _, names = rates(ratios, alpha_spending.levels(LOOKS, ALPHA))
    assert np.isin(names, ["better", "worse"]).mean() == pytest.approx(ALPHA, abs=MC)
    _, spent = rates(ratios, union())  # the union bound spends well below alpha
    assert np.isin(spent, ["better", "worse"]).mean() < ALPHA - MC
    # testing each look at alpha would not hold: the reason the levels are split
    each = np.full(len(LOOKS), ALPHA)
    _, naive = rates(ratios, alpha_spending.Levels(each, each))
    assert np.isin(naive, ["better", "worse"]).mean() > ALPHA + MC


@pytest.mark.parametrize("rho", [1 + MARGIN, 1 - MARGIN])
def test_an_effect_at_the_margin_is_rarely_called_equivalent_over_all_looks(rho):
    ratios = simulate(rho, 0.1, seed=int(rho * 100))
    at = alpha_spending.levels(LOOKS, ALPHA)
    _, names = rates(ratios, at)
    assert (names == "equivalent").mean() <= ALPHA + MC  # a `better`/`worse` may come first
    # the two one-sided tests alone, at the exact one-sided levels: alpha on the nose
    crossed = [r.p_equivalence(MARGIN) < lv for r, lv in zip(ratios, at.equivalence, strict=True)]
    assert np.any(crossed, axis=0).mean() == pytest.approx(ALPHA, abs=MC)


def test_a_bound_re_read_at_every_look_holds_at_the_looks_levels():
    """C2 ("no benefit of +margin") reads the upper limit of a 1 - 2 level interval at every
    look (``claims.evaluate_claims``). With a true benefit of exactly +margin it must rarely
    ever fall below +margin: at the looks' levels the union bound holds; at alpha each time it
    would not."""
    ratios = simulate(1 + MARGIN, 0.3, seed=5)

    def ever_below(levels):
        below = [r.interval(1 - 2 * lv)[1] < MARGIN for r, lv in zip(ratios, levels, strict=True)]
        return np.any(below, axis=0).mean()

    assert ever_below(alpha_spending.levels(LOOKS, ALPHA).equivalence) <= ALPHA + MC
    assert ever_below(np.full(len(LOOKS), ALPHA)) > ALPHA + MC


@pytest.mark.parametrize("cv", [0.12, 0.15])
def test_runs_to_decide_reach_the_power_where_the_fixed_count_does_not(cv):
    """An effect of exactly the margin (log scale): by the look ``runs_to_decide`` names, the
    procedure has called it ``better`` with at least the set power; by the look the
    fixed-design count at alpha for detection alone names, it has not (the looks' levels are
    below alpha)."""
    ratios = simulate(1 + MARGIN, cv, seed=7)
    where, names = rates(ratios, alpha_spending.levels(LOOKS, ALPHA))
    one_run = effects.Effect(0.0, math.nan, math.nan, 2 * cv**2)  # se^2 of one run per arm

    def power_by(n):
        look = next(j for j, m in enumerate(LOOKS) if m >= n)
        return ((names == "better") & (where <= look)).mean()

    assert power_by(alpha_spending.runs_to_decide(one_run, MARGIN, 0.8, LOOKS, ALPHA)) >= 0.8 - MC
    z = scipy.stats.norm.ppf  # the fixed design's count for detection alone
    fixed = math.ceil((z(1 - ALPHA / 2) + z(0.8)) ** 2 * 2 * cv**2 / math.log1p(MARGIN) ** 2)
    assert power_by(fixed) < 0.8 - MC


def test_runs_to_decide_by_hand():
    # fixed need at the looks' exact levels: 1.6e-6 ... 0.038; 48 runs at alpha
    # (2.926^2 u / log(1.1)^2: the two one-sided tests' count, the larger)
    e = effects.Effect(np.zeros(3), math.nan, math.nan, np.array([0.01, 0.05, 0.2]))
    assert e.seeds_needed(MARGIN, ALPHA, 0.8).tolist() == [10, 48, 189]
    at = alpha_spending.levels(LOOKS, ALPHA)
    last = e.seeds_needed(MARGIN, at.equal[-1], 0.8, at.equivalence[-1])[2]
    mid = e.seeds_needed(MARGIN, at.equal[-1], 0.8, at.equivalence[-1])[1]
    assert alpha_spending.runs_to_decide(e, MARGIN, 0.8, LOOKS, ALPHA).tolist() == [30, 60, last]
    assert 50 < mid <= 60 and last > 60  # beyond the design: what its last level would need
    assert alpha_spending.runs_to_decide(e, MARGIN, 0.8, [30], ALPHA).tolist() == [30, 48, 189]


def test_runs_to_decide_keep_the_levels_of_the_looks_taken():
    """A first look recorded at a level of 0.025 (far above the exact boundary's 1.6e-6 at 10
    of 60 runs) spent half of alpha: the later looks spend what it left (the last 0.027
    instead of 0.038), so a comparison needing more than the design's 60 runs needs more
    still (225 against 204), the count ``levels(looks, alpha, record)``'s last level gives."""
    first = Look(1, LOOKS[0], 0.025, 0.025, ())
    record = SequentialRecord((first,), Stop.RUNNING, ())
    e = effects.Effect(np.zeros(1), math.nan, math.nan, np.array([0.2]))
    at = alpha_spending.levels(LOOKS, ALPHA, record)
    assert at.equal[0] == 0.025 and at.equal[-1] < alpha_spending.levels(LOOKS, ALPHA).equal[-1]
    kept = alpha_spending.runs_to_decide(e, MARGIN, 0.8, LOOKS, ALPHA, record)
    assert kept[0] == e.seeds_needed(MARGIN, at.equal[-1], 0.8, at.equivalence[-1])[0]
    assert kept[0] > alpha_spending.runs_to_decide(e, MARGIN, 0.8, LOOKS, ALPHA)[0] > 60
    need = alpha_spending.need_for(AnalysisSettings(), LOOKS, record)
    assert need(e).tolist() == kept.tolist()


def test_a_large_effect_stops_at_an_early_look():
    ratios = simulate(1.5, 0.2, seed=3)
    where, names = rates(ratios, alpha_spending.levels(LOOKS, ALPHA))
    assert (names == "better").mean() > 0.99
    assert (where <= 1).mean() > 0.9  # decided with 10 or 20 runs per arm, not 60


def test_no_effect_with_little_noise_stops_as_equivalent():
    ratios = simulate(1.0, 0.1, seed=4)
    where, names = rates(ratios, alpha_spending.levels(LOOKS, ALPHA))
    assert (names == "equivalent").mean() > 0.9
    assert np.median(where) < len(LOOKS) - 1  # before the last look


# --- the look-by-look decisions and the end-to-end study ---------------------------------

def test_decide_by_hand():
    scores = pd.DataFrame({"env_id": "E", "seed": list(range(4)) * 3,
                           "variant": ["c"] * 4 + ["big"] * 4 + ["same"] * 4,
                           "score": [100, 101, 99, 100, 200, 202, 198, 200, 100, 101, 99, 100.0]})
    found = alpha_spending.decide(scores, [("big", "c"), ("same", "c")], seeds=range(4),
                              level=0.01, margin=MARGIN).set_index("variant")
    assert found.loc["big", "verdict"] == "better"
    assert found.loc["big", "rel_diff"] == pytest.approx(1.0)
    assert found.loc["same", "verdict"] == "equivalent"
    # with two seeds only, the same data decide nothing at a small level
    few = alpha_spending.decide(scores, [("same", "c")], seeds=range(2), level=1e-4, margin=MARGIN)
    assert few["verdict"].tolist() == ["inconclusive"]


def test_primary_rows_take_the_sequential_verdicts():
    comparisons = pd.DataFrame({"variant": ["a", "a"], "control": ["c", "c"],
                                "family": ["primary", "secondary"],
                                "verdict": ["inconclusive", "better"]})
    decided = pd.DataFrame({"variant": ["a"], "control": ["c"], "verdict": ["worse"]})
    out = alpha_spending.with_decisions(comparisons, decided)
    assert out["verdict"].tolist() == ["worse", "better"]


@pytest.mark.slow
def test_a_small_sequential_study_end_to_end(tmp_path):
    """Two looks (3 then 6 seeds per arm); rerunning replays the looks without training."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "s", "envs": ["InvertedPendulum-v5"], "seeds": {"min": 3, "max": 6, "step": 3},
        "total_steps": 512, "ppo": {"num_steps": 128, "num_minibatches": 4, "update_epochs": 1},
        "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.01]},
        "control": {"value_clip": "none"}}))

    def harness(*args):
        return subprocess.run([sys.executable, "-m", "harness", *map(str, args)],
                              capture_output=True, text=True, timeout=600)

    dry = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "look 1 (3 seeds per arm and env):" in dry.stdout
    assert "at most (the comparisons, up to 6 seeds):" in dry.stdout
    paused = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r",
                     "--until-look", 1)
    assert paused.returncode == 0, paused.stderr
    record = json.loads((tmp_path / "r" / "s" / "sequential.json").read_text())
    assert len(record["looks"]) == 1 and record["stopped"] == "running"
    assert "the next `harness run` trains look 2" in paused.stdout
    assert len(list((tmp_path / "r" / "s" / "updates").iterdir())) == 2 * 3  # look 1 only
    first = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r")
    assert first.returncode == 0, first.stderr
    record = json.loads((tmp_path / "r" / "s" / "sequential.json").read_text())
    assert [look["runs_per_arm"] for look in record["looks"]] in ([3], [3, 6])
    assert record["stopped"] in ("every primary comparison is decided",
                                 "the largest number of seeds is reached")
    assert f"sequential design: stopped because {record['stopped']}" in first.stdout
    again = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r")
    assert again.returncode == 0 and " 0 trained now" in again.stdout, again.stdout
    assert json.loads((tmp_path / "r" / "s" / "sequential.json").read_text()) == record
    report = harness("report", path, "--results-dir", tmp_path / "r", "--n-boot", 200)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r" / "s" / "report" / "report.md").read_text()
    assert "## Sequential design" in text
    assert "no results" not in text  # seeds no look asked for are not missing runs

    # arms added later (as max_signed joined eps_sweep): the looks are replayed with their
    # comparisons in each, and the runs already finished stay as they are; a clip so wide it
    # never acts (max at eps 5 on normalised rewards) gets no seeds past the first look
    finished = {f: f.stat().st_mtime_ns for f in (tmp_path / "r" / "s" / "updates").iterdir()}
    spec = yaml.safe_load(path.read_text())
    spec["variants"] = [{"value_clip": "max_signed", "vf_clip_eps": 0.01},
                        {"value_clip": "max", "vf_clip_eps": 1000.0}]
    path.write_text(yaml.safe_dump(spec))
    added = harness("run", path, "--jobs", 2, "--results-dir", tmp_path / "r")
    assert added.returncode == 0, added.stderr
    record = json.loads((tmp_path / "r" / "s" / "sequential.json").read_text())
    idle = "value_clip=max,vf_clip_eps=1000.0"
    assert {c["variant"] for c in record["looks"][0]["comparisons"]} == {
        "value_clip=max,vf_clip_eps=0.01", "value_clip=max_signed,vf_clip_eps=0.01", idle}
    assert record["looks"][0]["never_clipped"] == [idle]
    assert all(c["variant"] != idle for look in record["looks"][1:] for c in look["comparisons"])
    assert len(list((tmp_path / "r" / "s" / "updates").glob("*vf_clip_eps-1000.0__*"))) == 3
    assert all(f.stat().st_mtime_ns == t for f, t in finished.items())
    status = harness("status", path, "--results-dir", tmp_path / "r")
    assert f"{idle} never clipped: no more seeds" in status.stdout


A02, A1, CONTROL = "value_clip=max,vf_clip_eps=0.2", "value_clip=max,vf_clip_eps=1.0", \
    "value_clip=none"


def look(n, *variants):
    return {"look": n // 3, "runs_per_arm": n, "level": 0.01,
            "comparisons": [{"variant": v, "control": CONTROL, "verdict": "inconclusive"}
                            for v in variants]}


def test_until_look_needs_a_sequential_design(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump({
        "name": "f", "envs": ["InvertedPendulum-v5"], "seeds": 2, "total_steps": 4096,
        "matrix": {"value_clip": ["none", "max"]}, "control": {"value_clip": "none"}}))
    out = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--until-look",
                          "1", "--results-dir", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "--until-look" in out.stderr and "has no looks" in out.stderr


def hand_made(tmp_path, record: dict | None, *command: str) -> subprocess.CompletedProcess:
    """``harness COMMAND`` on a design of eps 0.2 and 1 against unclipped, 3 then 6 seeds, with
    ``record`` as its ``sequential.json`` and no runs trained."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "s", "envs": ["InvertedPendulum-v5"], "seeds": {"min": 3, "max": 6, "step": 3},
        "total_steps": 512, "ppo": {"num_steps": 128},
        "matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.2, 1.0]},
        "control": {"value_clip": "none"}}))
    if record is not None:
        (tmp_path / "r" / "s").mkdir(parents=True)
        (tmp_path / "r" / "s" / "sequential.json").write_text(json.dumps(record))
    return subprocess.run([sys.executable, "-m", "harness", command[0], str(path),
                           *command[1:], "--results-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("record, pending, later", [
    (None, 3 * 3, 3 * 3),  # look 1 under way: every arm at 3 seeds
    ({"looks": [look(3, A02, A1)], "stopped": "running",
      "undecided": [[A02, CONTROL], [A1, CONTROL]]}, 3 * 6, 0),
    ({"looks": [look(3, A02, A1)], "stopped": "every primary comparison is decided",
      "undecided": []}, 3 * 3, 3 * 3),
    # eps 1 decided at look 1: its seeds 3-5 were never asked for, though look 2 ran
    ({"looks": [look(3, A02, A1), look(6, A02)],
      "stopped": "the largest number of seeds is reached", "undecided": [[A02, CONTROL]]},
     2 * 6 + 3, 3),
])
def test_status_counts_runs_no_look_has_asked_for_as_later(tmp_path, record, pending, later):
    """A hand-made ``sequential.json`` (no runs trained): seeds past the look under way, and
    every seed past the last look once the design stopped, are 'later', not 'pending'."""
    out = hand_made(tmp_path, record, "status")
    assert out.returncode == 0, out.stderr
    assert f"0 done, 0 failed, 0 damaged, {pending} pending, {later} later" in out.stdout


@pytest.mark.parametrize("record, now, most", [
    (None, 3 * 3, 6 * 3),  # before look 1: every arm, any seed, may train
    # eps 1 decided at look 1: only eps 0.2 and the control go on, up to 6 seeds
    ({"looks": [look(3, A02, A1)], "stopped": "running", "undecided": [[A02, CONTROL]]},
     3 * 3 + 2 * 3, 3 * 3 + 2 * 3),
    # stopped: nothing beyond what the looks analysed, though a comparison stays undecided
    ({"looks": [look(3, A02, A1), look(6, A02)],
      "stopped": "the largest number of seeds is reached", "undecided": [[A02, CONTROL]]},
     2 * 6 + 3, 2 * 6 + 3),
])
def test_runs_a_design_may_still_train_by_hand(record, now, most):
    """``asked``: runs asked for so far; ``may_train``: the bound ``--dry-run`` costs."""
    from synthetic import make_experiment

    exp = replace(make_experiment({CONTROL: {"value_clip": "none"}, A02: {"value_clip": "max"},
                                   A1: {"value_clip": "max"}}, CONTROL, seeds=range(6)),
                  looks=(3, 6))
    runs = [(v.label, seed) for v in exp.variants for seed in exp.seeds]
    record = record and SequentialRecord.from_json(record)
    assert sum(asked(exp, record)(*r) for r in runs) == now
    assert sum(may_train(exp, record)(*r) for r in runs) == most


def test_dry_run_of_a_stopped_design_costs_nothing(tmp_path):
    out = hand_made(tmp_path, {"looks": [look(3)], "undecided": [],
                               "stopped": "every primary comparison is decided"},
                    "run", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert ("nothing left to train: the sequential design stopped because every primary "
            "comparison is decided") in out.stdout
    assert " pending\n" not in out.stdout and out.stdout.count(" later\n") == 3 * 6


def test_looked_runs_by_hand():
    record = {"looks": [
        {"runs_per_arm": 2, "comparisons": [{"variant": "a", "control": "c"},
                                            {"variant": "b", "control": "c"}]},
        {"runs_per_arm": 3, "comparisons": [{"variant": "b", "control": "c"}]}]}
    assert looked_runs(SequentialRecord.from_json(record), [7, 8, 9, 10]) == {
        ("a", 7), ("a", 8), ("b", 7), ("b", 8), ("b", 9), ("c", 7), ("c", 8), ("c", 9)}


def test_the_report_says_an_unfinished_study_is_not_finished():
    from harness.analysis.markdown import _sequential

    comparison = {"variant": "a", "control": "c", "rel_diff": -0.1, "p_holm": 0.2,
                  "p_tost_holm": 0.6, "verdict": "inconclusive"}
    record = {"looks": [{"look": 1, "runs_per_arm": 10, "level": 0.0001,
                         "comparisons": [comparison]}],
              "stopped": "running", "undecided": [["a", "c"]]}
    text = "\n".join(_sequential(SequentialRecord.from_json(record)))
    assert "The study is not finished: the comparisons still undecided (a vs c)" in text
    assert "stopped because" not in text
    done = {**record, "stopped": "the largest number of seeds is reached", "undecided": []}
    assert "The study stopped because the largest number of seeds is reached." in "\n".join(
        _sequential(SequentialRecord.from_json(done)))


def test_missing_runs_of_a_sequential_study_are_those_its_looks_analysed():
    """Hand-made: look 1 at 2 seeds of both arms, look 2 at 3 seeds; the table lacks
    (a, seed 2) and (c, seed 1). Seeds 3-5 no look asked for are not missing."""
    from synthetic import make_experiment

    from harness.analysis.load import Results
    from harness.analysis.markdown import _failures

    exp = make_experiment({"c": {"value_clip": "none"}, "a": {"value_clip": "max"}}, "c",
                          seeds=range(6))
    have = [("a", 0), ("a", 1), ("c", 0), ("c", 2)]
    updates = pd.DataFrame({"env_id": "Hopper-v5", "variant": [v for v, _ in have],
                            "seed": [s for _, s in have], "run_id": [f"{v}{s}" for v, s in have]})
    pair = [{"variant": "a", "control": "c"}]
    record = {"looks": [{"runs_per_arm": 2, "comparisons": pair},
                        {"runs_per_arm": 3, "comparisons": pair}]}
    lines = _failures(exp, Results(updates, pd.DataFrame(), (), pd.DataFrame()),
                      SequentialRecord.from_json(record))
    assert [line for line in lines if line.startswith("- ")] == [
        "- no results (failed or not run yet): Hopper-v5 / c / seed 1",
        "- no results (failed or not run yet): Hopper-v5 / a / seed 2"]


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[1].glob(
    "results/*/sequential.json")), ids=lambda p: p.parent.name)
def test_a_published_record_reads_and_writes_back_as_it_was(path, tmp_path):
    record = read_record(path.parent)
    assert record is not None and record.looks
    write_record(tmp_path, record)
    assert read_record(tmp_path) == record
    committed = json.loads(path.read_text())
    for look in committed["looks"]:
        look.setdefault("never_clipped", [])  # files from before it was recorded lack it
        look.setdefault("equivalence_level", look["level"])  # and this (the union bound's)
    assert json.loads(record_path(tmp_path).read_text()) == committed
