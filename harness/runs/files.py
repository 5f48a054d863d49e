"""Atomic file writes, shared by the run files and the report.

Every file is written to a temporary name in its final directory, fsynced, then renamed with
``os.replace``, so a reader (or a resumed run) sees a whole file or none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"
"""Ends the name of a file being written; ``ResultsDir.remove_temp_files`` drops leftovers."""


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Create ``path`` whole or not at all: temp file in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (NaN written as null)."""
    text = json.dumps(_nan_to_none(data), indent=2, default=str) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def _nan_to_none(data: Any) -> Any:
    if isinstance(data, float) and data != data:
        return None
    if isinstance(data, dict):
        return {k: _nan_to_none(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_nan_to_none(v) for v in data]
    return data
