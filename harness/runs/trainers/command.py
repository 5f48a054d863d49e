"""A command-template trainer: ``trainer: {command: "...", tensorboard: true, name: ...}``.

Each run runs the command (through the shell, in the current directory) with its
placeholders filled, then reads the scalars the script wrote under ``{tensorboard_dir}`` (a
fresh directory per run, searched recursively) into the run's tables by CleanRL's tag names
(``TAGS``). Placeholders: ``PLACEHOLDERS``; values are shell-quoted.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import string
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.ppo.config import field_names
from harness.runs.trainers.contract import Log, Run

PLACEHOLDERS = ("env_id", "seed", "total_steps", "tensorboard_dir", "run_id", *field_names())
"""What a template may name: the run's env, seed, budget, id and TensorBoard dir, and every
PPO key (booleans as ``true``/``false``, ``hidden_sizes`` as ``64,64``)."""
KEYS = ("command", "tensorboard", "name")
"""The keys of a template mapping."""
UPDATE_TAGS = {"losses/value_loss": ("value_loss", 2.0), "losses/policy_loss": ("policy_loss", 1.0),
               "losses/clipfrac": ("clip_fraction", 1.0), "losses/approx_kl": ("approx_kl", 1.0),
               "losses/entropy": ("entropy", 1.0),
               "losses/explained_variance": ("explained_variance", 1.0),
               "losses/value_clip_fraction": ("value_clip_fraction", 1.0),
               "charts/learning_rate": ("learning_rate", 1.0), "charts/SPS": ("sps", 1.0)}
"""CleanRL's ``ppo_continuous_action.py`` tag -> (our ``updates`` column, factor). CleanRL's
``v_loss`` is ``0.5 * mean(...)``; our ``value_loss`` has no 0.5 (docs/design.md §4)."""
EPISODE_TAGS = ("charts/episodic_return", "charts/episodic_length")
"""CleanRL's per-episode tags: ``episode_return`` and ``episode_length`` at ``global_step``."""
NAME = re.compile(r"[A-Za-z0-9_.-]+")


def template_problem(trainer: str) -> str | None:
    """Why the JSON of a template mapping is not a usable template, or None."""
    template = json.loads(trainer)
    unknown = sorted(set(template) - set(KEYS))
    if unknown:
        return f"unknown key {unknown[0]!r} in a command template; allowed: {', '.join(KEYS)}"
    command = template.get("command")
    if not isinstance(command, str) or not command.strip():
        return "a command template needs command: a non-empty string"
    if template.get("tensorboard") is not True:
        return "a command template needs tensorboard: true (its scalars are read from there)"
    if not NAME.fullmatch(str(template.get("name", "command"))):
        return f"name: letters, digits, '.', '-' and '_' only, got {template['name']!r}"
    try:
        named = [field for _, field, _, _ in string.Formatter().parse(command) if field]
    except ValueError as e:
        return f"command: {e}"
    bad = [field for field in named if field not in PLACEHOLDERS]
    if bad:
        return f"command: unknown placeholder {{{bad[0]}}}; allowed: {', '.join(PLACEHOLDERS)}"
    return None


def command_trainer(trainer: str) -> Callable[[Run, Log], None]:
    """The ``function(run, log)`` that runs the template of ``trainer`` (its JSON)."""
    return functools.partial(run_command, json.loads(trainer)["command"])


def run_command(command: str, run: Run, log: Log) -> None:
    """Run ``command`` for ``run`` and log the scalars it wrote."""
    with tempfile.TemporaryDirectory(prefix="tb-") as tb_dir:
        values = {**{k: _text(v) for k, v in run.config.items()}, "env_id": run.env_id,
                  "seed": run.seed, "total_steps": run.total_steps, "tensorboard_dir": tb_dir,
                  "run_id": run.run_id}
        line = command.format(**{k: shlex.quote(str(v)) for k, v in values.items()})
        done = subprocess.run(line, shell=True, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"the command exited with {done.returncode}: {last}")
        log_scalars(read_scalars(Path(tb_dir)), log)


def read_scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag under ``directory`` (any depth) -> its (step, value) events in order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, list[tuple[int, float]]] = {}
    for folder in sorted({p.parent for p in directory.rglob("events.out.tfevents.*")}):
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in events.Scalars(tag))
    return found


def log_scalars(scalars: dict[str, list[tuple[int, float]]], log: Log) -> None:
    """Episodes (paired in order at equal steps), then one update row per step of an update
    tag, each after the episodes that ended by its step."""
    returns, lengths = (scalars.get(tag, []) for tag in EPISODE_TAGS)
    episodes = [(step, value, length) for (step, value), (_, length)
                in zip(returns, lengths, strict=False)]
    rows: dict[int, dict[str, float]] = {}
    for tag, (column, factor) in UPDATE_TAGS.items():
        for step, value in scalars.get(tag, []):
            rows.setdefault(step, {})[column] = value * factor
    if not rows:
        raise RuntimeError(f"the command wrote none of the update tags {', '.join(UPDATE_TAGS)}")
    pending = sorted(episodes)
    for step in sorted(rows):
        while pending and pending[0][0] <= step:
            at, value, length = pending.pop(0)
            log.episode(global_step=at, episode_return=value, episode_length=int(length))
        log.update(global_step=step, **rows[step])


def _text(value: object) -> object:
    """A PPO value as a command-line word: booleans as ``true``/``false``, lists joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return value
