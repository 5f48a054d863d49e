"""harness plan: runs to decide from a pilot's (or the published) spreads against the textbook
bounds, costs by hand, and the command as a user runs it."""

import dataclasses
import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import scipy.stats
from synthetic import make_experiment, write_results

from harness.analysis import published, to_decide
from harness.analysis.published import run_cv
from harness.commands import plan, throughput
from harness.runs.expand import expand

TESTS = Path(__file__).parent
NONE, MAX = "value_clip=none", "value_clip=max,vf_clip_eps=0.2"
VARIANTS = {NONE: {"value_clip": "none"}, MAX: {"value_clip": "max", "vf_clip_eps": 0.2}}
MUJOCO = ("Ant-v5", "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
          "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
          "Swimmer-v5", "Walker2d-v5")
"""The population study's 11 envs (experiments/population_c1.yaml)."""


def textbook(cv: float, margin: float = 0.10, alpha: float = 0.05, power: float = 0.8,
             z_power: float | None = None) -> float:
    """Runs per arm for the two one-sided tests to resolve the margin at no effect:
    2 z^2 cv^2 / delta^2 with delta = log(1 + margin) and z = z_{1-a} + z_{1-(1-power)/2}
    (each test at (1 + power) / 2, as if they failed apart: an upper bound, since they rarely
    fail together); ``z_power`` replaces the second term (z_power: one test alone, a lower
    bound)."""
    norm = scipy.stats.norm.ppf
    z = norm(1 - alpha) + (norm(1 - (1 - power) / 2) if z_power is None else norm(z_power))
    return 2 * z**2 * cv**2 / math.log1p(margin) ** 2


def exact_pilot(exp, cv: float, effect: float = 0.0) -> pd.DataFrame:
    """Two runs per env and variant whose mean is 1000 (times ``1 + effect`` for the clipped
    variant) and whose sd is exactly ``cv`` of it: a pilot that knows the truth."""
    half = cv / math.sqrt(2)  # sd (ddof 1) of {m - h, m + h} is h sqrt(2)
    return pd.DataFrame([{"env_id": e, "variant": v, "score": 1000 * m * (1 + s * half)}
                         for e in exp.envs for v, m in ((NONE, 1.0), (MAX, 1 + effect))
                         for s in (-1, 1)])


def test_runs_from_a_pilot_with_known_spread_lie_between_the_textbook_bounds():
    """cv 0.2 at no effect, a fixed design of 10: the claim's simulated rule needs more runs
    than one one-sided test alone (~55) and no more than both at (1 + power) / 2 (~76)."""
    exp = make_experiment(VARIANTS, NONE, seeds=range(10))
    found = plan.claim_prices(exp, exact_pilot(exp, 0.2))
    assert [c.claim for c in found] == ["C1", "C2"]  # one pair: Baselines' setting, every clip
    c1 = found[0]
    assert c1.pairs == ((MAX, NONE),) and c1.source == "the pilot's means and spreads"
    [t] = c1.priced
    assert not t.decidable and t.design_max == 10 and t.p_decide < 0.1
    assert textbook(0.2, z_power=0.8) < t.runs <= textbook(0.2)
    assert found[1].priced == c1.priced  # the same rule, the same generator: the same number


def test_an_env_the_pilot_saturates_is_left_out_as_the_report_leaves_it_out():
    """InvertedPendulum's runs all score 1000 in both arms: it cannot discriminate, so the
    claim is priced on Hopper alone (``saturation``), the number Hopper alone gives."""
    exp = make_experiment(VARIANTS, NONE, envs=("InvertedPendulum-v5", "Hopper-v5"),
                          seeds=range(10))
    flat = pd.DataFrame([{"env_id": "InvertedPendulum-v5", "variant": v, "score": 1000.0}
                         for v in VARIANTS for _ in range(3)])
    hopper = dataclasses.replace(exp, envs=("Hopper-v5",))
    both = pd.concat([flat, exact_pilot(hopper, 0.2)], ignore_index=True)
    c1 = plan.claim_prices(exp, both)[0]
    assert c1.envs == ("Hopper-v5",)
    assert c1.priced == plan.claim_prices(hopper, exact_pilot(hopper, 0.2))[0].priced
    assert "over Hopper-v5, fixed" in plan.claim_lines([c1])[0]


