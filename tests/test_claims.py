"""Claim verdicts (harness.analysis.claims) from hand-made comparison and stability tables,
including the cases where a claim must NOT be concluded."""

import math

import pandas as pd
import pytest
import scipy.stats
from synthetic import make_experiment

from harness.analysis import to_decide
from harness.analysis.claims import (
    CLAIM_COLUMNS,
    NOT_TESTED,
    claims_table,
    confidence,
    evaluate_claims,
)
from harness.analysis.pairs import (
    clip_activity,
    comparison_pairs,
    inactive_clips,
    primary_pairs,
)
from harness.analysis.stability import STABILITY_COLUMNS

NONE = "value_clip=none"
B02 = "value_clip=max,vf_clip_eps=0.2"
B10 = "value_clip=max,vf_clip_eps=1.0"
B005 = "value_clip=max,vf_clip_eps=0.05"
B5 = "value_clip=max,vf_clip_eps=5.0"
SB3 = "value_clip=clipped,vf_clip_eps=0.2"
SWEEP = {NONE: {"value_clip": "none"}, B02: {"value_clip": "max", "vf_clip_eps": 0.2},
         B10: {"value_clip": "max", "vf_clip_eps": 1.0},
         SB3: {"value_clip": "clipped", "vf_clip_eps": 0.2}}
WIDE_SWEEP = {**SWEEP, B005: {"value_clip": "max", "vf_clip_eps": 0.05},
              B5: {"value_clip": "max", "vf_clip_eps": 5.0}}
NORM = {f"value_clip={v},normalize_reward={n}": {"value_clip": v, "normalize_reward": n}
        for v in ("none", "max") for n in (True, False)}
MAX_T, NONE_T = "value_clip=max,normalize_reward=True", "value_clip=none,normalize_reward=True"
MAX_F, NONE_F = "value_clip=max,normalize_reward=False", "value_clip=none,normalize_reward=False"
VERDICT_CI = {"better": (0.20, 0.10, 0.30), "worse": (-0.20, -0.30, -0.10),
              "equivalent": (0.00, -0.05, 0.05), "inconclusive": (0.05, -0.15, 0.25)}
"""A verdict's typical (rel_diff, 90% CI) in these hand-made tables."""


def row(variant, control, verdict, *, scope="all", family="primary", metric="final",
        rel=None, seeds=40, se=0.08, n=30):
    rel_diff, low, high = VERDICT_CI[verdict] if rel is None else rel
    return {"scope": scope, "variant": variant, "control": control, "metric": metric,
            "family": family, "verdict": verdict, "n": n, "prob_improvement": 0.5,
            "rel_diff": rel_diff, "rel_ci_low": low, "rel_ci_high": high, "p_holm": 0.5,
            "p_tost_holm": 0.5, "mde": 0.3, "seeds_needed": seeds, "log_se": se, "df": 50.0}


def judge(exp, rows, stability=(), level=None, inactive=()):
    claims = evaluate_claims(exp, pd.DataFrame(rows),
                             pd.DataFrame(list(stability), columns=STABILITY_COLUMNS), level,
                             inactive)
    return {c.id: c for c in claims}


def verdicts(exp, rows) -> dict[str, str]:
    return {k: c.verdict for k, c in judge(exp, rows).items()}


def test_pairs_match_every_axis_but_the_clip_and_primary_pairs_are_clip_effects():
    """With a reward-normalisation axis, max without normalisation is compared with none
    without it, never with the control (none with it): that pair would confound the two."""
    exp = make_experiment(NORM, NONE_T)
    assert comparison_pairs(exp) == [(MAX_T, NONE_T), (MAX_F, NONE_F)]
    assert primary_pairs(exp) == [(MAX_T, NONE_T), (MAX_F, NONE_F)]


def test_pairs_with_a_clipped_control_and_an_eps_axis():
    exp = make_experiment(SWEEP, B02)
    assert comparison_pairs(exp) == [(NONE, B02), (B10, B02), (SB3, B02), (B02, NONE),
                                     (B10, NONE), (SB3, NONE)]
    assert primary_pairs(exp) == [(B02, NONE), (B10, NONE), (SB3, NONE)]


def test_without_clipped_variants_nothing_is_tested():
    exp = make_experiment({NONE: {"value_clip": "none"}, "lr": {"learning_rate": 1e-3}}, NONE)
    found = verdicts(exp, [row("lr", NONE, "better", family="secondary")])
    assert set(found.values()) == {NOT_TESTED}


