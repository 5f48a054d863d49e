"""Exit codes of the ``harness`` command line (DESIGN.md §4), and the error a command raises
for a bad command-line value."""

from __future__ import annotations

import signal

EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM  # shell convention


class InputError(Exception):
    """A bad command-line value; its text follows ``error:``."""