def test_runs_from_a_pilot_of_real_runs(tmp_path):
    """A pilot written as runs (results directory): priced from its scores; another
    experiment's envs are not in it, and the plan says it cannot price them."""
    pilot = make_experiment(VARIANTS, NONE, seeds=range(20), name="pilot")
    write_results(tmp_path, pilot, {NONE: 1.0, MAX: 1.0}, noise=0.2, n_episodes=100)
    scores = plan.pilot_scores(pilot, tmp_path)
    assert set(scores["variant"]) == {NONE, MAX} and len(scores) == 40
    [t] = plan.claim_prices(pilot, scores)[0].priced
    assert 20 < t.runs <= to_decide.CAP
    other = make_experiment(VARIANTS, NONE, envs=("Walker2d-v5",))
    [t] = plan.claim_prices(other, scores)[0].priced
    assert math.isnan(t.runs) and t.line() == ("to decide: not priced: too few runs to "
                                              "estimate the spread")


def test_published_spreads_give_the_statistics_issue_numbers():
    """Hopper, Walker2d and HalfCheetah at 1M steps: ~40 runs per arm and env together with
    baselines_vs_unclipped's first-look spreads (HalfCheetah's clipped arm sits in its low
    mode, so its spread is small); sized for the hardest true effect, which is not no effect
    (half the margin needs more runs)."""
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"))
    c1 = plan.claim_prices(exp, None)[0]
    assert c1.source == "published spreads" and len(c1.priced) == 5
    assert 35 <= c1.hardest.runs <= 50
    assert c1.hardest.runs == max(t.runs for t in c1.priced) > c1.priced[2].runs
    hopper = plan.claim_prices(make_experiment(VARIANTS, NONE), None)[0].priced[2]
    cv = run_cv("Hopper-v5")[0]
    assert textbook(cv, z_power=0.8) < hopper.runs <= textbook(cv)


def test_the_published_pilot_puts_each_env_on_its_own_scale_and_spreads_the_effects():
    """Hopper (anchors: random 16.67, PPO 2382.86) and Ant (no published score: the unit
    scale, random 0), 10 runs at the first look: the control has the published mean and
    cv; the clipped arm's ratios of gains over random are (1 + effect) exp(tau z) with
    z = -+1/sqrt(2) (two normal quantiles at sample sd 1), so their log has mean
    log(1 + effect) and sample sd tau exactly."""
    exp = dataclasses.replace(make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Ant-v5"),
                                              seeds=range(30)), looks=(10, 20, 30))
    cells = plan.published_scores(exp, 0.1, 0.2).groupby(["env_id", "variant"])["score"]
    mean, sd, count = cells.mean(), cells.std(), cells.count()
    assert set(count) == {10}
    random, score = published.env_scale("Hopper-v5")
    assert random == pytest.approx(16.6688, abs=1e-4) and score == 2382.86
    assert published.env_scale("Ant-v5") == (0.0, 1.0)
    assert mean["Hopper-v5", NONE] == pytest.approx(2382.86)
    assert sd["Hopper-v5", NONE] == pytest.approx(2382.86 * run_cv("Hopper-v5")[0])
    gains = [(mean["Hopper-v5", MAX] - random) / (score - random), mean["Ant-v5", MAX]]
    assert gains == pytest.approx([1.1 * math.exp(-0.2 / math.sqrt(2)),
                                   1.1 * math.exp(0.2 / math.sqrt(2))])
    assert sd["Ant-v5", MAX] == pytest.approx(run_cv("Ant-v5")[0] * gains[1])
    assert published.normal_quantiles(1).tolist() == [0.0]
    z = published.normal_quantiles(11)
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std(ddof=1) == pytest.approx(1)