@pytest.mark.parametrize("b02, expected", [
    ("better", "supported"), ("worse", "contradicted"), ("equivalent", "contradicted"),
    ("inconclusive", "inconclusive")])
def test_c1_is_judged_on_baselines_setting(b02, expected):
    exp = make_experiment(SWEEP, NONE)
    rows = [row(B02, NONE, b02), row(B10, NONE, "better"), row(SB3, NONE, "better")]
    claim = judge(exp, rows)["C1"]
    assert claim.verdict == expected
    assert claim.rel_diff == VERDICT_CI[b02][0] and claim.metric == "final"


def test_secondary_rows_never_decide_a_claim():
    exp = make_experiment(SWEEP, NONE, envs=("Hopper-v5", "Walker2d-v5"))
    rows = [row(B02, NONE, "better", scope="Hopper-v5", family="secondary"),
            row(B02, NONE, "better", metric="auc", family="secondary"),
            row(B02, NONE, "inconclusive")]
    found = verdicts(exp, rows)
    assert found["C1"] == "inconclusive"
    assert found["C2"] == "inconclusive"


def test_c2_all_inconclusive_at_three_seeds_is_inconclusive_never_supported():
    """The old rule said `supported` whenever nothing was better: absence of evidence."""
    exp = make_experiment(SWEEP, NONE, seeds=range(3))
    rows = [row(v, NONE, "inconclusive", rel=(-0.05, -0.40, 0.35), seeds=64, n=3)
            for v in (B02, B10, SB3)]
    claim = judge(exp, rows)["C2"]
    assert claim.verdict == "inconclusive"
    assert claim.seeds_needed == 64 and claim.rel_ci_high == 0.35
    # the claim's rule priced (to_decide.pricer) on all three comparisons at the design's 3
    asked = []

    def price(pairs, estimand, looks):
        asked.append((pairs, estimand, looks))
        return to_decide.ToDecide(64.0, 0.05, looks[-1], 0.8)

    claims = evaluate_claims(exp, pd.DataFrame(rows), pd.DataFrame(columns=STABILITY_COLUMNS),
                             price=price)
    [claim] = [c for c in claims if c.id == "C2"]
    assert asked[-1] == ([(v, NONE) for v in (B02, B10, SB3)], "fixed", (3,))
    assert claim.seeds_needed == 64 and claim.p_decide == 0.05
    assert ("to decide: not decidable within this design (P(decided by 3) 0.05): a max of 64 "
            "runs per arm and env would reach 80%") in claim.evidence


@pytest.mark.parametrize("upper, b10, expected", [
    (0.08, "worse", "supported"),         # +10% excluded everywhere, nothing better
    (0.10, "worse", "inconclusive"),      # the bound must be below the margin
    (0.08, "better", "contradicted"),     # something helps
])
def test_c2_needs_the_benefit_excluded(upper, b10, expected):
    exp = make_experiment(SWEEP, NONE)
    rows = [row(B02, NONE, "inconclusive", rel=(-0.05, -0.18, upper)),
            row(B10, NONE, b10), row(SB3, NONE, "equivalent")]
    assert verdicts(exp, rows)["C2"] == expected


def test_c3_with_one_or_two_thresholds_is_not_tested():
    one = make_experiment({NONE: SWEEP[NONE], B02: SWEEP[B02]}, NONE)
    assert verdicts(one, [row(B02, NONE, "worse")])["C3"] == NOT_TESTED
    two = make_experiment(SWEEP, NONE)
    claim = judge(two, [row(B02, NONE, "worse"), row(B10, NONE, "worse")])["C3"]
    assert claim.verdict == NOT_TESTED and "0.2, 1" in claim.evidence[0]


def test_c3_needs_thresholds_spanning_a_factor_of_ten():
    narrow = {k: v for k, v in WIDE_SWEEP.items() if k not in (B005, B5)}
    narrow["value_clip=max,vf_clip_eps=0.5"] = {"value_clip": "max", "vf_clip_eps": 0.5}
    exp = make_experiment(narrow, NONE)
    rows = [row(v, NONE, "worse") for v in narrow if v.startswith("value_clip=max")]
    assert verdicts(exp, rows)["C3"] == NOT_TESTED  # 0.2, 0.5, 1.0: a factor of 5


