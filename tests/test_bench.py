"""harness bench's bookkeeping (the timings themselves are measured, never asserted)."""

import pytest

from harness.bench import format_table, raw_simulator, summarise


def rows(sb3=500.0):
    out = [{"name": "raw simulator", "steps_per_s": 10_000.0, "peak_rss_mb": 250.0},
           {"name": "harness, 1 worker, pack of 16", "steps_per_s": 6_000.0, "peak_rss_mb": 400.0}]
    if sb3 is not None:
        out.append({"name": "Stable-Baselines3 PPO, 1 thread", "steps_per_s": sb3,
                    "peak_rss_mb": 340.0})
    return out


def test_ratios_against_raw_simulator_and_sb3():
    result = summarise(rows(), "Hopper-v5", 8192)
    pack = result["rows"][1]
    assert pack["vs_raw_simulator"] == pytest.approx(0.6)
    assert pack["vs_sb3"] == pytest.approx(12.0)
    assert "pack of 16" in format_table(result) and "12.00" in format_table(result)


def test_without_sb3_the_sb3_ratios_are_left_out():
    result = summarise(rows(sb3=None), "Hopper-v5", 8192)
    assert all(r["vs_sb3"] is None for r in result["rows"])
    assert " - " in format_table(result)


def test_raw_simulator_steps_a_real_env():
    assert raw_simulator("InvertedPendulum-v5", 500) > 0
