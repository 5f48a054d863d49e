"""Load an experiment YAML file and validate it into an ``Experiment`` (docs/design.md §4).

Every problem raises ``ExperimentError`` whose text is one line ``<file>: <key>: <what is
allowed>``; the CLI prints it after ``error:`` and exits 2 before any run starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import importlib
import itertools
import re
from pathlib import Path
from typing import Any

import yaml

from harness.ppo.config import PPOConfig, field_names
from harness.runs import trainers
from harness.runs.registration import check_levels, claim_plans
from harness.runs.spec import (
    METRICS,
    AnalysisSettings,
    EnvKwargs,
    Experiment,
    Variant,
    gym_id,
    schedule,
)
from harness.runs.validation import (
    ExperimentError,
    Fail,
    in_range,
)

TOP_KEYS = ("name", "envs", "seeds", "total_steps", "ppo", "matrix", "variants", "control",
            "analysis", "trainer")
REQUIRED_KEYS = ("name", "envs", "seeds", "total_steps")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
MAX_SEED = 2**63 - 1
"""Largest seed: the results' int64 ``seed`` column (torch's generators take up to 2**64-1)."""
MAX_SEEDS = 10_000
"""Most seeds per variant and env (a typo such as ``seeds: 100000000`` would fill memory)."""
MAX_STEPS = 10**10
"""Largest ``total_steps`` (or ``eval_every``): ~10 days of one worker at 10k steps/s."""
_FLOAT_FIELDS = frozenset(f.name for f in dataclasses.fields(PPOConfig)
                          if isinstance(f.default, float))


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate the experiment file at ``path``."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ExperimentError(source, "file", f"cannot be read ({e.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        # safe_load refuses python/* tags with a ConstructorError; say why in plain words.
        hint = "; only plain YAML values are allowed" if "constructor" in problem else ""
        raise ExperimentError(source, "yaml", f"{where}{problem}{hint}") from None
    return parse_experiment(raw, source)


def parse_experiment(raw: Any, source: str = "<experiment>") -> Experiment:
    """Validate the mapping ``raw`` (a parsed YAML file) into an ``Experiment``."""
    def fail(key: str, message: str) -> ExperimentError:
        return ExperimentError(source, key, message)

    if not isinstance(raw, dict):
        raise fail("(top level)", f"must be a mapping with keys {', '.join(TOP_KEYS)}")
    for key in raw:
        if key not in TOP_KEYS:
            raise fail(str(key), f"unknown key; allowed: {', '.join(TOP_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise fail(key, "is required")
    name, (envs, env_kwargs) = _name(raw["name"], fail), _envs(raw["envs"], fail)
    seeds, looks = _seeds(raw["seeds"], fail)
    total_steps, env_steps = _budgets(raw["total_steps"], envs, fail)
    base = _base_config(raw.get("ppo"), fail)
    if "trainer" in raw:  # top level (the default of every variant) or a matrix axis
        trainer = trainers.normalise(raw["trainer"])
        if not isinstance(trainer, str):
            raise fail("trainer", f"must be {trainers.ALLOWED}, got {trainer!r}")
        base = base.replace(trainer=trainer)
    variants, configs = _variants(raw.get("matrix"), raw.get("variants"), base, fail)
    thresholds = sorted({c.vf_clip_eps for c in configs.values() if c.value_clip == "max"})
    for label, cfg in configs.items():
        for env_id, steps in {**dict.fromkeys(envs, total_steps), **dict(env_steps)}.items():
            if steps < cfg.num_steps:
                raise fail("total_steps", f"must be >= num_steps={cfg.num_steps} (one rollout) "
                                          f"for variant {label} on {env_id}, got {steps}")
    analysis = _analysis(raw.get("analysis"), envs, thresholds, fail)
    if analysis.eval_every is not None and any(c.trainer != trainers.HARNESS
                                               for c in configs.values()):
        raise fail("analysis.eval_every", "only the harness trainer evaluates its policy; "
                                          "leave eval_every out with other trainers")
    return Experiment(
        name=name, envs=envs, seeds=seeds, total_steps=total_steps, ppo=base, variants=variants,
        control=_control(raw.get("control"), variants, configs, fail),
        axes=_axes(raw.get("matrix"), raw.get("variants")), source=source,
        analysis=analysis, env_steps=env_steps, looks=looks, env_kwargs=env_kwargs)


def experiment_to_dict(exp: Experiment) -> dict[str, Any]:
    """The resolved experiment as plain JSON-friendly data (for the manifest)."""
    return {"name": exp.name, "source": exp.source, "envs": list(exp.envs),
            "seeds": list(exp.seeds), "looks": list(exp.looks),
            "total_steps": ({**dict(exp.env_steps), "default": exp.total_steps} if exp.env_steps
                            else exp.total_steps), "ppo": exp.ppo.to_dict(),
            "variants": [{"label": v.label, "overrides": v.as_dict()} for v in exp.variants],
            "control": exp.control, "axes": list(exp.axes),
            "analysis": exp.analysis.to_record(),
            **({"env_kwargs": {env: dict(kwargs) for env, kwargs in exp.env_kwargs}}
               if exp.env_kwargs else {})}


def step_warnings(exp: Experiment) -> list[str]:
    """One line per ``num_steps`` of the variants that ``total_steps`` is not a multiple of:
    runs train whole rollouts, so they stop short of ``total_steps`` (not an error: users
    write round numbers)."""
    num_steps = sorted({exp.ppo.replace(**v.as_dict()).num_steps for v in exp.variants})
    warnings = []
    for total in dict.fromkeys(exp.steps(e) for e in exp.envs):
        for n in num_steps:
            updates = total // n
            if total % n:
                warnings.append(f"{exp.source}: total_steps: {total} is not a multiple of "
                                f"num_steps {n}: runs train {updates * n:,} steps ({updates} "
                                f"update{'s' if updates > 1 else ''})")
    return warnings


def format_value(value: Any) -> str:
    """How a PPO value appears in variant labels: YAML-like, no spaces."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def _name(value: Any, fail: Fail) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise fail("name", f"letters, digits, '-' and '_' only, got {value!r}")
    return value


