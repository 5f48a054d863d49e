"""Envs that cannot discriminate (harness.analysis.saturation): flagged on hand-made tables,
and left out of the comparisons and claims of a report, with a note, instead of verdicts and
run counts computed from zero variance."""

import numpy as np
import pandas as pd
import pytest
from synthetic import make_experiment, write_results

from harness.analysis.report_writer import write_report
from harness.analysis.saturation import saturated_envs, without

NONE, MAX = "value_clip=none", "value_clip=max,vf_clip_eps=0.2"
VARIANTS = {NONE: {"value_clip": "none"}, MAX: {"value_clip": "max", "vf_clip_eps": 0.2}}


def scores(cells: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"env_id": env, "variant": variant, "score": s}
                         for (env, variant), values in cells.items() for s in values])


def test_every_run_at_the_maximum_is_saturated():
    table = scores({("CartPole-v1", NONE): [500.0] * 5, ("CartPole-v1", MAX): [500.0] * 5,
                    ("InvertedPendulum-v5", NONE): [955.0, 1000.0, 1000.0, 990.0, 1000.0],
                    ("InvertedPendulum-v5", MAX): [1000.0] * 5})
    assert saturated_envs(table) == {"CartPole-v1": "every run scores 500"}
    assert set(without(table, saturated_envs(table))["env_id"]) == {"InvertedPendulum-v5"}


def test_zero_spread_in_every_arm_is_saturated_but_a_single_run_is_not():
    apart = scores({("A", NONE): [200.0, 200.0], ("A", MAX): [500.0, 500.0, 500.0]})
    assert saturated_envs(apart) == {
        "A": "each variant's runs score alike (zero spread in every arm)"}
    assert saturated_envs(scores({("A", NONE): [500.0], ("A", MAX): [500.0]})) == {}


def saturate(exp_dir, env_id: str) -> None:
    """Every training episode of ``env_id``'s runs returns 500, as CartPole's solved runs."""
    for path in (exp_dir / "episodes").glob(f"{env_id}__*.parquet"):
        episodes = pd.read_parquet(path)
        episodes["episode_return"] = 500.0
        episodes.to_parquet(path, index=False)


@pytest.mark.parametrize("envs", [("CartPole-v1", "Hopper-v5"), ("CartPole-v1",)])
def test_a_saturated_env_is_left_out_of_the_comparisons_and_claims(tmp_path, envs):
    exp = make_experiment(VARIANTS, NONE, envs=envs, seeds=range(5))
    write_results(tmp_path, exp, {NONE: 1.0, MAX: 1.2})
    saturate(tmp_path, "CartPole-v1")
    report = write_report(exp, tmp_path, n_boot=200)
    comparisons = pd.read_csv(report / "comparisons.csv")
    final = comparisons[comparisons["metric"] == "final"]
    assert "CartPole-v1" not in set(final["scope"])
    assert set(comparisons[comparisons["metric"] == "auc"]["scope"]) >= {"CartPole-v1"}
    summary = pd.read_csv(report / "summary.csv").set_index("env_id")
    assert summary.loc["CartPole-v1", "mean"].tolist() == [500.0, 500.0]  # still shown
    text = (report / "report.md").read_text()
    assert text.count("**Saturated, left out of the comparisons and claims on the final "
                      "score** (no spread left to tell the variants apart): `CartPole-v1`: "
                      "every run scores 500.") == 2
    claims = pd.read_csv(report / "claims.csv")
    assert "+0.0% [+0.0%, +0.0%]" not in text and "-1 runs" not in text
    if len(envs) == 1:  # nothing left to judge
        assert set(claims["verdict"]) <= {"not tested", "inconclusive"}
        assert not np.isfinite(claims["rel_diff"]).any()
