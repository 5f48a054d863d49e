"""harness.analysis.peer: AdaStop and our per-env sequential decision agree in direction."""

import numpy as np
import pytest

from harness.analysis import alpha_spending, effects, peer

pytest.importorskip("adastop")

LOOKS, ALPHA, MARGIN = [5, 10, 15, 20], 0.05, 0.10


@pytest.mark.parametrize("rho, cv", [(1.5, 0.3), (0.7, 0.3), (0.85, 0.25)])
def test_where_adastop_decides_a_direction_ours_agrees(rho, cv):
    """Ten simulated envs per case; where AdaStop says larger/smaller, our sequential
    verdict (exact boundaries and the union bound alike) is never the opposite direction,
    and with a large effect ours decides it too."""
    rng = np.random.default_rng(int(rho * 100 + cv * 10))
    union = alpha_spending.look_levels(LOOKS, ALPHA)
    levels = {"exact": alpha_spending.levels(LOOKS, ALPHA),
              "union": alpha_spending.Levels(union, union)}
    agreed = 0
    for _ in range(10):
        x = rng.normal(rho * 1000, rho * cv * 1000, LOOKS[-1])
        y = rng.normal(1000, cv * 1000, LOOKS[-1])
        theirs, _ = peer.adastop_verdict(x, y, n=5, interims=4, alpha=ALPHA, permutations=500,
                                         seed=0)
        ratios = [effects.log_ratio([x[:n]], [y[:n]]) for n in LOOKS]
        for lv in levels.values():
            _, verdict = alpha_spending.first_decisions(ratios, lv, MARGIN)
            ours = effects.VERDICTS[int(verdict)]
            if theirs == "larger":
                assert ours != "worse"
                agreed += ours == "better"
            elif theirs == "smaller":
                assert ours != "better"
                agreed += ours == "worse"
    if abs(rho - 1) >= 0.3:
        assert agreed >= 2 * 8  # both rules, most of the 10 envs


def test_adastop_table_sits_beside_our_per_env_verdicts():
    """One env with a large effect, one without: AdaStop's direction is ours where it decides
    one, over the interims our looks give (10 of 20 runs: two)."""
    import pandas as pd

    rng = np.random.default_rng(1)
    scores = pd.DataFrame([{"env_id": env, "variant": v, "seed": s,
                            "score": rng.normal(1000 * (rho if v == "x" else 1.0), 100)}
                           for env, rho in (("A", 1.5), ("B", 1.0)) for v in ("x", "y")
                           for s in range(20)])
    rows = pd.DataFrame({"scope": ["A", "B"], "variant": "x", "control": "y",
                         "verdict": ["better", "inconclusive"], "rel_diff": [0.5, 0.01]})
    table = peer.adastop_table(scores, rows, looks=[10, 20], alpha=ALPHA)
    assert list(table.columns) == peer.PEER_COLUMNS
    a = table.set_index("env_id").loc["A"]
    assert (a["adastop"], a["interims"], a["agree"]) == ("larger", 2, True)
    assert table.set_index("env_id").loc["B", "adastop"] != "smaller"
