"""write_report end to end on synthetic results directories with known effects."""

import dataclasses
import json
import re

import pandas as pd
import pytest
from synthetic import NUM_STEPS, make_experiment, write_results

from harness.analysis import answer, markdown
from harness.analysis.aggregates import AGGREGATE_COLUMNS, METRICS, PROFILE_COLUMNS
from harness.analysis.claims import CLAIM_COLUMNS
from harness.analysis.load import read_sessions
from harness.analysis.pairs import clip_activity, inactive_clips
from harness.analysis.report_writer import write_report
from harness.analysis.study import experiment_results, run_scores
from harness.analysis.tables import COMPARISON_COLUMNS, SUMMARY_COLUMNS

NONE = "value_clip=none"
BETTER = "value_clip=max,vf_clip_eps=0.2"
SAME = "value_clip=max,vf_clip_eps=1.0"
VARIANTS = {NONE: {"value_clip": "none"},
            BETTER: {"value_clip": "max", "vf_clip_eps": 0.2},
            SAME: {"value_clip": "max", "vf_clip_eps": 1.0}}
ENVS = ("Hopper-v5", "HalfCheetah-v5")
PLOTS = {"final_scores", "aggregates", "performance_profile", "learning_curves",
         "value_clip_fraction", "value_loss_unclipped", "explained_variance", "prob_improvement",
         "eps_sweep"}
TABLE_OF = {"prob_improvement": "comparisons"}
"""Figures drawn from a table of another name; every other figure's CSV has its stem."""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """30 seeds x 2 envs: BETTER scores 50% above the control, SAME is drawn like it."""
    exp_dir = tmp_path_factory.mktemp("ablation")
    exp = make_experiment(VARIANTS, NONE, envs=ENVS, seeds=range(30))
    write_results(exp_dir, exp, {NONE: 1.0, BETTER: 1.5, SAME: 1.0},
                  base={"HalfCheetah-v5": 3000.0})
    return write_report(exp, exp_dir, n_boot=1000)


def test_writes_every_file(report):
    names = {p.name for p in report.iterdir()}
    assert {"report.md", "summary.csv", "comparisons.csv", "claims.csv", "stability.csv",
            "modes.csv"} <= names
    assert {f"{p}.png" for p in PLOTS} <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_every_embedded_figure_names_its_table(report):
    """Each PNG in report.md follows a caption linking the CSV it draws (or, for a figure of a
    named table, its section links that table), and the CSV is in the report directory."""
    text = (report / "report.md").read_text()
    embedded = set()
    for section in text.split("\n## "):
        for caption, stem in re.findall(r"([^\n]+)\n\n!\[[^\]]*\]\(([^)]+)\.png\)", section):
            embedded.add(stem)
            table = TABLE_OF.get(stem, stem)
            assert (report / f"{table}.csv").is_file(), stem
            assert f"[{table}.csv]({table}.csv)" in (section if stem in TABLE_OF else caption)
    assert embedded == PLOTS


def test_figure_tables(report):
    final = pd.read_csv(report / "final_scores.csv")
    assert list(final.columns) == ["env_id", "variant", "seed", "score"]
    assert len(final) == len(ENVS) * len(VARIANTS) * 30
    panel = pd.read_csv(report / "aggregates.csv")
    assert list(panel.columns) == AGGREGATE_COLUMNS
    assert list(panel["metric"]) == list(METRICS) * len(VARIANTS)
    iqm = panel[panel["metric"] == "IQM"].set_index("variant")
    assert iqm.loc[BETTER, "ci_low"] > iqm.loc[NONE, "ci_high"]  # the 50% better variant
    assert ((panel["ci_low"] <= panel["value"]) & (panel["value"] <= panel["ci_high"])).all()
    profile = pd.read_csv(report / "performance_profile.csv")
    assert list(profile.columns) == PROFILE_COLUMNS
    assert profile["tau"].between(0, 1).all() and set(profile["variant"]) == set(VARIANTS)
    curves = pd.read_csv(report / "learning_curves.csv")
    assert list(curves.columns) == ["env_id", "variant", "global_step", "iqm", "ci_low",
                                    "ci_high"]
    clip = pd.read_csv(report / "value_clip_fraction.csv")
    assert set(clip["variant"]) == {BETTER, SAME}  # the unclipped control is left out
    assert clip["global_step"].min() == 2 * NUM_STEPS  # from the second update on
    sweep = pd.read_csv(report / "eps_sweep.csv")
    assert sorted(set(sweep["vf_clip_eps"].dropna())) == [0.2, 1.0]
    assert sweep.loc[sweep["vf_clip_eps"].isna(), "series"].tolist() == [NONE] * len(ENVS)


