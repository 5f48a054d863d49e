"""A sequential design's record, ``results/<name>/sequential.json``: its looks, their decisions
and why the study stopped. Read and written here only, with plain Python (``harness status``
and ``--dry-run`` stay free of pandas); the look loop (``harness.commands.running_looks``)
writes it after every look.

Which runs a look wants is said once, by ``look_wants``: the look loop trains what it says,
and status and the dry run count with it (``asked``, ``may_train``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from harness.runs.files import write_json
from harness.runs.spec import Experiment

RECORD_NAME = "sequential.json"

Asked = Callable[[str, int], bool]
"""(variant, seed) -> whether the design trains that run."""
Pair = tuple[str, str]
"""A (variant, control) comparison."""


class Stop(Enum):
    """Why the study stopped, or ``RUNNING`` while it has not. A value is the file's text."""

    RUNNING = "running"
    DECIDED = "every primary comparison is decided"
    DECIDED_OR_IDLE = "every primary comparison is decided or its clip never acted"
    """Decided, or dropped because its clipped arm never clipped (``pairs.inactive_clips``)."""
    MAX_SEEDS = "the largest number of seeds is reached"


@dataclass(frozen=True)
class Decision:
    """One primary comparison at one look (a row of ``alpha_spending.decide``)."""

    variant: str
    control: str
    n: int
    """Runs per arm and env."""
    rel_diff: float
    """Relative difference of the mean scores over all envs."""
    p_holm: float
    """Holm-corrected p-value of the test of equal means."""
    p_tost_holm: float
    """Holm-corrected p-value of the two one-sided tests of equivalence."""
    verdict: str
    """``better`` | ``worse`` | ``equivalent`` | ``inconclusive`` at the look's level."""


@dataclass(frozen=True)
class Look:
    """One look: the comparisons still open before it, tested at its share of alpha."""

    look: int
    """1 for the first look."""
    runs_per_arm: int
    """Runs per arm and env: the experiment's first ``runs_per_arm`` seeds."""
    level: float
    """The two-sided level of the look's tests of equal means (``alpha_spending.levels``)."""
    equivalence_level: float
    """The level of each one-sided test of equivalence there (files written before exact
    boundaries have one level for both: it reads as ``level``)."""
    comparisons: tuple[Decision, ...]
    never_clipped: tuple[str, ...] = ()
    """Clipped variants of these comparisons whose clip never acted: they get no more runs."""