@pytest.mark.parametrize("found, expected", [
    (("worse", "worse", "worse", "worse"), "supported"),
    (("worse", "worse", "equivalent", "worse"), "contradicted"),
    (("worse", "better", "worse", "worse"), "contradicted"),
    (("worse", "worse", "inconclusive", "worse"), "inconclusive"),
])
def test_c3_rules_over_four_thresholds(found, expected):
    exp = make_experiment(WIDE_SWEEP, NONE)
    rows = [row(v, NONE, f) for v, f in zip((B005, B02, B10, B5), found, strict=True)]
    rows.append(row(SB3, NONE, "better"))  # SB3's form is not PPO-style max clipping
    assert verdicts(exp, rows)["C3"] == expected


def test_c2_and_c3_leave_out_a_clip_that_never_acted():
    """max at eps 5 never clipped (reward normalisation keeps values small): it is the
    unclipped loss, so its verdict neither contradicts C3 nor keeps C2 open."""
    exp = make_experiment(WIDE_SWEEP, NONE)
    rows = [row(v, NONE, "worse") for v in (B005, B02, B10)]
    same = rows + [row(B5, NONE, "equivalent")]
    assert verdicts(exp, same)["C3"] == "contradicted"
    claim = judge(exp, same, inactive=[B5])["C3"]
    assert claim.verdict == "supported"
    assert any(e.startswith(f"{B5}: its clip does not act") for e in claim.evidence)
    wide = rows + [row(B5, NONE, "inconclusive", rel=(0.05, -0.15, 0.25))]
    assert verdicts(exp, wide)["C2"] == "inconclusive"  # +10% not excluded at eps 5
    assert judge(exp, wide, inactive=[B5])["C2"].verdict == "supported"
    assert judge(exp, wide, inactive=[B5])["C1"].verdict == "contradicted"  # C1 unchanged


def test_inactive_clips_by_hand():
    """A clip acts when its mean clip fraction after the first update reaches 1%: the first
    update (about half the predictions) does not count, and 0.02% is not acting."""
    exp = make_experiment(WIDE_SWEEP, NONE)
    runs = {NONE: [0.0, 0.0], B02: [0.5, 0.02, 0.01], B5: [0.6, 0.0, 0.0],
            B10: [0.5, 2e-4, 2e-4], B005: [0.5, 0.2, 0.0], SB3: [0.4, 0.01, 0.01]}
    updates = pd.DataFrame([{"env_id": "E", "variant": v, "run_id": v, "update": i + 1,
                             "value_clip_fraction": f} for v, fs in runs.items()
                            for i, f in enumerate(fs)])
    assert inactive_clips(exp, updates) == [B10, B5]  # the control never clips by definition
    activity = clip_activity(exp, updates).set_index(["env_id", "variant"])
    assert activity.loc[("all", B02), "clip_fraction"] == pytest.approx(0.015)
    assert activity.loc[("E", B10), "vf_clip_eps"] == 1.0
    assert list(activity.loc[("all", B005)]) == [0.05, pytest.approx(0.1), True]


def test_an_inactive_threshold_is_not_counted_for_c3():
    """eps 0.05, 0.2 act, eps 1 and 5 do not: two thresholds span 4x, too few for C3 even
    though all four are `worse`."""
    exp = make_experiment(WIDE_SWEEP, NONE)
    rows = [row(v, NONE, "worse") for v in (B005, B02, B10, B5)]
    assert verdicts(exp, rows)["C3"] == "supported"
    claim = judge(exp, rows, inactive=[B10, B5])["C3"]
    assert claim.verdict == NOT_TESTED and "(has: 0.05, 0.2)" in claim.evidence[0]


def norm_rows(with_rel, without_rel, se=0.05):
    return [row(MAX_T, NONE_T, "inconclusive", rel=with_rel, se=se),
            row(MAX_F, NONE_F, "inconclusive", rel=without_rel, se=se)]


def test_c4_interaction_excluding_zero_is_supported_even_when_both_arms_are_inconclusive():
    exp = make_experiment(NORM, NONE_T)
    # log effects +0.18 and -0.18 with se 0.05 each: difference 0.36 +- 1.96 * 0.071
    claim = judge(exp, norm_rows((math.expm1(0.18), 0.0, 0.4),
                                 (math.expm1(-0.18), -0.4, 0.0)))["C4"]
    assert claim.verdict == "supported"
    assert claim.rel_diff == pytest.approx(math.expm1(0.36))
    assert claim.rel_ci_low > 0