def _envs(value: Any, fail: Fail) -> tuple[tuple[str, ...], tuple[tuple[str, EnvKwargs], ...]]:
    """The envs' labels (``env_label``), and the ``gym.make`` arguments of those given some."""
    if not isinstance(value, list) or not value:
        raise fail("envs", "must be a non-empty list of distinct Gymnasium env ids or "
                           f"{{id: <env id>, <gym.make argument>: <value>, ...}}, got {value!r}")
    labels: list[str] = []
    with_kwargs: list[tuple[str, EnvKwargs]] = []
    for i, entry in enumerate(value):
        key = "envs" if isinstance(entry, str) else f"envs[{i}]"
        env_id, kwargs = _env_entry(entry, key, fail)
        label = env_label(env_id, kwargs)
        if label in labels:
            raise fail(key, f"{label!r} is listed twice; envs must be distinct")
        check_env(env_id, kwargs, key, fail)
        labels.append(label)
        if kwargs:
            with_kwargs.append((label, kwargs))
    return tuple(labels), tuple(with_kwargs)


HARNESS_KWARGS = ("render_mode", "disable_env_checker")
"""``gym.make`` arguments an experiment may not give: the harness passes them itself (no env
checker; ``harness rollout --video`` renders) and they never change a run's numbers."""


def _env_entry(entry: Any, key: str, fail: Fail) -> tuple[str, EnvKwargs]:
    """An ``envs:`` entry as (id, arguments sorted by name): an id, or a mapping of ``id`` and
    ``gym.make`` arguments whose values are plain YAML scalars or lists of them."""
    if isinstance(entry, str):
        return entry, ()
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise fail(key, "must be a Gymnasium env id or a mapping {id: <env id>, <gym.make "
                        f"argument>: <value>, ...}}, got {entry!r}")
    kwargs = []
    for name, value in sorted((k, v) for k, v in entry.items() if k != "id"):
        if name in HARNESS_KWARGS:
            raise fail(f"{key}.{name}", "is set by the harness, not by the experiment")
        items = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, int | float | str) for v in items):
            raise fail(f"{key}.{name}", "must be a number, boolean, string or null, or a list "
                                        f"of them, got {value!r}")
        plain = [_yaml_float(v) for v in items]
        kwargs.append((name, tuple(plain) if isinstance(value, list) else plain[0]))
    return entry["id"], tuple(kwargs)