@pytest.mark.slow
def test_the_envs_spread_makes_a_claim_about_tasks_undecidable_by_seeds(monkeypatch):
    """The 11 MuJoCo envs, random effects, looks at 10, 20, 30: at the published tau (0.141)
    the random-effects interval cannot get narrower than about t(10) tau / sqrt(11) = 0.077
    on the log scale, most of log(1.1) = 0.095: at half the margin no max up to the cap
    decides it, and P(decided by 30) falls at every true effect (measured 0.52, 0.10, 0.57,
    0.03, 0.40 at -margin .. +margin, against at least 0.999 with every env the same effect,
    tau = 0, which decides by 20). A fixed-effect claim over one env has no spread to
    price: the same numbers at either tau."""
    exp = dataclasses.replace(make_experiment(VARIANTS, NONE, envs=MUJOCO, seeds=range(30)),
                              looks=(10, 20, 30))
    one = dataclasses.replace(exp, envs=("Hopper-v5",))
    spread, alone = plan.claim_prices(exp, None)[0], plan.claim_prices(one, None)[0]
    monkeypatch.setattr(published, "BETWEEN_ENV_TAU", 0.0)
    flat = plan.claim_prices(exp, None)[0]
    assert spread.estimand == flat.estimand == "random" and len(spread.envs) == 11
    assert all(t.p_decide >= 0.99 for t in flat.priced) and flat.hardest.runs <= 20
    assert all(s.p_decide < f.p_decide - 0.3 for s, f in zip(spread.priced, flat.priced,
                                                             strict=True))
    assert not spread.hardest.decidable and math.isnan(spread.hardest.runs)
    assert "more envs are needed" in spread.hardest.note()
    assert alone.estimand == "fixed"
    assert plan.claim_prices(one, None)[0].priced == alone.priced


def test_a_sequential_design_plans_the_first_look_with_the_power():
    """Its looks test at shares of alpha, so a fixed design's count falls short
    (tests/test_sequential.py simulates it): the plan names the first look that suffices."""
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"))
    fixed = plan.claim_prices(exp, None)[0].hardest
    looks = dataclasses.replace(exp, seeds=tuple(range(100)), looks=(20, 40, 60, 80, 100))
    need = plan.claim_prices(looks, None)[0].hardest
    assert need.decidable and need.runs in looks.looks and need.runs > fixed.runs
    # a design that stops short is costed at its last look, and says what that leaves
    short = dataclasses.replace(looks, seeds=tuple(range(40)), looks=(20, 40))
    found = plan.claim_prices(short, None)
    need = found[0].hardest
    assert not need.decidable and need.runs > 40 and plan.planned_seeds(short, found) == 40
    text = plan.render(short, found, plan.cost(short, 40, {e: 1e4 for e in short.envs}), 2)
    assert (f"C1 (1 comparison over Hopper-v5, Walker2d-v5, HalfCheetah-v5, fixed; published "
            f"spreads): to decide: not decidable within this design (P(decided by 40) "
            f"{need.p_decide:.2f}): a max of {need.runs} runs per arm and env would reach "
            "80%") in text
    assert "cost at 40 seeds per arm" in text


def test_the_total_row_leaves_the_rate_blank():
    """Per-env rates do not add up: the total row shows none (it printed ``NaN``)."""
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Walker2d-v5"))
    found = plan.claim_prices(exp, exact_pilot(exp, 0.2))
    text = plan.render(exp, found, plan.cost(exp, 10, {e: 1e4 for e in exp.envs}), 2)
    [total] = [line for line in text.splitlines() if line.strip().startswith("total")]
    assert "nan" not in total.lower() and total.split()[1] == "40"


def test_cost_by_hand():
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Walker2d-v5"),
                          total_steps=1_000_000)
    table = plan.cost(exp, 10, {"Hopper-v5": 10_000.0, "Walker2d-v5": 5_000.0})
    assert table["runs"].tolist() == [20, 20, 40]
    assert table["env_steps"].tolist() == [20e6, 20e6, 40e6]
    assert table["worker_hours"].tolist() == pytest.approx([2000 / 3600, 4000 / 3600,
                                                            6000 / 3600])