def test_tables_follow_the_contract(report):
    summary = pd.read_csv(report / "summary.csv")
    comparisons = pd.read_csv(report / "comparisons.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(comparisons.columns) == COMPARISON_COLUMNS
    assert list(summary["env_id"].unique()) == list(ENVS)
    assert list(summary["variant"].unique()) == list(VARIANTS)
    assert (summary["n_runs"] == 30).all()
    assert set(comparisons["scope"]) == {*ENVS, "all"}
    assert set(comparisons["metric"]) == {"final", "auc"}
    assert (comparisons["control"] == NONE).all()
    # the claims' clip effects on the primary metric over all envs; everything else secondary
    primary = comparisons[comparisons["family"] == "primary"]
    assert set(zip(primary["variant"], primary["scope"], primary["metric"], strict=True)) == {
        (BETTER, "all", "final"), (SAME, "all", "final")}
    assert list(pd.read_csv(report / "claims.csv").columns) == CLAIM_COLUMNS


def test_verdicts_find_the_known_effects(report):
    comparisons = pd.read_csv(report / "comparisons.csv")
    # two envs: the random-effects rows' t(1) interval decides nothing (test_over_envs)
    comparisons = comparisons[(comparisons["metric"] == "final")
                              & (comparisons["estimand"] == "fixed")].set_index(["variant",
                                                                                 "scope"])
    assert (comparisons.loc[BETTER, "verdict"] == "better").all()
    assert (comparisons.loc[SAME, "verdict"] == "equivalent").all()
    assert comparisons.loc[(BETTER, "all"), "prob_improvement"] > 0.9
    assert comparisons.loc[(BETTER, "all"), "mean_diff"] == pytest.approx(0.5, abs=0.05)


def test_report_embeds_plots_claims_and_reference_numbers(report):
    text = (report / "report.md").read_text()
    embedded = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\.png\)", text))
    assert embedded == {p.stem for p in report.glob("*.png")}
    claims = text.split("## Claims")[1].split("\n## ")[0]
    assert re.search(r"### C1: supported", claims)
    assert re.search(r"### C2: contradicted", claims)
    assert "### C3: not tested" in claims  # two thresholds cannot say "regardless of"
    assert "### C4: not tested" in claims
    assert "2382.86 ± 271.74" in text and "2316.16" in text  # Hopper, beside our numbers
    assert "1,000,000 steps" in text


@pytest.fixture
def small(tmp_path):
    exp = make_experiment(VARIANTS, NONE, seeds=range(3))
    write_results(tmp_path, exp, {NONE: 1.0, BETTER: 1.5, SAME: 1.0})
    return exp, tmp_path


