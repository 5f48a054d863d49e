"""harness bench's bookkeeping (the timings themselves are measured, never asserted)."""

import pytest

from harness.commands import bench
from harness.commands.bench import (
    format_envs_table,
    format_table,
    physics_rate,
    raw_simulator,
    summarise,
)
from harness.runs import trainers


def rows(sb3=500.0, physics=12_000.0):
    out = [{"name": "raw simulator", "kind": "raw", "steps_per_s": 10_000.0,
            "peak_rss_mb": 250.0},
           {"name": "harness, 1 worker, pack of 32", "kind": "harness", "steps_per_s": 6_000.0,
            "peak_rss_mb": 400.0}]
    if physics is not None:
        out.insert(0, {"name": "physics", "kind": "physics", "steps_per_s": physics,
                       "peak_rss_mb": 240.0})
    if sb3 is not None:
        out.append({"name": "Stable-Baselines3 PPO, 1 thread", "kind": "sb3", "steps_per_s": sb3,
                    "peak_rss_mb": 340.0})
    return out


def pack(result):
    return next(r for r in result["rows"] if r["kind"] == "harness")


def test_ratios_against_physics_raw_simulator_and_sb3():
    result = summarise(rows(), "Hopper-v5", 8192)
    assert pack(result)["vs_raw_simulator"] == pytest.approx(0.6)
    assert pack(result)["vs_sb3"] == pytest.approx(12.0)
    assert pack(result)["vs_physics"] == pytest.approx(0.5)
    table = format_table(result)
    assert "pack of 32" in table and "12.00" in table and "x physics" in table
    assert "0.50" in table


def test_without_sb3_or_physics_their_ratios_are_left_out():
    result = summarise(rows(sb3=None, physics=None), "Pendulum-v1", 8192)
    assert all(r["vs_sb3"] is None and r["vs_physics"] is None for r in result["rows"])
    assert " - " in format_table(result)


def test_every_env_gets_one_line_with_the_pack_ratios():
    results = [summarise(rows(), "Hopper-v5", 2048), summarise(rows(sb3=None), "Ant-v5", 2048)]
    lines = format_envs_table(results).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("Hopper-v5") and "0.50" in lines[2] and "12.00" in lines[2]
    assert lines[3].startswith("Ant-v5") and lines[3].split()[4] == "-"  # no SB3 row
    assert lines[2].split()[5] == "-"  # nor a TorchRL one


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "CartPole-v1"])
def test_raw_simulator_steps_a_real_env(env_id):
    assert raw_simulator(env_id, 500) > 0


def test_physics_is_measured_for_mujoco_envs_only():
    assert physics_rate("InvertedPendulum-v5", 500) > 0
    assert physics_rate("Pendulum-v1", 500) is None
    assert physics_rate("CartPole-v1", 500) is None  # discrete actions


def test_an_adapter_row_trains_through_the_plug_in_contract(monkeypatch):
    seen = []

    def fake_train(run, log):  # what a worker calls: function(run, log)
        seen.append((run.env_id, run.total_steps, run.config["value_clip"]))
        log.update(global_step=run.total_steps)

    monkeypatch.setattr("harness.runs.trainers.resolve", lambda trainer: fake_train)
    assert bench.adapter_rate("Hopper-v5", 64, "sb3") > 0
    assert seen == [("Hopper-v5", 64, "none")]
    monkeypatch.setitem(trainers.LIBRARIES, "sb3", "no_such_library_here")
    assert bench.adapter_rate("Hopper-v5", 64, "sb3") is None


def test_the_profile_splits_a_step_into_disjoint_phases_that_add_up():
    from harness.commands.bench_profile import PHASES, format_profiles, phase_profile
    from harness.ppo.mjstep import steppers

    profile = bench.in_fresh_process(phase_profile, "InvertedPendulum-v5", 2048, 2)[0]
    phases = profile["phases_us"]
    assert list(phases) == list(PHASES)
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) == pytest.approx(profile["total_us"])
    assert phases["physics"] > 0 and phases["update matmuls"] > 0
    assert "InvertedPendulum-v5" in format_profiles([profile])
    # here, not in the fresh process: the module's own mujoco is left as it was
    assert steppers.mujoco.__name__ == "mujoco"
    cartpole = phase_profile("CartPole-v1", 2048, 1)["phases_us"]  # no MuJoCo: no physics
    assert cartpole["physics"] == 0 and cartpole["stepper"] > 0
    assert steppers.mujoco.__name__ == "mujoco"  # unwrapped after
