"""Random effects over envs in the comparisons and claims (harness.analysis.over_envs), from
hand-made scores: where the verdict about tasks must NOT conclude, and where it must."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from synthetic import make_experiment

from harness.analysis import over_envs
from harness.analysis.claims import evaluate_claims
from harness.analysis.stability import STABILITY_COLUMNS
from harness.analysis.tables import ALL_ENVS, PAPERS_ENVS, comparison_table, papers_envs
from harness.runs.spec import ClaimPlan

NONE, B02 = "value_clip=none", "value_clip=max,vf_clip_eps=0.2"
VARIANTS = {NONE: {"value_clip": "none"}, B02: {"value_clip": "max", "vf_clip_eps": 0.2}}


def scores(effects: list[float], *, seeds: int = 20, noise: float = 0.01,
           control: float = 1000.0) -> pd.DataFrame:
    """Final scores of env ``E<i>`` with the clip's true ratio ``effects[i]``: tiny noise."""
    rng = np.random.default_rng(0)
    rows = [{"env_id": f"E{i}", "variant": v, "seed": s,
             "score": control * (ratio if v == B02 else 1.0) * (1 + noise * rng.normal())}
            for i, ratio in enumerate(effects) for v in (NONE, B02) for s in range(seeds)]
    return pd.DataFrame(rows)


def judged(effects: list[float], *, random_score: float = 0.0, plans=(), **kw):
    envs = [f"E{i}" for i in range(len(effects))]
    exp = make_experiment(VARIANTS, NONE, envs=envs, seeds=range(20))
    exp = dataclasses.replace(exp, analysis=dataclasses.replace(exp.analysis, claims=plans))
    table = comparison_table({"final": scores(effects, **kw)}, [(B02, NONE)],
                             primary=[(B02, NONE)], settings=exp.analysis, n_boot=200, seed=0,
                             random_scores={e: random_score for e in envs})
    claims = evaluate_claims(exp, table, pd.DataFrame(columns=STABILITY_COLUMNS))
    return table, {c.id: c for c in claims}


def test_envs_that_disagree_do_not_make_a_claim_about_tasks():
    """+25% on three envs, -25% on three, 20 seeds, tiny noise: every env is decided on its
    own and the fixed average "on these envs" is decided, but the random-effects interval
    does not exclude +-10% and the prediction interval for a new task is wide."""
    table, claims = judged([1.25, 0.75] * 3)
    per_env = table[table["scope"] != ALL_ENVS]
    assert set(per_env["verdict"]) == {"better", "worse"}
    random = table[(table["scope"] == ALL_ENVS) & (table["estimand"] == "random")].iloc[0]
    assert random["verdict"] == "inconclusive"
    assert random["rel_ci_low"] < -0.10 and random["rel_ci_high"] > 0.10
    assert random["pred_low"] < -0.25 and random["pred_high"] > 0.25
    assert random["i2"] > 0.99 and random["q_p"] < 1e-6 and random["tau"] > 0.2
    fixed = table[(table["scope"] == ALL_ENVS) & (table["estimand"] == "fixed")].iloc[0]
    assert fixed["verdict"] == "worse"  # on these six envs the log ratios average below 0
    c1 = claims["C1"]
    assert (c1.estimand, c1.verdict) == ("random", "inconclusive")
    assert c1.pred_low < -0.25 and c1.pred_high > 0.25
    assert any("only more envs" in e for e in c1.evidence)
    assert claims["C2"].verdict == "inconclusive"  # a +10% benefit on a new task not excluded


def test_envs_that_agree_make_a_claim_about_tasks():
    _, claims = judged([1.25] * 6)
    assert (claims["C1"].estimand, claims["C1"].verdict) == ("random", "supported")
    assert claims["C1"].rel_diff == pytest.approx(0.25, abs=0.01)
    _, claims = judged([1.0] * 6)
    assert (claims["C1"].verdict, claims["C2"].verdict) == ("contradicted", "supported")


def test_few_envs_are_judged_on_these_envs_only():
    """Four envs: too few for random effects, so the fixed effect decides, labelled."""
    _, claims = judged([1.25] * 4)
    assert (claims["C1"].estimand, claims["C1"].verdict) == ("fixed", "supported")
    assert any("on these envs only" in e for e in claims["C1"].evidence)
    # declared random: still too few envs, and the evidence says so
    _, claims = judged([1.25] * 4, plans=(("C1", ClaimPlan("random")),))
    assert claims["C1"].estimand == "fixed"
    assert any("declared random, but only 4 envs" in e for e in claims["C1"].evidence)


