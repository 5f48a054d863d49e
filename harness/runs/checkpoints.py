"""Per-run checkpoints under ``results/<name>/checkpoints/``: written by the workers every so
many seconds, read back by the next ``harness run`` to resume each unfinished run where its
latest checkpoint left it, deleted once the run's files are written.

A checkpoint is one run's ``AgentSnapshot`` (pickled, written atomically), so a resume may
pack runs differently (another ``--jobs`` or backend) and still give the same numbers.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.ppo.snapshot import AgentSnapshot, SnapshotUnsupported
from harness.runs.files import atomic_write

DEFAULT_EVERY = 300.0
"""Seconds between two checkpoints of a pack (``--checkpoint-every``; 0 disables them)."""


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be read back (cut short, or not a checkpoint)."""


def checkpoint_path(root: Path, run_id: str) -> Path:
    """Where run ``run_id`` of the experiment at ``root`` keeps its latest checkpoint."""
    return Path(root) / "checkpoints" / f"{run_id}.ckpt"


def read_checkpoint(path: Path) -> AgentSnapshot | None:
    """The snapshot at ``path``; None when there is none; ``DamagedCheckpoint`` when the file
    is unreadable."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        snapshot = pickle.loads(blob)
    except Exception as e:  # truncated or foreign bytes fail in many ways
        raise DamagedCheckpoint(f"{path}: unreadable checkpoint ({type(e).__name__})") from None
    if not isinstance(snapshot, AgentSnapshot):
        raise DamagedCheckpoint(f"{path}: not a checkpoint")
    return snapshot


def pack_checkpoints(root: Path, run_ids: Sequence[str]) -> list[AgentSnapshot] | None:
    """The snapshots to resume a pack from: every run's, when all have one from the same
    update (the main process packed them so); else None, and the pack starts from step 0
    (e.g. a worker that does not see the results directory)."""
    try:
        snapshots = [read_checkpoint(checkpoint_path(root, r)) for r in run_ids]
    except DamagedCheckpoint:
        return None
    if any(s is None for s in snapshots) or len({s.update for s in snapshots}) != 1:
        return None
    return snapshots


class CheckpointWriter:
    """The trainer's ``checkpoint`` callback for one pack, run in its worker.

    Every ``every`` seconds (measured from the pack's start) it saves each live run's
    snapshot. A worker that cannot write (no shared filesystem, a full disk) warns once and
    trains on without checkpoints: a checkpoint may be lost, a run may not.
    """

    def __init__(self, root: Path, run_ids: Sequence[str], every: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root, self.run_ids, self.every, self.clock = Path(root), list(run_ids), every, clock
        self.last = clock()
        self.failed = False

    def __call__(self, update: int, capture: Callable[[], dict[int, AgentSnapshot]]) -> None:
        """Save the pack's snapshots when one is due."""
        if self.failed or self.clock() - self.last < self.every:
            return
        try:
            for idx, snapshot in capture().items():
                atomic_write(checkpoint_path(self.root, self.run_ids[idx]),
                             lambda f, s=snapshot: pickle.dump(s, f, protocol=5))
        except (OSError, SnapshotUnsupported) as e:
            self.failed = True
            print(f"warning: checkpoints of {self.run_ids[0]} and its pack are off: {e}",
                  file=sys.stderr, flush=True)
        self.last = self.clock()
