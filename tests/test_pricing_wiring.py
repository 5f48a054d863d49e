"""One "runs to decide" per claim (harness.analysis.to_decide): plan, dry-run and the report
print the same number; plan's P(decide) matches a brute-force replay of the runner's looks;
TOST power at exactly 1 +- margin; a design that cannot decide says so."""

import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import yaml
from synthetic import NUM_STEPS, write_results

from harness import cli
from harness.analysis import alpha_spending, effects, pricing, to_decide
from harness.analysis.report_tables import report_tables
from harness.commands import throughput
from harness.runs.experiment import load_experiment

NONE, MAX = "value_clip=none", "value_clip=max,vf_clip_eps=0.2"
VARIANTS = {NONE: {"value_clip": "none"}, MAX: {"value_clip": "max", "vf_clip_eps": 0.2}}


def _harness(capsys, *args) -> str:
    """``harness`` in this process (the console script's ``cli.main``): its stdout."""
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out


def test_plan_dry_run_and_report_print_one_number(tmp_path, monkeypatch, capsys):
    """A hand-made study (two envs, 8 seeds, a clip effect of +6% at cv 0.15, C1 declared
    fixed): the report's comparisons.csv primary row and claims.csv C1 (the tables it
    writes), `harness plan --pilot` and `harness run --dry-run` give the same runs to
    decide. In process, with this machine's rates stubbed: nothing is trained to time it."""
    path = tmp_path / "wired.yaml"
    path.write_text(yaml.safe_dump({
        "name": "wired", "envs": ["Hopper-v5", "Walker2d-v5"], "seeds": 8,
        "total_steps": 20 * NUM_STEPS, "ppo": {"num_steps": NUM_STEPS, "num_minibatches": 8},
        "variants": [VARIANTS[NONE], VARIANTS[MAX]], "control": VARIANTS[NONE],
        "analysis": {"claims": {"C1": {"estimand": "fixed"}}}}))
    exp = load_experiment(path)
    write_results(tmp_path / "results" / "wired", exp, {NONE: 1.0, MAX: 1.06}, noise=0.15)
    tables = report_tables(exp, tmp_path / "results" / "wired", n_boot=200).csv()
    rows = tables["comparisons"]
    primary = rows[(rows["family"] == "primary") & (rows["estimand"] == "fixed")]
    claims = tables["claims"].set_index("claim")
    number = claims.loc["C1", "seeds_needed"]
    assert number is not pd.NA and number == primary["seeds_needed"].iloc[0]
    assert 0 <= claims.loc["C1", "p_decide"] <= 1
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(throughput, "calibrate", lambda envs, pack, trainer="": dict.fromkeys(
        envs, 1e4))
    plan = _harness(capsys, "plan", str(path), "--pilot", "results/wired", "--jobs", "1")
    dry = _harness(capsys, "run", str(path), "--dry-run", "--results-dir", "results")
    for text in (plan, dry):
        line = next(s for s in text.splitlines() if s.strip().startswith("C1 ("))
        found = re.search(r"(\d+) runs per arm and env", line)
        assert found and int(found.group(1)) == int(number), line


def runner_looks(rule: pricing.ClaimRule, variants, control) -> np.ndarray:
    """The runner's own look loop, study by study: ``alpha_spending.decide`` on a scores frame
    (what ``running_looks.run_sequential`` calls per look), decided pairs leaving the loop.
    Returns [N] True where every pair was decided by the last look."""
    at = alpha_spending.levels(rule.looks, rule.alpha)
    n_studies, c, k, _ = variants.shape
    out = np.zeros(n_studies, bool)
    for s in range(n_studies):
        frames = [pd.DataFrame({"env_id": e, "variant": f"v{i}", "seed": np.arange(
            rule.looks[-1]), "score": variants[s, i, e]}) for i in range(c) for e in range(k)]
        frames += [pd.DataFrame({"env_id": e, "variant": "ctl", "seed": np.arange(
            rule.looks[-1]), "score": control[s, 0, e]}) for e in range(k)]
        scores = pd.concat(frames)
        open_pairs = [(f"v{i}", "ctl") for i in range(c)]
        for j, n in enumerate(rule.looks):
            found = alpha_spending.decide(scores, open_pairs, range(n), float(at.equal[j]),
                                          rule.margin, float(at.equivalence[j]))
            decided = set(found.loc[found["verdict"] != "inconclusive", "variant"])
            open_pairs = [p for p in open_pairs if p[0] not in decided]
            if not open_pairs:
                out[s] = True
                break
    return out