def test_a_declared_fixed_estimand_is_kept_with_enough_envs():
    _, claims = judged([1.25, 0.75] * 3, plans=(("C1", ClaimPlan("fixed")),))
    assert (claims["C1"].estimand, claims["C1"].verdict) == ("fixed", "contradicted")
    assert any("as declared in analysis.claims" in e for e in claims["C1"].evidence)


def test_an_env_whose_control_does_not_beat_random_is_left_out():
    envs = ["E0", "E1"]
    x = [np.array([1000.0, 1010, 990]), np.array([5.0, 6, 4])]
    y = [np.array([900.0, 910, 890]), np.array([5.0, 7, 3])]
    out = over_envs.exclusions(envs, x, y, {"E0": 0.0, "E1": 4.0}, alpha=0.05)
    assert list(out) == ["E1"] and "does not clearly beat a random policy" in out["E1"]
    assert "no random-policy score" in over_envs.exclusions(envs, x, y, {"E0": 0.0},
                                                            alpha=0.05)["E1"]
    row = over_envs.random_row(envs, x, y, {"E0": 0.0, "E1": 4.0}, alpha=0.05, power=0.8,
                               margin=0.1)
    assert row["k_envs"] == 1 and row["n"] == 3 and np.isnan(row["rel_ci_low"])


def test_seed_floor_is_t_tau_over_root_k():
    assert over_envs.seed_floor(0.12, 5, 0.9) == pytest.approx(2.1318 * 0.12 / 5**0.5,
                                                               rel=1e-3)
    assert np.isnan(over_envs.seed_floor(0.1, 1, 0.9))


PAPERS = ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5",
          "Ant-v5[include_cfrc_ext_in_observation=false]", "Humanoid-v5"]


def renamed(frame: pd.DataFrame, envs: list[str]) -> pd.DataFrame:
    return frame.assign(env_id=frame["env_id"].map({f"E{i}": e for i, e in enumerate(envs)}))


def compared(frame: pd.DataFrame) -> pd.DataFrame:
    exp = make_experiment(VARIANTS, NONE, envs=["E0"], seeds=range(20))
    return comparison_table({"final": frame}, [(B02, NONE)], primary=[(B02, NONE)],
                            settings=exp.analysis, n_boot=200, seed=0)


def test_the_papers_envs_are_read_out_of_a_population_as_a_secondary_fixed_row():
    """Seven envs, the papers' five among them (+20% there, -30% elsewhere): a secondary
    fixed row over exactly those five, equal to the whole table of those five alone, beside
    the primary row over all seven."""
    envs = [*PAPERS, "Swimmer-v5", "Reacher-v5"]
    frame = renamed(scores([1.2] * 5 + [0.7] * 2), envs)
    table = compared(frame)
    papers = table[table["scope"] == PAPERS_ENVS].iloc[0]
    alone = compared(frame[frame["env_id"].isin(PAPERS)])
    alone = alone[alone["scope"] == ALL_ENVS].iloc[0]
    assert (papers["family"], papers["estimand"], papers["k_envs"]) == ("secondary", "fixed", 5)
    assert papers["rel_diff"] == pytest.approx(0.2, abs=0.01)
    for column in ("rel_diff", "rel_ci_low", "rel_ci_high", "p_value"):
        assert papers[column] == pytest.approx(alone[column], rel=1e-12)
    whole = table[table["scope"] == ALL_ENVS].iloc[0]
    assert whole["family"] == "primary" and whole["k_envs"] == 7 and whole["rel_diff"] < 0.1


@pytest.mark.parametrize("envs", [PAPERS, PAPERS[:4] + ["Swimmer-v5", "Reacher-v5"],
                                  [*PAPERS, "Ant-v4", "Swimmer-v5"]],
                         ids=["just the five", "one missing", "one twice"])
def test_no_papers_row_without_a_larger_population_that_holds_each_once(envs):
    """The papers' five alone are the whole table's all row already; without one of them, or
    with one of them twice, "the papers' envs" is not a set the table can name."""
    table = compared(renamed(scores([1.1] * len(envs)), envs))
    assert PAPERS_ENVS not in set(table["scope"])
    assert papers_envs(envs) is None
