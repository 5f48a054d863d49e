"""A sequential design's looks as ``results/<name>/sequential.json`` records them, read with
plain Python (``harness status`` stays free of pandas; ``harness.sequential`` writes them)."""

from __future__ import annotations

from collections.abc import Sequence


def looked_runs(record: dict, seeds: Sequence[int]) -> set[tuple[str, int]]:
    """The (variant, seed) runs the looks in ``record`` analysed: at each look, both arms of
    each comparison it tested, at the look's first ``runs_per_arm`` of ``seeds``."""
    return {(arm, seed) for look in record["looks"] for c in look["comparisons"]
            for arm in (c["variant"], c["control"]) for seed in seeds[:look["runs_per_arm"]]}
