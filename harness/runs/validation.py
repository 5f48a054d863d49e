"""What experiment validation reports and the value checks shared by its modules
(``experiment`` and ``registration``): the one-line error and YAML numbers in a range."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class ExperimentError(ValueError):
    """A bad experiment file; ``str()`` is ``<file>: <key>: <what is allowed>``."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}")


Fail = Callable[[str, str], ExperimentError]


ANALYSIS_RANGES = {"margin": (0.0, 1.0), "alpha": (0.0, 0.5), "power": (0.0, 1.0),
                   "active_clip": (0.0, 1.0), "spike_factor": (1.0, math.inf)}
"""Open intervals the numeric ``analysis:`` keys must lie in."""


def in_range(item: Any, name: str, key: str, fail: Fail) -> float:
    """``item`` as a number inside ``ANALYSIS_RANGES[name]``; else fail at ``key``."""
    low, high = ANALYSIS_RANGES[name]
    number = yaml_number(item)
    if number is None or not low < number < high:
        raise fail(key, f"must be a number in ({low:g}, {high:g}), got {item!r}")
    return number


def yaml_number(value: Any) -> float | None:
    """A YAML number as a float (PyYAML reads 1e-1 without a dot as a string); else None."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
