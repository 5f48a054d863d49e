"""The loky workers' initializer. This module imports nothing heavy: a worker runs it before
it imports torch and the trainer."""

import signal


def ignore_stop_signals() -> None:
    """Leave SIGINT and SIGTERM to the main process, which stops the workers (with SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
