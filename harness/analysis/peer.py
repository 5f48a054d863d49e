"""A cross-check against a peer implementation: AdaStop (Mathieu et al. 2024, ``adastop`` on
PyPI), the permutation-based group-sequential test for comparing RL agents.

Per env, AdaStop's ``MultipleAgentsComparator`` compares the variant's and the control's
final scores in K interims of n runs each (the same nested runs our looks use). Its verdicts
are ``larger``, ``smaller``, ``equal`` or ``continue``. **AdaStop's "equal" is not
equivalence**: it means "no difference found when the interims ran out" (or the early
acceptance of its beta-spending), not that a difference of at least the margin was excluded;
only our two one-sided tests say ``equivalent``. Where AdaStop says ``larger`` or
``smaller``, our per-env sequential decision should agree in direction
(``tests/test_peer.py``). AdaStop tests the difference of means at level alpha with
permutations; ours the log ratio with Welch's t: the two may differ on whether a borderline
effect is decided, never (in the tests) on its sign.

``adastop`` is an optional dependency (the ``dev`` extra): it is imported when called.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def adastop_verdict(x: np.ndarray, y: np.ndarray, *, n: int, interims: int,
                    alpha: float = 0.05, permutations: int = 2000,
                    seed: int = 0) -> tuple[str, int]:
    """AdaStop on one env: variant runs ``x`` and control runs ``y`` (each [>= n * interims],
    in seed order), ``n`` runs per arm per interim. Returns (``larger`` | ``smaller`` |
    ``equal`` | ``continue``, runs per arm it used); ``larger`` means the variant's mean is
    above the control's."""
    from adastop import MultipleAgentsComparator

    x, y = np.asarray(x, float), np.asarray(y, float)
    comparator = MultipleAgentsComparator(n=n, K=interims, B=permutations, alpha=alpha,
                                          seed=seed)
    verdict, used = "continue", 0
    for k in range(interims):
        used = n * (k + 1)
        comparator.partial_compare({"variant": x[:used], "control": y[:used]}, verbose=False)
        verdict = next(iter(comparator.decisions.values()))
        if verdict != "continue":
            break
    return verdict, used


PERMUTATIONS = 1000
"""AdaStop's random permutations per interim in the report: its decisions on the published
studies are the same as with 10,000, and every study's check stays under a few seconds."""
PEER_COLUMNS = ["env_id", "variant", "control", "runs", "interims", "adastop", "adastop_runs",
                "ours", "rel_diff", "agree"]


def adastop_table(scores: pd.DataFrame, comparisons: pd.DataFrame, *, looks: Sequence[int],
                  alpha: float, seed: int = 0) -> pd.DataFrame:
    """AdaStop beside our per-env verdict for each per-env row of ``comparisons`` (the primary
    metric's, estimand ``fixed``): ``PEER_COLUMNS``. ``scores``: ``env_id``, ``variant``,
    ``seed``, ``score`` per run. Its interims are our looks that the runs reach (one interim of
    all runs in a fixed design); ``agree``: where AdaStop says ``larger``/``smaller``, our
    estimate has that sign and our verdict is not the opposite (NaN where AdaStop decides no
    direction)."""
    cells = {k: g.sort_values("seed")["score"].to_numpy(float)
             for k, g in scores.groupby(["env_id", "variant"])}
    rows = []
    for r in comparisons.itertuples():
        x, y = cells[r.scope, r.variant], cells[r.scope, r.control]
        runs = min(len(x), len(y))
        n = looks[0] if looks and looks[0] <= runs else runs
        theirs, used = adastop_verdict(x, y, n=n, interims=runs // n, alpha=alpha,
                                       permutations=PERMUTATIONS, seed=seed)
        sign = {"larger": 1, "smaller": -1}.get(theirs)
        rows.append({"env_id": r.scope, "variant": r.variant, "control": r.control,
                     "runs": runs, "interims": runs // n, "adastop": theirs,
                     "adastop_runs": used, "ours": r.verdict, "rel_diff": r.rel_diff,
                     "agree": np.nan if sign is None else bool(
                         r.verdict != ("worse" if sign > 0 else "better")
                         and np.sign(r.rel_diff) == sign)})
    return pd.DataFrame(rows, columns=PEER_COLUMNS)