def test_c4_same_effect_with_and_without_normalisation_is_contradicted():
    exp = make_experiment(NORM, NONE_T)
    claim = judge(exp, norm_rows((0.01, -0.05, 0.07), (0.0, -0.06, 0.06), se=0.01))["C4"]
    assert claim.verdict == "contradicted"


def test_c4_wide_interaction_is_inconclusive_and_says_what_would_decide():
    exp = make_experiment(NORM, NONE_T)
    claim = judge(exp, norm_rows((0.10, -0.2, 0.4), (0.0, -0.3, 0.3), se=0.15))["C4"]
    assert claim.verdict == "inconclusive" and claim.seeds_needed > 30
    assert any("to decide" in e for e in claim.evidence)


@pytest.mark.parametrize("level, text", [(0.9, "90%"), (0.95, "95%"), (0.5, "50%"),
                                         (1 - 0.00137, "99.86%"), (1 - 3.2e-6, "99.99968%"),
                                         (1.0, "100%")])
def test_confidence_shows_two_digits_of_what_it_leaves_out(level, text):
    assert confidence(level) == text


LOOK_1 = 1.6e-6
"""The first look's share of alpha in a {min: 10, max: 60, step: 10} design."""


def test_c2_at_a_looks_level_is_judged_on_the_repeated_interval():
    """Upper limits below +10% at alpha (supported) are not at the first look's share of alpha:
    the claim waits, as the primary comparisons do; a large enough effect still decides."""
    exp = make_experiment(SWEEP, NONE)
    rows = [row(v, NONE, "worse", rel=(-0.2, -0.28, -0.11), se=0.07) for v in (B02, B10, SB3)]
    assert judge(exp, rows)["C2"].verdict == "supported"
    claim = judge(exp, rows, level=LOOK_1)["C2"]
    assert claim.verdict == "inconclusive"
    # the interval shown is the look's: log(0.8) +- t(1 - 1.6e-6, 50) * 0.07
    half = scipy.stats.t.ppf(1 - LOOK_1, 50) * 0.07
    assert claim.rel_ci_high == pytest.approx(math.expm1(math.log(0.8) + half))
    assert any("99.99968% CI" in e for e in claim.evidence)
    far = [row(v, NONE, "worse", rel=(-0.6, -0.62, -0.58), se=0.02) for v in (B02, B10, SB3)]
    assert judge(exp, far, level=LOOK_1)["C2"].verdict == "supported"


def test_c4_at_a_looks_level():
    exp = make_experiment(NORM, NONE_T)
    rows = norm_rows((math.expm1(0.18), 0.0, 0.4), (math.expm1(-0.18), -0.4, 0.0))
    assert judge(exp, rows)["C4"].verdict == "supported"
    claim = judge(exp, rows, level=1e-9)["C4"]
    assert claim.verdict == "inconclusive" and claim.rel_ci_low < 0


def test_c1_stability_at_a_looks_level():
    exp = make_experiment(SWEEP, NONE, envs=("Hopper-v5", "Walker2d-v5"))
    stab = stability_row(drawdown=(-0.2, 0.001))
    assert judge(exp, [row(B02, NONE, "inconclusive")], [stab])["C1-stability"].verdict == \
        "supported"
    claim = judge(exp, [row(B02, NONE, "inconclusive")], [stab], level=LOOK_1)["C1-stability"]
    assert claim.verdict == "inconclusive"


def test_c4_not_tested_without_a_normalisation_axis():
    assert verdicts(make_experiment(SWEEP, NONE), [row(B02, NONE, "worse")])["C4"] == NOT_TESTED


