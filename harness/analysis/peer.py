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

import numpy as np


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