@dataclass(frozen=True)
class SequentialRecord:
    """The looks so far, and why the study stopped."""

    looks: tuple[Look, ...]
    stopped: Stop
    undecided: tuple[Pair, ...]
    """The comparisons a later look would test (its clip acted, no verdict yet)."""

    @classmethod
    def after(cls, looks: Sequence[Look], open_pairs: Sequence[Pair],
              last: bool) -> SequentialRecord:
        """The record once ``looks`` are done, ``open_pairs`` still undecided; ``last``: the
        last look of the design was among them."""
        idle = any(look.never_clipped for look in looks)
        stopped = ((Stop.DECIDED_OR_IDLE if idle else Stop.DECIDED) if not open_pairs
                   else Stop.MAX_SEEDS if last else Stop.RUNNING)
        return cls(tuple(looks), stopped, tuple(tuple(p) for p in open_pairs))

    @property
    def has_stopped(self) -> bool:
        """Whether the design stopped (``harness run`` trains nothing more for it)."""
        return self.stopped is not Stop.RUNNING

    def to_json(self) -> dict[str, Any]:
        """The file's content (keys in the order the published files have them)."""
        return {"looks": [{"look": k.look, "runs_per_arm": k.runs_per_arm, "level": k.level,
                           "equivalence_level": k.equivalence_level,
                           "comparisons": [asdict(c) for c in k.comparisons],
                           "never_clipped": list(k.never_clipped)} for k in self.looks],
                "stopped": self.stopped.value, "undecided": [list(p) for p in self.undecided]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SequentialRecord:
        """A record from the file's content; NaN where the file has null or no number (a
        hand-written file may give only each comparison's arms, undecided)."""
        looks = []
        for i, k in enumerate(data.get("looks", [])):
            n = k["runs_per_arm"]
            level = _number(k.get("level"))
            looks.append(Look(k.get("look", i + 1), n, level,
                              _number(k.get("equivalence_level", level)), tuple(
                Decision(c["variant"], c["control"], c.get("n", n), _number(c.get("rel_diff")),
                         _number(c.get("p_holm")), _number(c.get("p_tost_holm")),
                         c.get("verdict", "inconclusive"))
                for c in k["comparisons"]), tuple(k.get("never_clipped", ()))))
        return cls(tuple(looks), Stop(data.get("stopped", Stop.RUNNING.value)),
                   tuple(tuple(p) for p in data.get("undecided", [])))


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def record_path(exp_dir: Path) -> Path:
    """Where an experiment's results directory keeps its sequential record."""
    return Path(exp_dir) / RECORD_NAME


def read_record(exp_dir: Path) -> SequentialRecord | None:
    """The looks of a sequential design (``sequential.json``), or None."""
    try:
        return SequentialRecord.from_json(json.loads(record_path(exp_dir).read_text()))
    except (OSError, ValueError):
        return None


def write_record(exp_dir: Path, record: SequentialRecord) -> None:
    """Write ``record`` atomically (NaN as null)."""
    write_json(record_path(exp_dir), record.to_json())


def arms(pairs: Iterable[Pair]) -> set[str]:
    """Both arms of each comparison of ``pairs``."""
    return {arm for pair in pairs for arm in pair}


def look_wants(open_arms: Collection[str], seeds: Sequence[int]) -> Asked:
    """The runs a look trains: every arm of the comparisons it tests (``open_arms``), at its
    seeds (the experiment's first ``runs_per_arm``)."""
    return lambda variant, seed: variant in open_arms and seed in seeds


def looked_runs(record: SequentialRecord, seeds: Sequence[int]) -> set[tuple[str, int]]:
    """The (variant, seed) runs the looks in ``record`` analysed: at each look, both arms of
    each comparison it tested, at the look's first ``runs_per_arm`` of ``seeds``."""
    return {(arm, seed) for look in record.looks for c in look.comparisons
            for arm in (c.variant, c.control) for seed in seeds[:look.runs_per_arm]}


def asked(exp: Experiment, record: SequentialRecord | None) -> Asked:
    """Whether a sequential design has asked for a run so far: the runs its looks analysed,
    and what the look under way wants (``look_wants``). Every run of a fixed design."""
    if not exp.looks:
        return lambda variant, seed: True
    looks = record.looks if record else ()
    done = looks[-1].runs_per_arm if looks else 0
    current = done if stopped(record) or len(looks) == len(exp.looks) else exp.looks[len(looks)]
    now = look_wants(_open_arms(exp, record), exp.seeds[:current])
    looked = looked_runs(record, exp.seeds) if record else set()
    return lambda variant, seed: (variant, seed) in looked or now(variant, seed)


def may_train(exp: Experiment, record: SequentialRecord | None) -> Asked:
    """Whether a run may still be trained: asked for (``asked``), or an arm of a comparison
    still undecided while the design runs (a later look gives it seeds up to ``max``). This
    bounds what a study left as ``record`` says can still cost."""
    now = asked(exp, record)
    open_arms = set() if stopped(record) else _open_arms(exp, record)
    return lambda variant, seed: now(variant, seed) or variant in open_arms


def stopped(record: SequentialRecord | None) -> bool:
    """Whether the design stopped (``harness run`` trains nothing more for it)."""
    return record is not None and record.has_stopped


def _open_arms(exp: Experiment, record: SequentialRecord | None) -> set[str]:
    """Both arms of each comparison still undecided; before the first look, every variant."""
    if record is None:
        return {v.label for v in exp.variants}
    return arms(record.undecided)
