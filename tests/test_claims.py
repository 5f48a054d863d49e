"""Claim verdicts (harness.analysis.claims) from hand-made comparison tables."""

import pandas as pd
import pytest
from synthetic import make_experiment

from harness.analysis.claims import NOT_TESTED, comparison_pairs, evaluate_claims

NONE = "value_clip=none"
B02 = "value_clip=max,vf_clip_eps=0.2"
B10 = "value_clip=max,vf_clip_eps=1.0"
SB3 = "value_clip=clipped,vf_clip_eps=0.2"
EPS_SWEEP = {NONE: {"value_clip": "none"},
             B02: {"value_clip": "max", "vf_clip_eps": 0.2},
             B10: {"value_clip": "max", "vf_clip_eps": 1.0},
             SB3: {"value_clip": "clipped", "vf_clip_eps": 0.2}}
REWARD_NORM = {f"value_clip={v},normalize_reward={n}": {"value_clip": v, "normalize_reward": n}
               for v in ("none", "max") for n in (True, False)}


def _comparisons(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(scope, variant, control, verdict) rows with placeholder numbers."""
    return pd.DataFrame([{"scope": s, "variant": v, "control": c, "verdict": verdict, "n": 5,
                          "prob_improvement": 0.5, "pi_ci_low": 0.2, "pi_ci_high": 0.8,
                          "rel_diff": 0.0, "rel_ci_low": -0.1, "rel_ci_high": 0.1,
                          "p_holm": 0.5} for s, v, c, verdict in rows])


def _verdicts(exp, rows) -> dict[str, str]:
    return {c.id: c.verdict for c in evaluate_claims(exp, _comparisons(rows))}


def test_pairs_add_matched_unclipped_references():
    exp = make_experiment(REWARD_NORM, "value_clip=none,normalize_reward=True")
    pairs = comparison_pairs(exp)
    control = "value_clip=none,normalize_reward=True"
    assert pairs[:3] == [(v, control) for v in REWARD_NORM if v != control]
    assert pairs[3:] == [("value_clip=max,normalize_reward=False",
                          "value_clip=none,normalize_reward=False")]


def test_claims_without_clipped_variants_are_not_tested():
    exp = make_experiment({NONE: {"value_clip": "none"}, "lr": {"learning_rate": 1e-3}}, NONE)
    assert set(_verdicts(exp, [("all", "lr", NONE, "better")]).values()) == {NOT_TESTED}


@pytest.mark.parametrize("b02, b10, sb3, expected", [
    ("better", "better", "inconclusive", {"C1": "supported", "C2": "contradicted",
                                          "C3": "contradicted"}),
    ("equivalent", "worse", "worse", {"C1": "contradicted", "C2": "supported",
                                      "C3": "contradicted"}),
    ("worse", "worse", "better", {"C1": "contradicted", "C2": "contradicted",
                                  "C3": "supported"}),
    ("worse", "inconclusive", "worse", {"C1": "contradicted", "C2": "supported",
                                        "C3": "inconclusive"}),
    ("inconclusive", "inconclusive", "inconclusive", {"C1": "inconclusive", "C2": "supported",
                                                      "C3": "inconclusive"}),
])
def test_c1_c2_c3_rules(b02, b10, sb3, expected):
    exp = make_experiment(EPS_SWEEP, NONE)
    rows = [("all", B02, NONE, b02), ("all", B10, NONE, b10), ("all", SB3, NONE, sb3)]
    verdicts = _verdicts(exp, rows)
    assert {k: verdicts[k] for k in expected} == expected
    assert verdicts["C4"] == NOT_TESTED


def test_claims_use_the_all_scope_but_c2_sees_every_env():
    exp = make_experiment(EPS_SWEEP, NONE, envs=("Hopper-v5", "Walker2d-v5"))
    rows = [("Hopper-v5", B02, NONE, "better"), ("Walker2d-v5", B02, NONE, "inconclusive"),
            ("all", B02, NONE, "inconclusive")]
    verdicts = _verdicts(exp, rows)
    assert verdicts["C1"] == "inconclusive"
    assert verdicts["C2"] == "contradicted"


def test_rows_against_a_mismatched_control_are_not_clip_effects():
    exp = make_experiment(REWARD_NORM, "value_clip=none,normalize_reward=True")
    rows = [("all", "value_clip=max,normalize_reward=False",
             "value_clip=none,normalize_reward=True", "better")]
    assert _verdicts(exp, rows)["C2"] == NOT_TESTED


@pytest.mark.parametrize("with_norm, without_norm, expected", [
    ("equivalent", "worse", "supported"),
    ("better", "worse", "supported"),
    ("worse", "worse", "contradicted"),
    ("worse", "inconclusive", "inconclusive"),
])
def test_c4_compares_the_clip_effect_with_and_without_reward_normalisation(
        with_norm, without_norm, expected):
    exp = make_experiment(REWARD_NORM, "value_clip=none,normalize_reward=True")
    rows = [("all", "value_clip=max,normalize_reward=True",
             "value_clip=none,normalize_reward=True", with_norm),
            ("all", "value_clip=max,normalize_reward=False",
             "value_clip=none,normalize_reward=False", without_norm)]
    claims = {c.id: c for c in evaluate_claims(exp, _comparisons(rows))}
    assert claims["C4"].verdict == expected
    assert len(claims["C4"].evidence) == 2
    # C1 is judged on the Baselines setting, which normalises rewards
    assert claims["C1"].verdict == {"better": "supported", "worse": "contradicted",
                                    "equivalent": "contradicted"}[with_norm]
