"""Live progress of ``harness run``: workers report env steps through tiny per-pack files
(atomic rewrites, at most every few seconds); a thread in the main process sums them into one
tqdm bar (runs done / total, aggregate env steps/s, ETA), so the bar moves while a long pack
trains, whatever the backend, as long as the workers can write to the results directory.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from tqdm import tqdm

from harness.runs.files import write_json

WRITE_INTERVAL_S = 2.0
"""Least time between two writes of one pack's progress file."""
POLL_INTERVAL_S = 1.0
"""How often the main process re-reads the progress files and redraws (on a terminal)."""
LOG_INTERVAL_S = 15.0
"""Redraw interval when stderr is a log file, not a terminal (one line each time)."""


class PackProgress:
    """Worker side: ``train_pack``'s ``progress`` callback for one pack."""

    def __init__(self, path: Path, interval_s: float = WRITE_INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.steps = 0
        self._last_write = -interval_s

    def __call__(self, n_steps: int) -> None:
        """Count ``n_steps`` more env steps; rewrite the file if it is old enough."""
        self.steps += n_steps
        now = time.monotonic()
        if now - self._last_write >= self.interval_s:
            self._last_write = now
            # A Dask worker on a host without the results directory just shows no live steps.
            with contextlib.suppress(OSError):
                write_json(self.path, {"steps": self.steps})


def pack_progress_path(progress_dir: Path, pack_index: int) -> Path:
    """Where the worker training pack ``pack_index`` reports its steps."""
    return progress_dir / f"pack-{pack_index:05d}.json"


class ProgressBar:
    """Main side: a context manager owning the bar and the thread that polls the files."""

    def __init__(self, progress_dir: Path, *, label: str, total_steps: int, total_runs: int,
                 done_runs: int) -> None:
        self.progress_dir = progress_dir
        self.total_runs = total_runs
        self._done_runs = done_runs
        self._finished_steps = 0
        self._finished_packs: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        interactive = sys.stderr.isatty()
        self._interval_s = POLL_INTERVAL_S if interactive else LOG_INTERVAL_S
        # smoothing=0: the rate is the average since start, which gives a steady ETA;
        # mininterval=inf: only _refresh draws, on our clock.
        self._bar = tqdm(total=total_steps, desc=label, unit="step", unit_scale=True,
                         smoothing=0.0, mininterval=math.inf, dynamic_ncols=interactive)
        self._thread = threading.Thread(target=self._poll, name="progress", daemon=True)

    def __enter__(self) -> ProgressBar:
        shutil.rmtree(self.progress_dir, ignore_errors=True)
        self.progress_dir.mkdir(parents=True)
        self._refresh()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._refresh()
        self._bar.close()
        shutil.rmtree(self.progress_dir, ignore_errors=True)

    def pack_done(self, pack_index: int, steps: int, runs: int) -> None:
        """Record a returned pack: ``steps`` it trained in all, ``runs`` it finished."""
        with self._lock:
            self._finished_packs.add(pack_index)
            self._finished_steps += steps
            self._done_runs += runs
            pack_progress_path(self.progress_dir, pack_index).unlink(missing_ok=True)

    def write(self, message: str) -> None:
        """Print a line above the bar."""
        self._bar.write(message, file=sys.stderr)

    def _poll(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            steps = self._finished_steps + sum(
                _read_steps(path) for path in self.progress_dir.glob("pack-*.json")
                if int(path.stem.removeprefix("pack-")) not in self._finished_packs)
            postfix = f"runs {self._done_runs}/{self.total_runs}"
        self._bar.update(max(0, min(steps, self._bar.total) - self._bar.n))
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.refresh()


def _read_steps(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["steps"])
    except (OSError, ValueError, KeyError):  # removed or replaced between glob and read
        return 0