def harness(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS.parent}"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=TESTS.parent, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_plan_on_the_smoke_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RATES", str(tmp_path / "rates.json"))  # nothing cached
    out = harness("plan", "experiments/smoke.yaml", "--jobs", "2")
    assert out.returncode == 0, out.stderr
    assert ("  C1 (1 comparison over InvertedPendulum-v5, Hopper-v5, fixed; published spreads): "
            "to decide: not decidable within this design (P(decided by 2) ") in out.stdout
    # at the size of the runner's packs of the runs the plan prices
    pack = re.search(r"calibrating Hopper-v5 \(pack of (\d+)\):", out.stdout)[1]
    assert "note: 2 runs per arm and env: P(X>Y) gets no interval below 5" in out.stdout
    assert "on 2 workers here" in out.stdout and "on 32 cluster workers" in out.stdout
    cached = json.loads((tmp_path / "rates.json").read_text())[socket.gethostname()]
    assert set(cached) == {f"InvertedPendulum-v5@{pack}", f"Hopper-v5@{pack}"}


def test_missing_pilot_is_one_line_exit_2(tmp_path):
    out = harness("plan", "experiments/smoke.yaml", "--pilot", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: --pilot {tmp_path / 'nope'}: not a directory; give a results directory such "
        "as results/<name>"]


def test_estimate_by_hand():
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5", "Walker2d-v5"), seeds=range(2),
                          total_steps=36_000)
    specs = expand(exp)  # 2 envs x 2 seeds x 2 variants, 36k steps each
    packs = [tuple(specs[:4]), tuple(specs[4:6]), tuple(specs[6:])]  # Hopper 4, Walker 2 + 2
    rates = {("Hopper-v5", 4, "harness"): 40.0, ("Walker2d-v5", 2, "harness"): 20.0}
    lines = throughput.estimate(packs, rates, workers=2)
    assert lines[0] == "  Hopper-v5: 144,000 env steps in packs of 4 at 40/s per worker: 30 min"
    assert lines[1] == "  Walker2d-v5: 144,000 env steps in packs of 2 at 20/s per worker: 1.0 h"
    assert lines[2] == ("expected wall time: 1.5 h on 2 workers, 6 min on 32 cluster workers "
                        "(start-up included)")
    rates[("Hopper-v5", 2, "harness")] = 10.0  # packs of 2 at a quarter of the rate: 4x as long
    mixed = throughput.estimate([tuple(specs[:2]), tuple(specs[2:4])], rates, workers=2)
    assert mixed[0] == "  Hopper-v5: 144,000 env steps in packs of 2 at 10/s per worker: 2.0 h"
    # two Hopper runs checkpointed at 18k and 36k steps: the runner resumes them there
    resumed = throughput.estimate(packs, rates, workers=2,
                                  done={specs[0].run_id: 18_000, specs[1].run_id: 36_000})
    assert resumed[0] == "  Hopper-v5: 90,000 env steps in packs of 4 at 40/s per worker: 19 min"


def test_the_dry_run_prices_the_packs_the_runner_trains(tmp_path, monkeypatch):
    """Each look is packed on its own, and each pack size is calibrated at that size."""
    exp = make_experiment(VARIANTS, NONE, envs=("Hopper-v5",), seeds=range(20),
                          total_steps=36_000)
    asked = []

    def calibrate(envs, pack, trainer):
        asked.append(pack)
        return dict.fromkeys(envs, 10.0 * pack)

    monkeypatch.setattr(throughput, "calibrate", calibrate)
    lines = throughput.wall_time(expand(exp), workers=2, looks=(10, 20))
    assert asked == [10]  # 2 looks x 20 runs on 2 workers: packs of 10, not of 20
    assert lines[0] == ("  Hopper-v5: 1,440,000 env steps in packs of 10 at 100/s per worker: "
                        "2.0 h")
    throughput.wall_time(expand(exp), workers=2)
    assert asked[-1] == 20  # a fixed design: one look
    # harness plan prices the runs it plans the same way
    assert throughput.runner_rates(exp, 20, workers=2) == {"Hopper-v5": 200.0}
    assert throughput.runner_rates(exp, 3, workers=2) == {"Hopper-v5": 30.0}


