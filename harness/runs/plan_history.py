"""The commit an experiment file's plan was registered at, read from its git history (issue 27).

The registration commit is the oldest commit since which the experiment file's *plan* has not
changed: walking ``git log --follow`` from the newest commit, every version whose parsed
experiment (``experiment_to_dict``, all but its path: envs, budgets, seeds and looks, PPO
settings, variants, control and the ``analysis`` section) equals today's, up to the first that
differs or no longer parses. Comparing parsed plans, not text, keeps a comment edit from moving
it. ``analysis.prereg`` sets it against the sessions that trained the study's runs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from harness.runs.experiment import experiment_to_dict, first_line, parse_experiment
from harness.runs.spec import Experiment
from harness.runs.validation import ExperimentError

GIT_TIMEOUT_S = 30
"""Most seconds one git call may take (a log of a long history, a ``show``)."""


@dataclass(frozen=True)
class Registration:
    """The commit an experiment's current plan was registered at."""

    commit: str
    """Its full hash."""
    date: datetime
    """Its committer date (when it entered the repository, even if authored earlier)."""


@dataclass(frozen=True)
class Unknown:
    """No registration commit can be found."""

    why: str
    """Why, in a few words (no git, not a checkout, shallow clone, file not committed, ...)."""


def plan(exp: Experiment) -> dict[str, Any]:
    """What an experiment file commits to: the parsed experiment without its file's path."""
    return {k: v for k, v in experiment_to_dict(exp).items() if k != "source"}


def registration(exp: Experiment) -> Registration | Unknown:
    """The commit ``exp.source`` was registered at with ``exp``'s plan (module docstring),
    or why it cannot be found."""
    path = Path(exp.source)
    if not exp.source or not path.is_file():
        return Unknown(f"the experiment file {exp.source or '(not recorded)'} is not here")
    try:
        root = Path(_git(["rev-parse", "--show-toplevel"], path.resolve().parent))
        if _git(["rev-parse", "--is-shallow-repository"], root) == "true":
            return Unknown("this clone is shallow, its history cut (git fetch --unshallow)")
        relative = path.resolve().relative_to(root.resolve()).as_posix()
        versions = _versions(relative, root)
        if not versions:
            return Unknown(f"{relative} is not committed")
        wanted, found = plan(exp), None
        for commit, date, name in versions:  # newest first
            if _plan_of(_git(["show", f"{commit}:{name}"], root), name) != wanted:
                break
            found = Registration(commit, date)
    except FileNotFoundError:
        return Unknown("git is not installed")
    except (subprocess.SubprocessError, OSError, ValueError) as err:
        return Unknown(f"not a git checkout with this file's history ({first_line(err)})")
    return found or Unknown(f"the plan in {relative} differs from its last committed version "
                            "(commit it to register it)")


def _versions(relative: str, root: Path) -> list[tuple[str, datetime, str]]:
    """(commit, committer date, the file's path then) of each commit that changed the file,
    newest first, across renames; a merge lists no path and keeps the newer one."""
    log = _git(["log", "--follow", "--format=%x00%H %cI", "--name-only", "--", relative], root)
    versions, name = [], relative
    for chunk in log.split("\0")[1:]:
        head, *paths = [line for line in chunk.splitlines() if line]
        commit, date = head.split(" ")
        name = paths[-1] if paths else name
        versions.append((commit, datetime.fromisoformat(date), name))
    return versions


def _plan_of(text: str, source: str) -> dict[str, Any] | None:
    """The plan of one committed version of the file; None when today's harness refuses it
    (it then cannot have today's plan)."""
    try:
        return plan(parse_experiment(yaml.safe_load(text), source))
    except (ExperimentError, yaml.YAMLError):
        return None


def _git(args: list[str], cwd: Path) -> str:
    """``git args`` run in ``cwd``: its stdout, stripped. Raises ``SubprocessError`` with git's
    message when git fails, ``FileNotFoundError`` when git is missing."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=GIT_TIMEOUT_S)
    if done.returncode:
        raise subprocess.SubprocessError(done.stderr.strip() or f"git {args[0]} failed")
    return done.stdout.strip()

