"""Which software made the runs: git commit and package versions, recorded per session in the
manifest and compared with the current ones by ``harness run`` and ``harness status``.

Light on purpose (no torch): ``status`` answers at once.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.ppo.numerics import BEFORE_RECORDED, NUMERICS

PACKAGES = ("vclip-harness", "torch", "gymnasium", "mujoco", "numpy", "pandas", "pyarrow",
            "joblib", "dask", "distributed")
"""Versions recorded in the manifest (those installed)."""


def versions() -> dict[str, str]:
    """Python's and the installed ``PACKAGES``' versions."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def git() -> dict[str, Any] | None:
    """Commit of the harness's source checkout, and whether it had local changes."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
    try:
        return {"commit": run("rev-parse", "HEAD"),
                "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str | None:
    """The CPU's model name (Linux's /proc/cpuinfo, else ``platform.processor()``): runs are
    equal bit for bit only on CPUs that take the same SIMD kernels."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or None


def current() -> dict[str, Any]:
    """This process's provenance, in a session record's shape: also the trainer's numerics
    version (``harness.ppo.numerics``), which says whether runs can be equal bit for bit."""
    return {"git": git(), "versions": versions(), "numerics": NUMERICS}


def trained_numerics(sessions: Sequence[dict[str, Any]]) -> set[int]:
    """The trainer numerics versions of the runs that ``sessions`` trained or reused (a
    session recorded before versions were is version 1)."""
    trained, copied = numerics_by_origin(sessions)
    return trained | copied


def numerics_by_origin(sessions: Sequence[dict[str, Any]]) -> tuple[set[int], set[int]]:
    """(the numerics versions of the runs ``sessions`` trained, those of the runs they copied
    with ``--reuse``); a session recorded before versions were is version 1, one recorded
    before the ``trained`` count may have trained runs."""
    trained = {s.get("numerics", BEFORE_RECORDED) for s in sessions if s.get("trained", 1)}
    return trained, {n for s in sessions for n in s.get("reused_numerics", ())}


def differences(sessions: Sequence[dict[str, Any]], now: dict[str, Any]) -> list[str]:
    """``name old (now new)`` for the commit and each version that differ between ``now`` and
    a session that trained runs (one recorded before the ``trained`` count may have)."""
    found: dict[str, set[str]] = {}
    current_commit = _commit(now)
    for session in sessions:
        if session.get("trained", 1) == 0:  # it only reused runs
            continue
        commit = _commit(session)
        if commit and current_commit and commit != current_commit:
            found.setdefault("git", set()).add(commit)
        old, new = session.get("versions") or {}, now["versions"]
        for name in old.keys() & new.keys():  # a package absent on one side says nothing
            if old[name] != new[name]:
                found.setdefault(name, set()).add(old[name])
    other = trained_numerics(sessions) - {now["numerics"]}
    if other:  # bit for bit equal runs need one version; the statistics take both alike
        found["trainer numerics"] = {str(n) for n in other}
    current = {"git": current_commit, **now["versions"], "trainer numerics": now["numerics"]}
    return [f"{name} {', '.join(sorted(olds))} (now {current[name]})"
            for name, olds in found.items()]


def _commit(record: dict[str, Any]) -> str | None:
    info = record.get("git")
    return info["commit"][:10] if isinstance(info, dict) and info.get("commit") else None
