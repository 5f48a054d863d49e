"""Whether an experiment's plan was registered before its training (issue 27).

``runs.plan_history`` finds the registration commit of the experiment file; here it is set
against the manifest's sessions. The study is pre-registered when every session that trained
runs started after that commit's committer date; sessions that trained none (they found their
runs done, or copied them from other studies with ``--reuse``) do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.runs.plan_history import Registration, Unknown
from harness.runs.spec import Experiment

NOT_DECLARED = ("no claim is declared in `analysis.claims`: nothing is pre-registered, and "
                "each claim is judged on the report's default estimand")
"""The verdict's words for an experiment file without ``analysis.claims``."""


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
