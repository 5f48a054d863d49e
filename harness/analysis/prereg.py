"""When an experiment's plan was registered, and whether that preceded its training (issue 27).

The registration commit is the oldest commit since which the experiment file's *plan* has not
changed: walking ``git log --follow`` from the newest commit, every version whose parsed
experiment (``experiment_to_dict``, all but its path: envs, budgets, seeds and looks, PPO
settings, variants, control and the ``analysis`` section) equals today's, up to the first that
differs or no longer parses. Comparing parsed plans, not text, keeps a comment edit from moving
it. The study is pre-registered when every manifest session that trained runs started after
that commit's committer date; sessions that trained none (they found their runs done, or copied
them from other studies with ``--reuse``) do not count.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from harness.runs.experiment import experiment_to_dict, first_line, parse_experiment
from harness.runs.spec import Experiment
from harness.runs.validation import ExperimentError

NOT_DECLARED = ("no claim is declared in `analysis.claims`: nothing is pre-registered, and "
                "each claim is judged on the report's default estimand")
"""The verdict's words for an experiment file without ``analysis.claims``."""
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


@dataclass(frozen=True)
class Timing:
    """How the registration stands against the sessions of the study's manifest."""

    registration: Registration | Unknown
    """The registration commit, or why it is unknown."""
    training: int
    """Sessions that trained runs (``trained`` > 0, or no ``trained`` count: older manifests
    recorded only sessions that trained)."""
    before: int
    """Of those, sessions that started at or before the registration commit's date."""
    idle: int
    """Sessions that trained no run (not counted)."""
    reused: int
    """Runs the sessions copied from other studies with ``--reuse`` (trained by those)."""
    first: datetime | None = None
    """When the first session that trained runs started (None: none did)."""

    @property
    def verdict(self) -> str:
        """``pre-registered``, ``post hoc``, ``unknown`` or ``nothing trained``."""
        if isinstance(self.registration, Unknown):
            return "unknown"
        if not self.training:
            return "nothing trained"
        return "post hoc" if self.before else "pre-registered"

    @property
    def statement(self) -> str:
        """The verdict in words, with the commit and its date (report.md and prereg.json)."""
        found = self.registration
        if isinstance(found, Unknown):
            return f"registration commit unknown: {found.why}"
        at = f"registered at `{found.commit[:7]}` ({found.date:%Y-%m-%d %H:%M:%S %z})"
        if not self.training:
            return f"{at}; no session of this study has trained a run yet"
        first = f"the first started {self.first:%Y-%m-%d %H:%M:%S %z}"
        if self.before:
            return (f"declared after {self.before} of its {self.training} sessions that trained "
                    f"runs had trained (post hoc): {at}; {first}")
        return (f"pre-registered: {at}, before all {self.training} sessions that trained its "
                f"runs ({first})")

    @property
    def uncounted(self) -> str | None:
        """What the verdict leaves out: sessions that trained nothing, runs reused."""
        parts = ([f"{self.idle} sessions trained no run and do not count"] if self.idle else []
                 ) + ([f"the {self.reused} runs copied with `--reuse` were trained by other "
                       "studies, not by this one"] if self.reused else [])
        return "; ".join(parts) or None

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-friendly data (``prereg.json``)."""
        found = self.registration
        known = isinstance(found, Registration)
        return {"verdict": self.verdict, "statement": self.statement,
                "commit": found.commit if known else None,
                "date": found.date.isoformat() if known else None,
                "unknown": None if known else found.why,
                "training_sessions": self.training, "sessions_before": self.before,
                "first_training_session": self.first.isoformat() if self.first else None,
                "idle_sessions": self.idle, "reused_runs": self.reused}


def record(exp: Experiment, found: Timing | None) -> dict[str, Any]:
    """``prereg.json``: the declared plan (claims, levels, the seeds design) and ``found``'s
    verdict; ``not declared`` (``found`` None) when the file declares no claim."""
    a = exp.analysis
    declared = {"claims": a.to_record()["claims"], "margin": a.margin, "alpha": a.alpha,
                "active_clip": a.active_clip, "spike_factor": a.spike_factor,
                "looks": list(exp.looks), "max_seeds": len(exp.seeds)}
    if found is None:
        return {"verdict": "not declared", "statement": NOT_DECLARED}
    return {**found.to_record(), "declared": declared}


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


def timing(found: Registration | Unknown, sessions: list[dict[str, Any]]) -> Timing:
    """Count the manifest's ``sessions`` (``started`` ISO times, ``trained`` counts, ``reused``
    run ids) against the registration ``found``."""
    training = [s for s in sessions if s.get("trained", 1)]
    date = found.date if isinstance(found, Registration) else None
    before = sum(date is not None and not _started(s) > date for s in training)
    return Timing(found, len(training), before, len(sessions) - len(training),
                  sum(len(s.get("reused") or {}) for s in sessions),
                  min(map(_started, training), default=None))


def _started(session: dict[str, Any]) -> datetime:
    """When ``session`` started (UTC when no zone is recorded); the epoch when it does not
    say, so a session that cannot be dated is never counted as after the registration."""
    try:
        started = datetime.fromisoformat(session["started"])
    except (KeyError, TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)
    return started if started.tzinfo else started.replace(tzinfo=UTC)


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

