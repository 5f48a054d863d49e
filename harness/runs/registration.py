"""An experiment's pre-registration: ``analysis.claims`` validated into ``spec.ClaimPlan``s.

Declaring each claim's primary estimand, envs, margin, alpha and (for C3) thresholds in the
experiment file, committed before its runs train, fixes the question before the data answer it
(issue 25). Like the rest of the file it is strict: unknown claims and keys, envs the
experiment does not have and thresholds it does not train are one-line errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from harness.runs.spec import CLAIMS, ESTIMANDS, ClaimPlan
from harness.runs.validation import Fail, in_range, yaml_number


def claim_plans(value: Any, envs: tuple[str, ...], thresholds: list[float],
                fail: Fail) -> tuple[tuple[str, ClaimPlan], ...]:
    """``analysis.claims``: a mapping of claims to their plans. ``envs``: the experiment's
    env labels; ``thresholds``: the eps of its ``max`` variants."""
    if not isinstance(value, dict):
        raise fail("analysis.claims", f"must be a mapping of claims ({', '.join(CLAIMS)}) to "
                                      f"their plans, got {value!r}")
    plans = []
    for name, plan in value.items():
        key = f"analysis.claims.{name}"
        if name not in CLAIMS:
            raise fail(key, f"unknown claim; allowed: {', '.join(CLAIMS)}")
        plans.append((name, _plan(plan, key, envs, thresholds if name == "C3" else None, fail)))
    return tuple(plans)


def _plan(value: Any, key: str, envs: tuple[str, ...], thresholds: list[float] | None,
          fail: Fail) -> ClaimPlan:
    """One claim's plan; ``thresholds`` is None for the claims that take none (all but C3)."""
    allowed = [f.name for f in dataclasses.fields(ClaimPlan)
               if thresholds is not None or f.name != "thresholds"]
    if not isinstance(value, dict):
        raise fail(key, f"must be a mapping with keys {', '.join(allowed)}, got {value!r}")
    for name in value:
        if name not in allowed:
            raise fail(f"{key}.{name}", f"unknown key; allowed: {', '.join(allowed)}")
    if value.get("estimand") not in ESTIMANDS:
        raise fail(f"{key}.estimand", f"must be one of {', '.join(ESTIMANDS)} (random effects "
                                      "over the envs, or fixed: on these envs), got "
                                      f"{value.get('estimand')!r}")
    fields: dict[str, Any] = {"estimand": value["estimand"]}
    for name in ("margin", "alpha"):
        if name in value:
            fields[name] = in_range(value[name], name, f"{key}.{name}", fail)
    if "envs" in value:
        fields["envs"] = _subset(value["envs"], envs, f"{key}.envs", "the experiment's envs",
                                 fail)
        _all_or_refuse(fields["envs"], envs, f"{key}.envs", "env", fail)
    if "thresholds" in value:
        eps = value["thresholds"]
        numbers = [yaml_number(v) for v in eps] if isinstance(eps, list) else []
        fields["thresholds"] = _subset(numbers if numbers and None not in numbers else eps,
                                       thresholds or [], f"{key}.thresholds",
                                       "the vf_clip_eps of its max variants", fail)
        _all_or_refuse(fields["thresholds"], thresholds or [], f"{key}.thresholds",
                       "max threshold", fail)
    return ClaimPlan(**fields)


def check_levels(plans: Sequence[tuple[str, ClaimPlan]], margin: float, alpha: float,
                 fail: Fail) -> None:
    """Refuse a claim's ``margin`` or ``alpha`` other than the section's: the report tests
    every comparison at ``analysis.margin`` and ``analysis.alpha`` (one Holm family), so a
    declared other value would be a plan the analysis does not carry out."""
    for name, plan in plans:
        for field, section in (("margin", margin), ("alpha", alpha)):
            declared = getattr(plan, field)
            if declared is not None and declared != section:
                raise fail(f"analysis.claims.{name}.{field}",
                           f"{declared} differs from analysis.{field} {section}, which every "
                           "comparison is tested at; declare it as analysis.{field} (a claim "
                           "at its own level needs an experiment of its own: --reuse shares "
                           "the runs)".replace("{field}", field))


def _all_or_refuse(declared: tuple[Any, ...], every: Sequence[Any], key: str, what: str,
                   fail: Fail) -> None:
    """Refuse a claim's subset of the envs or thresholds: the report judges each claim on all
    of them (a subset is an experiment of its own, sharing runs with ``--reuse``)."""
    left = [str(v) for v in every if v not in declared]
    if left:
        raise fail(key, f"leaves out {', '.join(left)}, but the report judges every claim on "
                        f"every {what} of the experiment; list them all, or judge the subset "
                        "in an experiment of its own (--reuse shares the runs)")


def _subset(value: Any, allowed: Sequence[Any], key: str, what: str,
            fail: Fail) -> tuple[Any, ...]:
    """A non-empty list of distinct items of ``allowed`` (``what`` they are), as a tuple."""
    if (not isinstance(value, list) or not value or not all(v in allowed for v in value)
            or len(set(value)) != len(value)):
        listed = ", ".join(map(str, allowed)) or "none"
        raise fail(key, f"must be a non-empty list of distinct values among {what} "
                        f"({listed}), got {value!r}")
    return tuple(value)