@pytest.mark.slow
def test_plans_p_decide_matches_the_runners_look_loop():
    """Two comparisons over two envs, looks 10-30: plan's P(decided by max) (``to_decide``)
    against the runner's own decision code on the very studies plan simulated (its 2,000,
    drawn from its seed: common random numbers), so the two differ only where the codes
    decide a study differently, with no Monte-Carlo error between them: they must agree on
    all but 3% of the studies, which bounds the difference of the two P(decide) by 3 points
    (measured: P 0.41 by both, no study decided differently). Independent draws would need
    ~13,000 runner studies (~4 min here, ~20 ms each) for 3 points to be 2.5 combined
    standard errors at p ~0.4; these 2,000 take about 40 s: slow."""
    rule = pricing.ClaimRule(control_mean=np.array([1000.0, 500.0]),
                             control_sd=np.array([200.0, 100.0]),
                             variant_cv=np.full((2, 2), 0.2), looks=(10, 20, 30))
    planned = to_decide.to_decide(rule, 0.08, power=0.8).p_decide
    variants, control = pricing.draw_scores(rule, 0.08, to_decide.STUDIES,
                                            np.random.default_rng(to_decide.SEED))
    simulated = (pricing.decide(rule, variants, control)[0] >= 0).all(1)
    assert simulated.mean() == planned  # these are plan's studies
    brute = runner_looks(rule, variants, control)
    assert 0.1 < brute.mean() < 0.9  # informative
    assert (brute != simulated).mean() <= 0.03


@pytest.mark.parametrize("ratio", [1.10, 0.90])
def test_tost_power_at_exactly_one_plus_minus_margin(ratio):
    """At a true ratio of exactly 1 +- margin the two one-sided tests conclude `equivalent`
    at most alpha of the time (the boundary of their null), and not vacuously: measured 0.035
    at 1.10 (Welch's t on the log ratio of means is conservative there at 30 runs): 20,000
    fixed designs of 30 runs, cv 0.2."""
    rng = np.random.default_rng(3)
    n, studies, alpha = 30, 20_000, 0.05
    x = 1000 * ratio * (1 + 0.2 * rng.standard_normal((studies, n)))
    y = 1000 * (1 + 0.2 * rng.standard_normal((studies, n)))
    p = effects.log_ratio([x], [y]).p_equivalence(0.10)
    rate = (p < alpha).mean()
    error = 3 * math.sqrt(alpha * (1 - alpha) / studies)
    assert rate <= alpha + error
    if ratio == 1.10:  # log(1.1) is the nearer bound: the test is near its level there
        assert rate >= 0.5 * alpha


def test_a_design_that_cannot_decide_says_not_decidable():
    """One env, cv 0.3, a fixed design of 5 runs at no effect: not decidable within the
    design, with the max that would reach 80%: below the closed form (z_0.95 + z_0.9)^2
    2 cv^2 / log(1.1)^2 ~ 170, which gives each one-sided test 90% as if they failed apart
    (they rarely fail together), and above (z_0.95 + z_0.8)^2 ... ~ 122 (one test alone)."""
    rule = pricing.ClaimRule(control_mean=np.array([1000.0]), control_sd=np.array([300.0]),
                             variant_cv=np.array([[0.3]]), looks=(5,))
    found = to_decide.to_decide(rule, 0.0, power=0.8)
    assert not found.decidable and found.p_decide < 0.1
    assert found.line().startswith("to decide: not decidable within this design")
    z = scipy.stats.norm.ppf(0.95) + scipy.stats.norm.ppf(0.9)
    one = scipy.stats.norm.ppf(0.95) + scipy.stats.norm.ppf(0.8)
    assert one**2 * 0.18 / math.log(1.1) ** 2 < found.runs <= z**2 * 0.18 / math.log(1.1) ** 2
    # random effects over 3 envs spread by tau 0.2: no max up to the cap decides it
    spread = pricing.ClaimRule(control_mean=np.full(3, 1000.0), control_sd=np.full(3, 100.0),
                               variant_cv=np.full((1, 3), 0.1), looks=(10,), aggregate="random",
                               tau=0.2)
    none = to_decide.to_decide(spread, 0.0, power=0.8, cap=40)
    assert math.isnan(none.runs) and "no max up to 40" in none.note()
    assert "more envs are needed" in none.note() and math.isnan(none.count())