def _yaml_float(value: Any) -> Any:
    """A string that reads as a float (PyYAML reads 1e-3, without a dot, as one) as that float;
    any other value as it is."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
        return float(value)
    return value


def env_label(env_id: str, kwargs: EnvKwargs) -> str:
    """How results, tables and plots name an env: its id alone when it has no ``gym.make``
    arguments (so existing names and run ids stay), else the id and its arguments by name in
    brackets, values written as in variant labels:
    ``Ant-v5[include_cfrc_ext_in_observation=false]``. ``spec.gym_id`` recovers the id."""
    if not kwargs:
        return env_id
    return f"{env_id}[{','.join(f'{name}={format_value(v)}' for name, v in kwargs)}]"


def check_env(env_id: str, kwargs: EnvKwargs, key: str, fail: Fail) -> None:
    """Registered in Gymnasium (``module:EnvId-v0`` first imports the module that registers it)
    and, made with ``kwargs``, usable by the trainer."""
    import gymnasium  # deferred: importing it costs ~0.5 s, only needed for validation

    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise fail(key, f"{env_id!r}: cannot import module {module!r} ({e})") from None
    if name not in gymnasium.registry:
        close = difflib.get_close_matches(name, list(gymnasium.registry), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise fail(key, f"{env_id!r} is not a registered Gymnasium env id{hint}")
    problem = _env_problem(env_id, kwargs)
    if problem:
        raise fail(key, f"{env_label(env_id, kwargs)!r} {problem}")


@functools.cache  # one creation per env and process, however many files are validated
def _env_problem(env_id: str, kwargs: EnvKwargs) -> str | None:
    """Why the trainer cannot use ``env_id`` made with ``kwargs``, or None. Creating the env
    once (~0.2 s for the first MuJoCo env, which imports MuJoCo; no torch) is what finds a
    missing dependency (Box2D), arguments gymnasium rejects (a ``TypeError``) and the spaces
    before any worker starts."""
    import gymnasium as gym

    from harness.ppo.envs import make_env, spaces_problem

    try:
        env = make_env(env_id, **dict(kwargs))
    except (ImportError, gym.error.DependencyNotInstalled) as e:
        return f"needs a package that is not installed: {first_line(e)}"
    except Exception as e:  # whatever a third-party constructor raises, as one line
        return f"cannot be created ({type(e).__name__}: {first_line(e)})"
    problem = spaces_problem(env)
    env.close()
    return problem


def first_line(error: Exception) -> str:
    """An exception's message cut to its first line (for one-line ``error:`` reports)."""
    return (str(error).strip().splitlines() or [""])[0]


def _seeds(value: Any, fail: Fail) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The seeds, and the looks of a sequential design (``{min, max, step}``; else none)."""
    if _is_int(value) and 0 < value <= MAX_SEEDS:
        return tuple(range(value)), ()
    if (isinstance(value, list) and 0 < len(value) <= MAX_SEEDS
            and all(_is_int(s) and 0 <= s <= MAX_SEED for s in value)
            and len(set(value)) == len(value)):
        return tuple(value), ()
    if isinstance(value, dict) and set(value) == {"min", "max", "step"}:
        low, high, step = value["min"], value["max"], value["step"]
        if (all(_is_int(v) for v in (low, high, step)) and 2 <= low <= high <= MAX_SEEDS
                and step >= 1):
            return tuple(range(high)), tuple(schedule(low, high, step))
    raise fail("seeds", f"a positive count up to {MAX_SEEDS:,}, a non-empty list of at most "
                        f"{MAX_SEEDS:,} distinct non-negative integers up to 2**63-1, or "
                        f"{{min, max, step}} with 2 <= min <= max <= {MAX_SEEDS:,} and "
                        f"step >= 1, got {value!r}")


def _budgets(value: Any, envs: tuple[str, ...],
             fail: Fail) -> tuple[int, tuple[tuple[str, int], ...]]:
    """``total_steps``: one budget, or a mapping of envs (and ``default``) to budgets. An env
    is keyed by its label, or by its Gymnasium id (every env of that id without a key of its
    own). Returns the default and the envs' own budgets."""
    if not isinstance(value, dict):
        return _total_steps(value, fail), ()
    ids = {gym_id(e) for e in envs}
    for key in value:
        if key != "default" and key not in envs and key not in ids:
            raise fail(f"total_steps.{key}", f"not one of the experiment's envs "
                                             f"({', '.join(envs)}) or default")
    keys = {e: next((k for k in (e, gym_id(e)) if k in value), None) for e in envs}
    missing = [e for e, k in keys.items() if k is None]
    if missing and "default" not in value:
        raise fail("total_steps", f"needs a default for {', '.join(missing)}")
    steps = {k: _total_steps(v, fail, f"total_steps.{k}") for k, v in value.items()}
    per_env = {e: steps[k] for e, k in keys.items() if k is not None}
    default = steps.get("default", max(per_env.values()))
    return default, tuple((e, n) for e, n in per_env.items() if n != default)