def test_eval_scores_are_drawn_and_tabled_when_runs_are_evaluated(tmp_path):
    """With ``metric: eval`` the claims' score is the eval score: the report shows it (the
    runs' points, their summary, the eval curves, the eps sweep) and names it."""
    exp = make_experiment(VARIANTS, NONE, seeds=range(3))
    exp = dataclasses.replace(exp, analysis=dataclasses.replace(
        exp.analysis, eval_every=5 * NUM_STEPS, metric="eval"))
    write_results(tmp_path, exp, {NONE: 1.0, BETTER: 1.5, SAME: 1.0})
    report = write_report(exp, tmp_path, n_boot=200)
    assert {"summary_eval.csv", "eval_scores.png", "eval_scores.csv", "eval_curves.png",
            "eval_curves.csv"} <= {p.name for p in report.iterdir()}
    summary = pd.read_csv(report / "summary_eval.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS) and (summary["n_runs"] == 3).all()
    assert pd.read_csv(report / "eval_curves.csv")["global_step"].max() == 20 * NUM_STEPS
    text = (report / "report.md").read_text()
    assert "## Eval scores" in text and "![eval scores](eval_scores.png)" in text
    assert "IQM of the eval score (the primary score; 95% CI)" in text


def test_same_seed_same_report(small):
    exp, exp_dir = small
    first = (write_report(exp, exp_dir, n_boot=300) / "comparisons.csv").read_text()
    second = (write_report(exp, exp_dir, n_boot=300) / "comparisons.csv").read_text()
    assert first == second
    assert "all" not in pd.read_csv(exp_dir / "report" / "comparisons.csv")["scope"].values


def test_failed_and_missing_runs_are_reported(small):
    exp, exp_dir = small
    victim = next((exp_dir / "updates").glob("*none__s1__*.parquet"))
    victim.unlink()
    (exp_dir / "episodes" / victim.name).unlink()
    (exp_dir / "failures").mkdir()
    (exp_dir / "failures" / f"{victim.stem}.json").write_text(
        json.dumps({"run_id": victim.stem, "reason": "non-finite loss", "global_step": 2048}))
    report = write_report(exp, exp_dir, n_boot=200)
    text = (report / "report.md").read_text()
    assert f"failed `{victim.stem}`: non-finite loss (at step 2048)" in text
    assert f"Hopper-v5 / {NONE} / seed 1" in text
    assert "finished runs: 8 of 9 expected" in text


def test_no_finished_runs_is_a_value_error(tmp_path):
    exp = make_experiment(VARIANTS, NONE)
    (tmp_path / "failures").mkdir()
    (tmp_path / "failures" / "x.json").write_text('{"reason": "boom"}')
    with pytest.raises(ValueError, match=r"no finished runs in .*: run `harness run"):
        write_report(exp, tmp_path)


def test_report_names_the_software_that_trained_the_runs(small):
    exp, exp_dir = small
    manifest = json.loads((exp_dir / "manifest.json").read_text())
    session = {"started": "2026-11-01T10:00:00", "finished": "2026-11-01T11:00:00",
               "git": {"commit": "a" * 40, "dirty": False},
               "versions": {"vclip-harness": "0.1.0", "torch": "2.13.0", "mujoco": "3.3.0"}}
    later = {**session, "git": {"commit": "b" * 40, "dirty": True}}
    (exp_dir / "manifest.json").write_text(json.dumps({**manifest,
                                                       "sessions": [session, later]}))
    text = "\n".join(markdown._provenance(read_sessions(exp_dir)))
    provenance = text.split("## Provenance")[1]
    # recorded before numerics and run counts were: version 1, counts unknown
    assert "| aaaaaaaaaaaa | 1 | 0.1.0 | 2.13.0 | – | 3.3.0 | – | 1 | – | – |" in provenance
    assert "bbbbbbbbbbbb (dirty)" in provenance
    assert "more than one software version" in provenance
    assert "Trainer numerics" not in provenance  # one version throughout


def test_provenance_says_when_copied_runs_have_other_numerics():
    """A study that trained 140 runs at numerics 2 and copied 80 trained at 1 (the population
    study's first session) says so; one that copied runs of its own version does not."""
    base = {"started": "2026-12-03T05:30:25", "git": {"commit": "c" * 40},
            "versions": {"vclip-harness": "0.1.0"}, "numerics": 2, "trained": 140,
            "reused": {f"r{i}": "../other" for i in range(80)}}
    text = "\n".join(markdown._provenance([{**base, "reused_numerics": [1]}]))
    assert "| cccccccccccc | 2 | 0.1.0 | – | – | – | – | 1 | 140 | 80 |" in text
    assert ("Trainer numerics: runs trained here at version 2, runs copied with `--reuse` "
            "trained at version 1.") in text
    assert "equal in distribution but not bit for bit" in text
    same = "\n".join(markdown._provenance([{**base, "reused_numerics": [2]}]))
    assert "Trainer numerics" not in same


def window_note(exp, exp_dir):
    """The final-score section's warning, from the function that writes it."""
    final = run_scores(exp, experiment_results(exp, exp_dir))["final"]
    return "\n".join(markdown._window_note(final))


def test_a_window_spanning_most_of_training_is_flagged(small, tmp_path):
    exp, exp_dir = small  # 150 episodes spread over training: the last 100 span two thirds
    text = window_note(exp, exp_dir)
    assert "spanning more than a third of training" in text
    dense = tmp_path / "dense"
    write_results(dense, exp, {NONE: 1.0, BETTER: 1.5, SAME: 1.0}, n_episodes=1000)
    text = window_note(exp, dense)
    assert "spanning more than a third of training" not in text


def test_a_clip_that_does_not_act_is_flagged(small):
    """0.5% of predictions clipped after the first update: below active_clip's 1%."""
    exp, exp_dir = small
    for path in (exp_dir / "updates").glob("*vf_clip_eps-1.0__*.parquet"):
        frame = pd.read_parquet(path)
        frame["value_clip_fraction"] = 0.005
        frame.to_parquet(path, index=False)
    updates = experiment_results(exp, exp_dir).updates
    inactive = inactive_clips(exp, updates)
    text = "\n".join(markdown._inactive_clips(inactive, clip_activity(exp, updates),
                                               exp.analysis))
    assert f"`{SAME}`'s clip does not act" in text
    assert f"`{BETTER}`'s clip does not act" not in text
    assert "clip_activity.csv" in text


def test_runs_of_an_earlier_version_of_the_experiment_are_ignored(small):
    exp, exp_dir = small
    edited = dataclasses.replace(exp, total_steps=exp.total_steps + 100)  # new run ids
    with pytest.raises(ValueError, match="no finished runs"):
        write_report(edited, exp_dir, n_boot=200)
    write_results(exp_dir, edited, {NONE: 1.0, BETTER: 1.5, SAME: 1.0})
    text = (write_report(edited, exp_dir, n_boot=200) / "report.md").read_text()
    assert "finished runs: 9 of 9 expected" in text
    assert f"env steps per run: {exp.total_steps:,} (`total_steps` {edited.total_steps:,} " \
           "in whole rollouts)" in text


def test_a_bimodal_env_gets_a_note_beside_the_means_and_a_modes_section():
    modes = pd.DataFrame({"env_id": ["HalfCheetah-v5", "HalfCheetah-v5", "Hopper-v5"],
                          "variant": [BETTER, SAME, BETTER], "control": NONE, "n": 20,
                          "n_control": 20, "p_bimodal": [0.003, 0.2, 0.5],
                          "p_bimodal_control": [0.001, 0.001, 0.4],
                          "bimodal": [True, True, False], "boundary": 2300.0,
                          "low_mean": 1400.0, "high_mean": 3200.0,
                          "high_runs": [0, 4, None], "high_runs_control": [5, 5, None],
                          "fisher_p": [0.047, 1.0, None]})
    notes = markdown._bimodal_note(modes)
    assert len(notes) == 1 and "HalfCheetah-v5's runs fall in two modes" in notes[0]
    section = "\n".join(markdown._modes(modes, 0.05))
    assert "## Multimodal outcomes" in section and "[modes.csv](modes.csv)" in section
    assert markdown._bimodal_note(modes.assign(bimodal=False)) == []


def test_a_population_holding_the_papers_envs_reports_them_as_a_secondary_row(tmp_path):
    """Six MuJoCo envs, the papers' five among them: comparisons.csv has the papers' fixed
    row, priced over those five, and AdaStop reads only the per-env rows."""
    envs = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5", "Humanoid-v5", "Swimmer-v5")
    exp = make_experiment({NONE: VARIANTS[NONE], BETTER: VARIANTS[BETTER]}, NONE, envs=envs,
                          seeds=range(6))
    write_results(tmp_path, exp, {NONE: 1.0, BETTER: 1.5})
    comparisons = pd.read_csv(write_report(exp, tmp_path, n_boot=100) / "comparisons.csv")
    final = comparisons[comparisons["metric"] == "final"]
    assert list(final["scope"]) == [*envs, "papers' envs", "all", "all"]
    papers = final[final["scope"] == "papers' envs"].iloc[0]
    assert (papers["family"], papers["estimand"], papers["k_envs"]) == ("secondary", "fixed", 5)
    assert papers["seeds_needed"] >= 2 or "not decidable" in papers["to_decide"]
    assert list(pd.read_csv(tmp_path / "report" / "adastop.csv")["env_id"]) == list(envs)
    claims = answer.study_claims(tmp_path, tmp_path)  # the README's rows: C1, then the papers'
    c1 = claims.index[claims["claim"] == "C1"][0]
    assert claims.loc[c1, "estimand"] == "random"
    beside = claims.loc[c1 + 1]
    assert (beside["claim"], beside["estimand"]) == ("C1 (papers' envs)", "papers")
    assert beside["rel_diff"] == papers["rel_diff"]
    assert beside["verdict"] == f"{papers['verdict']} (secondary, one analysis at alpha 0.05)"
