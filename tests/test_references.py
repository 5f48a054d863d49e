"""The committed reference scores (harness.runs.references): complete, re-measurable, and
read back as written."""

import math

import pytest

from harness.runs import references


def test_every_mujoco_v5_env_has_a_random_score_and_the_quoted_ones_a_published_score():
    table = references.read()
    assert set(references.MUJOCO_V5) <= set(table)
    for env_id in references.MUJOCO_V5:
        score, source = references.published_score(env_id)
        assert (table[env_id].source == source
                and (table[env_id].published == score or math.isnan(score)))
    assert references.published_score("Walker2d-v5") == (
        2287.95, "CleanRL ppo_continuous_action v4, 1M steps")  # CleanRL's first
    assert references.published_score("Swimmer-v5") == (111.19,
                                                         "Baselines ppo2 benchmarks_mujoco1M")
    assert all(r.episodes == references.EPISODES and r.random_se > 0 for r in table.values())
    assert math.isnan(table["Ant-v5"].published)  # no published v5 Ant score is quoted


def test_the_random_score_is_measured_again_the_same():
    # Reacher never terminates (50 steps an episode), so physics rounding cannot change an
    # episode's length on another CPU: the mean agrees to far below its standard error.
    again = references.measure("Reacher-v5")
    committed = references.read()["Reacher-v5"]
    assert again.random_mean == pytest.approx(committed.random_mean, rel=1e-9)
    assert again.random_se == pytest.approx(committed.random_se, rel=1e-6)


def test_write_then_read_is_exact(tmp_path):
    rows = [references.Reference("A-v0", 1 / 3, 0.1, 100, math.nan, ""),
            references.Reference("B-v0", -2.5e-7, 1e-3, 7, 12.25, "a paper, 2024")]
    references.write(rows, tmp_path / "r.csv")
    back = references.read(tmp_path / "r.csv")
    assert back["A-v0"].random_mean == 1 / 3 and math.isnan(back["A-v0"].published)
    assert back["B-v0"] == rows[1]


def test_update_measures_the_given_envs_and_keeps_the_other_rows(tmp_path):
    path = tmp_path / "r.csv"
    kept = references.Reference("Kept-v0", 1.5, 0.1, 100, 12.25, "a paper, 2024")
    stale = references.Reference("Pendulum-v1", 0.0, 1.0, 3, math.nan, "")
    references.write([stale, kept], path)
    references.update(["Pendulum-v1", "MountainCarContinuous-v0"], path)
    table = references.read(path)
    assert list(table) == ["Pendulum-v1", "Kept-v0", "MountainCarContinuous-v0"]
    assert table["Kept-v0"] == kept
    # as committed; Pendulum's episodes have a fixed length, so another CPU's sin and cos
    # can move the mean only in its last bits
    assert table["Pendulum-v1"].random_mean == pytest.approx(
        references.read()["Pendulum-v1"].random_mean, rel=1e-9)