def _total_steps(value: Any, fail: Fail, key: str = "total_steps") -> int:
    """A positive integer, also written as a whole float: ``1.0e+6``, or ``1e6``, which PyYAML
    reads as a string (YAML 1.1 floats need a dot and a signed exponent)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    steps = _positive_int(value, key, fail)
    if steps > MAX_STEPS:
        raise fail(key, f"must be at most {MAX_STEPS:.0e} env steps, got {steps:.3g}")
    return steps


def _positive_int(value: Any, key: str, fail: Fail) -> int:
    if not _is_int(value) or value <= 0:
        raise fail(key, f"must be a positive integer, got {value!r}")
    return value


def _base_config(value: Any, fail: Fail) -> PPOConfig:
    overrides = _overrides(value if value is not None else {}, "ppo", fail)
    return _build(PPOConfig(), overrides, "ppo", fail)


def _overrides(value: Any, key: str, fail: Fail) -> dict[str, Any]:
    """A mapping of PPO keys, checked and normalised (lists to tuples, YAML '3e-4' to float)."""
    if not isinstance(value, dict):
        raise fail(key, f"must be a mapping of PPO keys to values, got {value!r}")
    _check_keys(value, key, fail)
    return {name: _normalise(name, v) for name, v in value.items()}


def _check_keys(names: Any, key: str, fail: Fail) -> None:
    allowed = field_names()
    for name in names:
        if name not in allowed:
            raise fail(f"{key}.{name}", f"unknown PPO key; allowed: {', '.join(allowed)}")


def _normalise(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if name == "trainer":
        return trainers.normalise(value)
    if name in _FLOAT_FIELDS and not isinstance(value, bool):
        # PyYAML reads 3e-4 (no dot) as a string, and 1 as an int: make labels/hashes canonical.
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


def _build(base: PPOConfig, overrides: dict[str, Any], key: str, fail: Fail) -> PPOConfig:
    try:
        return base.replace(**overrides)
    except ValueError as e:
        field, _, message = str(e).partition(": ")
        where = key if field in overrides else "ppo"
        raise fail(f"{where}.{field}", message) from None


def _variants(matrix: Any, explicit: Any, base: PPOConfig,
              fail: Fail) -> tuple[tuple[Variant, ...], dict[str, PPOConfig]]:
    """Matrix product then explicit variants, eps collapsed when unclipped, duplicates dropped."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    if matrix is not None:
        candidates += [("matrix", o) for o in _matrix_product(matrix, fail)]
    if explicit is not None:
        if not isinstance(explicit, list) or not explicit:
            raise fail("variants", f"must be a non-empty list of mappings, got {explicit!r}")
        candidates += [(f"variants[{i}]", _overrides(v, f"variants[{i}]", fail))
                       for i, v in enumerate(explicit)]
    if not candidates:
        candidates = [("ppo", {})]
    variants: dict[tuple, Variant] = {}
    configs: dict[str, PPOConfig] = {}
    listed: dict[tuple, str] = {}  # explicit variants' settings -> their index
    for key, overrides in candidates:
        cfg = _build(base, overrides, key, fail)
        problem = trainers.trainer_problem(cfg)
        if problem:
            raise fail("trainer", problem)
        pairs = tuple(cfg.settings_that_matter(overrides).items())
        same = tuple(sorted(pairs, key=lambda kv: kv[0]))  # in whatever order written
        if same in listed:  # the matrix's collapsed eps, and its variants listed again, merge
            raise fail(key, f"repeats variants[{listed[same]}] (listed twice, or vf_clip_eps "
                            "given where value_clip does not clip)")
        if key != "matrix":
            listed[same] = key.removeprefix("variants[").removesuffix("]")
        if same not in variants:
            label = ",".join(f"{k}={format_value(trainers.label(v) if k == 'trainer' else v)}"
                             for k, v in pairs) or "default"
            if label in configs:  # two command templates of one name
                raise fail("trainer", f"two variants are labelled {label!r}; give each "
                                      "command template a name: of its own")
            variants[same] = Variant(label, pairs)
            configs[label] = cfg
    return tuple(variants.values()), configs


