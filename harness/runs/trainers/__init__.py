"""Plug-in trainers: who trains a run when the experiment's ``trainer:`` is not ``harness``.

A trainer is named by one string (``PPOConfig.trainer``, so it may be a matrix axis and the
run id covers it when it is not the default): ``harness`` (the population trainer,
``harness.ppo``), ``torchrl``, ``sb3``, ``module.path:function`` (a user's function, called
as ``function(run, log)``: ``contract``), or a command template, written in YAML as
``{command: "...", tensorboard: true, name: ...}`` and kept as its JSON (``command``).

This module only names and validates trainers: it imports no torch, so validation stays fast.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.ppo.config import PPOConfig

HARNESS = "harness"
"""The default: ``harness.ppo``'s population trainer (packs, checkpoints)."""
ADAPTERS = {"torchrl": "harness.runs.trainers.torchrl:train",
            "sb3": "harness.runs.trainers.sb3:train"}
"""Built-in adapters: trainer name -> ``module:function``."""
LIBRARIES = {"torchrl": "torchrl", "sb3": "stable_baselines3"}
"""The package each adapter needs."""
MODES = {"torchrl": ("none", "max"), "sb3": ("none", "clipped")}
"""The ``value_clip`` modes each adapter has a form for: ClipPPOLoss's ``clip_value`` is
Baselines' max form (torchrl/objectives/ppo.py, ``_clip_value_loss``); SB3's
``clip_range_vf`` is the MSE of the clipped prediction alone (stable_baselines3/ppo/ppo.py)."""
ALLOWED = "harness, torchrl, sb3, module.path:function, or {command: ..., tensorboard: true}"


def normalise(value: Any) -> Any:
    """A YAML ``trainer`` value as its canonical string: a command mapping becomes its JSON
    (sorted keys, so equal mappings give equal run ids); anything else is left to
    ``trainer_problem``."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def label(trainer: str) -> str:
    """How a trainer appears in variant labels, run ids and results columns: its name, or a
    command template's ``name`` (``command`` when it has none)."""
    if trainer.startswith("{"):
        with_name = json.loads(trainer)
        return str(with_name.get("name", "command")) if isinstance(with_name, dict) else trainer
    return trainer


def trainer_problem(cfg: PPOConfig) -> str | None:
    """Why ``cfg.trainer`` cannot train ``cfg``, as the rest of an ``error: <file>: trainer:``
    line; None when it can."""
    trainer = cfg.trainer
    if trainer == HARNESS:
        return None
    if trainer in ADAPTERS:
        if importlib.util.find_spec(LIBRARIES[trainer]) is None:
            return (f"{trainer} needs the package {LIBRARIES[trainer]}: pip install "
                    f"'vclip-harness[trainers]'")
        if cfg.value_clip not in MODES[trainer]:
            return (f"{trainer} has no form of value_clip {cfg.value_clip!r}; with {trainer} "
                    f"use {' or '.join(MODES[trainer])}")
        return None
    if ":" in trainer:
        return _import_problem(trainer)
    return f"must be {ALLOWED}, got {trainer!r}"


def resolve(trainer: str) -> Callable[..., None]:
    """The function that trains a run of ``trainer`` (not ``harness``): ``function(run, log)``."""
    return _load(ADAPTERS.get(trainer, trainer))


def _import_problem(path: str) -> str | None:
    try:
        _load(path)
    except ImportError as e:
        return f"cannot import {path!r} ({type(e).__name__}: {e})"
    except (AttributeError, TypeError) as e:
        return f"{path!r}: {e}"
    return None


@functools.cache  # validation and every run of a worker share one import
def _load(path: str) -> Callable[..., None]:
    """``module.path:function``, imported. Like ``python -m``, the current directory is on the
    path (the ``harness`` console script does not put it there), and loky workers inherit it."""
    module_name, _, name = path.partition(":")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    module = importlib.import_module(module_name)
    function = getattr(module, name, None)
    if function is None:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    if not callable(function):
        raise TypeError(f"{name!r} in {module_name!r} is not callable")
    return function