def test_dry_run_prints_the_expected_wall_time_from_cached_rates(tmp_path):
    host = socket.gethostname()
    cache = tmp_path / "rates.json"
    cache.write_text(json.dumps({host: {"InvertedPendulum-v5@4": 10_000.0,
                                        "Hopper-v5@4": 5_000.0}}))
    out = subprocess.run([sys.executable, "-m", "harness", "run", "experiments/smoke.yaml",
                          "--dry-run", "--jobs", "1", "--results-dir", str(tmp_path / "r")],
                         cwd=TESTS.parent, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HARNESS_RATES": str(cache)})
    assert out.returncode == 0, out.stderr
    assert ("  Hopper-v5: 2,048 env steps in packs of 4 at 5,000/s per worker: 0 s"
            in out.stdout)
    assert "expected wall time: 6 s on 1 worker, 5 s on 32 cluster workers" in out.stdout
    assert "calibrating" not in out.stdout  # the cache answered


def test_plug_in_runs_train_alone_at_their_adapters_rates(monkeypatch):
    exp = make_experiment({"harness": {"value_clip": "none"},
                           "sb3": {"value_clip": "none", "trainer": "sb3"},
                           "mine": {"value_clip": "none", "trainer": "tests.mine:train"}},
                          "harness", envs=("Hopper-v5",), seeds=range(4), total_steps=36_000)
    packs = throughput.runner_packs(expand(exp), workers=1)
    assert sorted(len(p) for p in packs) == [1] * 8 + [4]  # each plug-in run alone
    asked = []

    def calibrate(envs, pack, trainer):
        asked.append((pack, trainer))
        return dict.fromkeys(envs, float("nan") if ":" in trainer else 10.0 * pack)

    monkeypatch.setattr(throughput, "calibrate", calibrate)
    lines = throughput.estimate(packs, throughput.pack_rates(packs), workers=1)
    assert sorted(asked) == [(1, "sb3"), (1, "tests.mine:train"), (4, "harness")]
    # 144k steps in a pack of 4 at 40/s (1 h) and 144k alone at 10/s (4 h)
    assert lines[0] == ("  Hopper-v5: 288,000 env steps in packs of 1 and 4 at 16/s per "
                        "worker: 5.0 h")
    assert lines[1] == ("  not priced: 4 runs of trainer tests.mine:train (a user's trainer "
                        "is not run to be timed)")


def test_cached_rates_are_not_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RATES", str(tmp_path / "rates.json"))
    monkeypatch.setattr(throughput, "steady_rate", None)  # must not be needed for cached envs
    (tmp_path / "rates.json").write_text(json.dumps({socket.gethostname(): {
        "Hopper-v5@16": 7.0, "Hopper-v5@3": 5.0}}))
    assert throughput.calibrate(["Hopper-v5"], 16) == {"Hopper-v5": 7.0}
    assert throughput.calibrate(["Hopper-v5", "Hopper-v5[ctrl_cost_weight=0.1]"], 3) == {
        "Hopper-v5": 5.0, "Hopper-v5[ctrl_cost_weight=0.1]": 5.0}
    (tmp_path / "rates.json").write_text(json.dumps({socket.gethostname(): {
        "Hopper-v5@sb3": 600.0}}))
    assert throughput.calibrate(["Hopper-v5"], 1, "sb3") == {"Hopper-v5": 600.0}
    assert math.isnan(throughput.calibrate(["Hopper-v5"], 1, "my.module:train")["Hopper-v5"])