def _matrix_product(matrix: Any, fail: Fail) -> list[dict[str, Any]]:
    if not isinstance(matrix, dict) or not matrix:
        raise fail("matrix", f"must be a non-empty mapping of PPO keys to lists of values, "
                             f"got {matrix!r}")
    _check_keys(matrix, "matrix", fail)
    for name, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise fail(f"matrix.{name}", f"must be a non-empty list of values, got {values!r}")
    axes = [[(name, _normalise(name, v)) for v in values] for name, values in matrix.items()]
    return [dict(combo) for combo in itertools.product(*axes)]


def _axes(matrix: Any, explicit: Any) -> tuple[str, ...]:
    """Keys that vary, in first-appearance order (validation has already passed)."""
    keys = list(matrix or {})
    for overrides in explicit or []:
        keys += list(overrides)
    return tuple(dict.fromkeys(keys))


def _control(value: Any, variants: tuple[Variant, ...], configs: dict[str, PPOConfig],
             fail: Fail) -> str:
    """A label, or a mapping of PPO values that exactly one variant's config has."""
    labels = [v.label for v in variants]
    if value is None:
        return labels[0]
    if isinstance(value, str):
        if value not in labels:
            raise fail("control", f"must be one of the variant labels {labels}, got {value!r}")
        return value
    wanted = _overrides(value, "control", fail)
    matches = [label for label in labels
               if all(getattr(configs[label], k) == v for k, v in wanted.items())]
    if len(matches) != 1:
        found = f"matches {len(matches)} ({'; '.join(matches)})" if matches else "matches none"
        raise fail("control", f"must match exactly one variant of {labels}, {found}")
    return matches[0]


def _analysis(value: Any, envs: tuple[str, ...], thresholds: list[float],
              fail: Fail) -> AnalysisSettings:
    """The optional ``analysis:`` mapping; absent keys keep their defaults. ``claims`` may
    name the experiment's ``envs`` and ``thresholds`` (its ``max`` variants' eps)."""
    if value is None:
        return AnalysisSettings()
    keys = [f.name for f in dataclasses.fields(AnalysisSettings)]
    if not isinstance(value, dict):
        raise fail("analysis", f"must be a mapping with keys {', '.join(keys)}, got {value!r}")
    settings: dict[str, Any] = {}
    for key, item in value.items():
        if key not in keys:
            raise fail(f"analysis.{key}", f"unknown key; allowed: {', '.join(keys)}")
        if key == "metric":
            if item not in METRICS:
                raise fail("analysis.metric", f"must be one of {', '.join(METRICS)}, got {item!r}")
            settings[key] = item
            continue
        if key in ("final_window", "eval_episodes"):
            settings[key] = _positive_int(item, f"analysis.{key}", fail)
            continue
        if key == "eval_every":  # env steps, written like total_steps; null: no evaluation
            settings[key] = None if item is None else _total_steps(item, fail, f"analysis.{key}")
            continue
        if key == "claims":
            settings[key] = claim_plans(item, envs, thresholds, fail)
            continue
        settings[key] = in_range(item, key, f"analysis.{key}", fail)
    if settings.get("metric") == "eval" and settings.get("eval_every") is None:
        raise fail("analysis.metric", "eval scores the runs' evaluations: set "
                                      "analysis.eval_every (env steps between evaluations)")
    analysis = AnalysisSettings(**settings)
    check_levels(analysis.claims, analysis.margin, analysis.alpha, fail)
    return analysis


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
