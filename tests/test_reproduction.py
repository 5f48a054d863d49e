"""Whether a user's runs reproduce the published ones (harness.analysis.reproduction), on
hand-made tables: bit for bit on the same machine, within seed noise elsewhere, and the cases
where it must say they do not."""

import numpy as np
import pandas as pd

from harness.analysis.reproduction import identical_runs, judge, same_machine, seed_noise

ALPHA = 0.05


def tables(values: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    """updates and episodes of runs ``{run_id: returns}``."""
    updates = pd.DataFrame([{"run_id": r, "update": i, "value_loss": v, "sps": 1000.0 + i}
                            for r, vs in values.items() for i, v in enumerate(vs)])
    episodes = pd.DataFrame([{"run_id": r, "episode_return": v}
                             for r, vs in values.items() for v in vs])
    return {"updates": updates, "episodes": episodes}


def scores(means: dict[str, float], n: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"env_id": env, "variant": "max", "score": m + rng.normal(0, 50)}
            for env, m in means.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["env_id", "variant", "score"])


def session(cpu: str | None, numpy: str = "2.4.6", trained: int = 10) -> dict:
    return {"versions": {"numpy": numpy}, "host": {"cpu": cpu}, "trained": trained}


def test_equal_runs_on_one_machine_are_identical_whatever_their_speed():
    mine, theirs = tables({"a": [1.0, 2.0], "b": [3.0]}), tables({"a": [1.0, 2.0], "b": [3.0]})
    theirs["updates"]["sps"] *= 2
    equal = identical_runs(mine, theirs)
    assert equal == {"a": True, "b": True}
    rep = judge(equal, True, seed_noise(scores({"Hopper": 1000}), scores({"Hopper": 1000})),
                ALPHA)
    assert rep.verdict == "identical" and rep.line(ALPHA).startswith("reproduced exactly")


def test_one_ulp_on_the_same_machine_is_not_reproduced():
    mine, theirs = tables({"a": [1.0, 2.0]}), tables({"a": [1.0, np.nextafter(2.0, 3.0)]})
    equal = identical_runs(mine, theirs)
    rep = judge(equal, True, seed_noise(scores({"Hopper": 1000}), scores({"Hopper": 1000})),
                ALPHA)
    assert rep.verdict == "differs"
    assert rep.line(ALPHA) == ("NOT reproduced: 1 of 1 runs differ from the published ones on "
                               "the same software and CPU model; 0 of 1 runs equal bit for bit")


def test_another_cpu_is_judged_on_seed_noise():
    equal = {"a": False, "b": False}
    cells = seed_noise(scores({"Hopper": 1000, "Ant": 500}, seed=1),
                       scores({"Hopper": 1000, "Ant": 500}, seed=2))
    rep = judge(equal, False, cells, ALPHA)
    assert rep.verdict == "within seed noise"
    assert rep.line(ALPHA).startswith("reproduced within seed noise: no env x variant mean")
    assert "(other software or CPU model: not expected to be equal)" in rep.line(ALPHA)


def test_a_mean_far_beyond_seed_noise_is_not_reproduced():
    cells = seed_noise(scores({"Hopper": 1000, "Ant": 500}, seed=1),
                       scores({"Hopper": 1000, "Ant": 800}, seed=2))
    rep = judge({"a": False}, False, cells, ALPHA)
    assert rep.verdict == "differs"
    assert rep.line(ALPHA).startswith("NOT reproduced: Ant max -3")
    assert "Hopper" not in rep.line(ALPHA)


def test_no_common_runs_decides_nothing():
    equal = identical_runs(tables({"a": [1.0]}), tables({"b": [1.0]}))
    assert equal == {}
    assert judge(equal, True, seed_noise(scores({}), scores({})), ALPHA).verdict == (
        "no common runs")


def test_same_machine_needs_every_training_session_on_one_recorded_cpu_and_software():
    assert same_machine([session("EPYC")], [session("EPYC"), session("Xeon", trained=0)])
    assert not same_machine([session("EPYC")], [session("Xeon")])
    assert not same_machine([session("EPYC")], [session("EPYC", numpy="2.3.0")])
    assert not same_machine([session(None)], [session(None)])  # recorded before the CPU was
    # another trainer numerics version: equal in distribution, not bit for bit
    assert not same_machine([{**session("EPYC"), "numerics": 2}], [session("EPYC")])
    assert same_machine([{**session("EPYC"), "numerics": 1}], [session("EPYC")])