def stability_row(*, ratio=1.0, p=0.5, collapses=(0, 0), fisher=1.0, drawdown=(0.0, 0.5),
                  p_tost=0.5, spikes=(0.0, 0.5), scope="all"):
    """A stability row; ``drawdown``/``spikes``: (difference, p)."""
    return {"scope": scope, "variant": B02, "control": NONE, "n": 20,
            "dispersion_ratio": ratio, "dispersion_ci_low": ratio / 2,
            "dispersion_ci_high": ratio * 2, "dispersion_p": p, "dispersion_p_tost": 0.5,
            "seeds_needed": 70, "collapses": collapses[0], "control_n": 20,
            "control_collapses": collapses[1], "collapse_p": fisher,
            "drawdown": 0.3 + drawdown[0], "control_drawdown": 0.3, "drawdown_diff": drawdown[0],
            "drawdown_ci_low": drawdown[0] - 0.1, "drawdown_ci_high": drawdown[0] + 0.1,
            "drawdown_p": drawdown[1], "drawdown_p_tost": p_tost, "drawdown_seeds_needed": 45,
            "spike_rate": 0.1 + spikes[0], "control_spike_rate": 0.1, "spike_diff": spikes[0],
            "spike_ci_low": spikes[0] - 0.05, "spike_ci_high": spikes[0] + 0.05,
            "spike_p": spikes[1]}


@pytest.mark.parametrize("stab, expected", [
    (stability_row(collapses=(0, 8), fisher=0.003), "supported"),    # fewer collapses
    (stability_row(drawdown=(-0.2, 0.001)), "supported"),            # shallower drawdowns
    (stability_row(spikes=(0.05, 0.001)), "contradicted"),            # more spikes
    (stability_row(drawdown=(0.0, 0.9), p_tost=0.001), "contradicted"),  # drawdown equivalent
    # must NOT conclude: p 0.03 is below alpha but not after Holm over the three senses
    (stability_row(drawdown=(-0.2, 0.03)), "inconclusive"),
    (stability_row(collapses=(0, 8), fisher=0.003, spikes=(0.05, 0.001)), "inconclusive"),
    # must NOT conclude: far less spread across seeds is described, not judged
    (stability_row(ratio=0.13, p=1e-5), "inconclusive"),
])
def test_c1_stability_rules(stab, expected):
    exp = make_experiment(SWEEP, NONE, envs=("Hopper-v5", "Walker2d-v5"))
    claim = judge(exp, [row(B02, NONE, "inconclusive")], [stab])["C1-stability"]
    assert claim.verdict == expected
    assert claim.metric == "drawdown" and claim.confidence == pytest.approx(0.9)
    if expected == "inconclusive":
        assert any("about 45 runs" in e for e in claim.evidence)


def test_c1_stability_notes_a_spread_driven_by_one_envs_modes():
    """HalfCheetah in reward_scale: 0/20 clipped runs in the high mode vs 5/20 unclipped."""
    exp = make_experiment(SWEEP, NONE, envs=("Hopper-v5", "HalfCheetah-v5"))
    stab = [stability_row(ratio=0.56, p=0.01),
            stability_row(ratio=0.9, scope="Hopper-v5"),
            stability_row(ratio=0.13, p=3e-5, scope="HalfCheetah-v5")]
    modes = pd.DataFrame([{"env_id": "HalfCheetah-v5", "variant": B02, "control": NONE,
                           "n": 20, "n_control": 20, "bimodal": True, "low_mean": 1400.0,
                           "high_mean": 3000.0, "high_runs": 0, "high_runs_control": 5,
                           "fisher_p": 0.047}])
    claims = evaluate_claims(exp, pd.DataFrame([row(B02, NONE, "inconclusive")]),
                             pd.DataFrame(stab, columns=STABILITY_COLUMNS), modes=modes)
    claim = {c.id: c for c in claims}["C1-stability"]
    assert claim.verdict == "inconclusive"
    note = [e for e in claim.evidence if "driven by HalfCheetah-v5" in e]
    assert note and "0/20" in note[0] and "5/20" in note[0]
    unimodal = evaluate_claims(exp, pd.DataFrame([row(B02, NONE, "inconclusive")]),
                               pd.DataFrame(stab, columns=STABILITY_COLUMNS),
                               modes=modes.assign(bimodal=False))
    assert not any("driven by" in e for e in unimodal[1].evidence)


def test_claims_table_has_the_contract_columns():
    exp = make_experiment(SWEEP, NONE)
    claims = evaluate_claims(exp, pd.DataFrame([row(B02, NONE, "worse")]),
                             pd.DataFrame(columns=STABILITY_COLUMNS))
    frame = claims_table(claims)
    assert list(frame.columns) == CLAIM_COLUMNS
    assert list(frame["claim"]) == ["C1", "C1-stability", "C2", "C3", "C4"]
    assert frame.set_index("claim").loc["C1", "verdict"] == "contradicted"
