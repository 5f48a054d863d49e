"""The loky workers' initializer. This module imports nothing heavy: a worker runs it before
it imports torch and the trainer."""

import fcntl
import os
import signal
import threading
import time

PARENT_POLL_S = 0.5
"""How often a worker checks that the ``harness run`` that started it is alive."""


def init_worker(workers_dir: str) -> None:
    """Every loky worker's start: leave stop signals to the main process, hold a lock file in
    the results directory's ``workers_dir`` while alive, and die with the main process."""
    ignore_stop_signals()
    parent = os.getppid()
    hold(os.path.join(workers_dir, worker_lock_name(parent, os.getpid())))
    exit_with_parent(parent)


def worker_lock_name(parent: int, pid: int) -> str:
    """The lock file of worker ``pid`` of the ``harness run`` process ``parent``."""
    return f"{parent}-{pid}.lock"


def worker_lock_owner(name: str) -> tuple[str, str]:
    """``(parent, pid)`` of a ``worker_lock_name`` (as strings)."""
    parent, _, pid = name.removesuffix(".lock").partition("-")
    return parent, pid


def ignore_stop_signals() -> None:
    """Leave SIGINT and SIGTERM to the main process, which stops the workers (with SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def hold(path: str) -> None:
    """An ``flock`` on ``path`` for this process's life: the kernel drops it when the process
    dies, so a later ``harness run`` can tell whether old workers still write."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # fd stays open, unreferenced, until the process exits


def exit_with_parent(parent: int) -> None:
    """SIGKILL this process once ``parent`` is gone (its children are then re-parented).

    A SIGKILLed ``harness run`` cannot stop its workers, which ignore SIGTERM and SIGINT, and
    loky's own watch only notices at the next task; a worker in the middle of a pack would go
    on training and writing checkpoints for minutes.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
