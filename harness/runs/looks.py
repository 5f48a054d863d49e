"""A sequential design's looks as ``results/<name>/sequential.json`` records them, read with
plain Python (``harness status`` and ``--dry-run`` stay free of pandas; ``harness.sequential``
writes them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.runs.spec import Experiment

Asked = Callable[[str, int], bool]
"""(variant, seed) -> whether the design trains that run."""


def read_sequential(exp_dir: Path) -> dict | None:
    """The looks of a sequential design (``sequential.json``), or None."""
    try:
        return json.loads((Path(exp_dir) / "sequential.json").read_text())
    except (OSError, ValueError):
        return None


def looked_runs(record: dict, seeds: Sequence[int]) -> set[tuple[str, int]]:
    """The (variant, seed) runs the looks in ``record`` analysed: at each look, both arms of
    each comparison it tested, at the look's first ``runs_per_arm`` of ``seeds``."""
    return {(arm, seed) for look in record["looks"] for c in look["comparisons"]
            for arm in (c["variant"], c["control"]) for seed in seeds[:look["runs_per_arm"]]}


def asked(exp: Experiment, record: dict | None) -> Asked:
    """Whether a sequential design has asked for a run so far: the runs its looks analysed,
    and the arms of comparisons still undecided at the seeds of the look under way
    (``harness.sequential``). Every run of a fixed design."""
    if not exp.looks:
        return lambda variant, seed: True
    looks = (record or {}).get("looks", [])
    done = looks[-1]["runs_per_arm"] if looks else 0
    current = done if stopped(record) or len(looks) == len(exp.looks) else exp.looks[len(looks)]
    arms = _open_arms(exp, record)
    looked = looked_runs(record, exp.seeds) if record else set()
    return lambda variant, seed: ((variant, seed) in looked
                                  or (seed in exp.seeds[:current] and variant in arms))


def may_train(exp: Experiment, record: dict | None) -> Asked:
    """Whether a run may still be trained: asked for (``asked``), or an arm of a comparison
    still undecided while the design runs (a later look gives it seeds up to ``max``). This
    bounds what a study left as ``record`` says can still cost."""
    now = asked(exp, record)
    arms = set() if stopped(record) else _open_arms(exp, record)
    return lambda variant, seed: now(variant, seed) or variant in arms


def stopped(record: dict | None) -> bool:
    """Whether the design stopped (``harness run`` trains nothing more for it)."""
    return record is not None and record.get("stopped") != "running"


def _open_arms(exp: Experiment, record: dict | None) -> set[str]:
    """Both arms of each comparison still undecided; before the first look, every variant."""
    if record is None:
        return {v.label for v in exp.variants}
    return {arm for pair in record.get("undecided", []) for arm in pair}
