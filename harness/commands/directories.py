"""Refuse, before any work, a directory option (``--results-dir``, ``--tensorboard``) that
names a file or a path under one, or that cannot be written in when the command writes."""

from __future__ import annotations

import os
from pathlib import Path

from harness.commands.errors import InputError


def check_directory(option: str, value: str, path: Path, *, write: bool = True) -> None:
    """``path`` (``value`` of ``option``, or a folder under it) must be a directory or
    creatable as one, and writable when the command ``write``\\ s."""
    existing = path
    while not os.path.lexists(existing):  # the nearest part that exists is what we write in
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {value}: {existing} is not a directory; give a "
                         "directory that exists or can be created")
    if write and not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {value}: {existing} is not writable; give a "
                         "directory you can write in")
