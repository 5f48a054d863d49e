"""The population study's registered design (issue 27, docs/population_study.md): its
experiment files ask one population the questions their headers state, and share runs; the
wider population (``population_wide``) asks C1 of 22 tasks, part C1's 11 among them."""

from pathlib import Path

import pytest

from harness.ppo.config import PPOConfig
from harness.runs import references
from harness.runs.expand import expand
from harness.runs.experiment import load_experiment
from harness.runs.reuse import digest
from harness.runs.spec import ClaimPlan, gym_id

EXPERIMENTS = Path(__file__).parent.parent / "experiments"
PARTS = {"population_c1": ("C1", "C1-stability"), "population_c3": ("C3",),
         "population_c2": ("C2",)}
ANT = "Ant-v5[include_cfrc_ext_in_observation=false]"
POPULATION = (ANT, "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
              "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
              "Swimmer-v5", "Walker2d-v5")
TWO_MILLION = {ANT, "Humanoid-v5", "HumanoidStandup-v5"}


def part(name: str):
    return load_experiment(EXPERIMENTS / f"{name}.yaml")


@pytest.mark.parametrize("name", PARTS)
def test_each_part_asks_the_population_with_ppo2_defaults(name):
    exp = part(name)
    assert exp.envs == POPULATION
    assert {e: exp.steps(e) for e in exp.envs} == {
        e: 2_000_000 if e in TWO_MILLION else 1_000_000 for e in POPULATION}
    assert exp.looks == (10, 20, 30)
    assert exp.ppo == PPOConfig()  # nothing overridden: ppo2's defaults
    assert exp.configs[exp.control].value_clip == "none"
    assert (exp.analysis.margin, exp.analysis.alpha, exp.analysis.metric) == (0.1, 0.05, "final")


@pytest.mark.parametrize("name", PARTS)
def test_each_part_registers_the_claims_it_answers(name):
    claims = dict(part(name).analysis.claims)
    assert tuple(claims) == PARTS[name]
    for cid, plan in claims.items():
        # within-run stability has no gain-over-random scale: the harness judges it "on
        # these envs" (claims._stability_claim), so that is what is declared
        assert plan.estimand == ("fixed" if cid == "C1-stability" else "random")
        assert (plan.margin, plan.alpha, plan.envs) == (0.1, 0.05, ())


def test_the_registered_rules_of_c1_stability_and_c3():
    assert part("population_c1").analysis.spike_factor == 10.0
    c3 = part("population_c3").analysis
    assert c3.active_clip == 0.01
    assert dict(c3.claims)["C3"] == ClaimPlan("random", margin=0.1, alpha=0.05,
                                              thresholds=(0.01, 0.03, 0.1, 0.2))


def test_arms_shared_between_parts_are_the_same_runs():
    """C3 and C2 train C1's two arms too; equal hashes let ``--reuse`` copy them."""
    runs = {name: {digest(s.run_id) for s in expand(part(name))} for name in PARTS}
    assert len(runs["population_c1"]) == 11 * 30 * 2
    assert runs["population_c1"] <= runs["population_c3"]
    assert runs["population_c1"] <= runs["population_c2"]
    assert runs["population_c1"] == runs["population_c3"] & runs["population_c2"]


def test_the_wider_population_asks_c1_of_part_c1s_envs_and_every_other_task():
    exp = part("population_wide")
    others = ("Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3",
              "BipedalWalker-v3", "BipedalWalkerHardcore-v3",
              *(f"gymnasium_robotics:AdroitHand{task}-v1"
                for task in ("Door", "Hammer", "Pen", "Relocate")),
              "gymnasium_robotics:PointMaze_UMazeDense-v3",
              "gymnasium_robotics:AntMaze_UMazeDense-v5[include_cfrc_ext_in_observation=false]")
    assert exp.envs == POPULATION + others
    assert {e: exp.steps(e) for e in exp.envs} == {
        e: 2_000_000 if e in TWO_MILLION else 1_000_000 for e in exp.envs}
    assert (exp.looks, exp.ppo, exp.configs[exp.control].value_clip) == (
        (10, 20, 30), PPOConfig(), "none")
    assert dict(exp.analysis.claims) == {"C1": ClaimPlan("random", margin=0.1, alpha=0.05)}
    # the gain over random needs each task's committed random-policy score (label or gym id)
    table = references.read()
    assert all(e in table or gym_id(e) in table for e in exp.envs)
    assert {gym_id(e) for e in others} == set(references.OTHER_TASKS)


def test_the_wider_population_copies_every_run_of_part_c1():
    wide = {digest(s.run_id) for s in expand(part("population_wide"))}
    c1 = {digest(s.run_id) for s in expand(part("population_c1"))}
    assert len(wide) == 22 * 30 * 2 and c1 <= wide
