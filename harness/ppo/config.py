"""PPO hyper-parameters: one frozen dataclass, defaults = Baselines ppo2 ``mujoco()`` = CleanRL.

Field names follow CleanRL's ``ppo_continuous_action.Args`` so that experiment files read like
CleanRL command lines. ``validate()`` runs on construction and names the bad field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

VALUE_CLIP_MODES = ("none", "max", "clipped", "max_signed")
TRUNCATION_MODES = ("terminal", "bootstrap")


@dataclass(frozen=True)
class PPOConfig:
    # Adding a field: give it a default that reproduces the behaviour from before it existed,
    # and do NOT add it to RUN_ID_FIELDS below. Run ids then cover it only where an experiment
    # sets another value, so finished results keep their ids and stay done.
    num_steps: int = 2048
    """Environment steps per agent per rollout (ppo2 ``nsteps``)."""
    num_minibatches: int = 32
    """Minibatches per epoch (ppo2 ``nminibatches``)."""
    update_epochs: int = 10
    """Passes over each rollout (ppo2 ``noptepochs``)."""
    learning_rate: float = 3e-4
    """Adam step size at the first update."""
    anneal_lr: bool = True
    """Anneal the step size linearly to 0 over training (ppo2 ``lr=lambda f: 3e-4 * f``)."""
    adam_eps: float = 1e-5
    """Adam epsilon; ppo2 and CleanRL use 1e-5, not torch's 1e-8."""
    gamma: float = 0.99
    """Discount factor (also used by the reward scaler)."""
    gae_lambda: float = 0.95
    """GAE(lambda) parameter."""
    norm_adv: bool = True
    """Normalise advantages per minibatch (ppo2 ``model.train``)."""
    clip_coef: float = 0.2
    """Policy ratio clip epsilon (ppo2 ``cliprange``)."""
    value_clip: str = "max"
    """Value-function clipping: none | max (Baselines/TorchRL) | clipped (SB3 ``clip_range_vf``) |
    max_signed (Engstrom et al.'s released code: the max of the signed residuals, squared)."""
    vf_clip_eps: float = 0.2
    """Value clip range in value units; ppo2 reuses ``cliprange`` (0.2). Ignored when none."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient; the loss is ``0.5 * vf_coef * value_loss`` as in ppo2."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip per agent (``tf.clip_by_global_norm``)."""
    normalize_obs: bool = True
    """Running mean/std observation normalisation, clipped to +-10 (VecNormalize)."""
    normalize_reward: bool = True
    """Scale rewards by the running std of the discounted return, clipped to +-10 (VecNormalize)."""
    truncation: str = "terminal"
    """Time-limit ends: terminal (ppo2/CleanRL treat them as deaths) | bootstrap (SB3)."""
    hidden_sizes: tuple[int, ...] = field(default=(64, 64))
    """Hidden layer widths of the separate policy and value MLPs (tanh)."""
    trainer: str = "harness"
    """Who trains the run (``harness.runs.trainers``): harness (this package's population
    trainer) | torchrl | sb3 | ``module.path:function`` | a command template (as JSON)."""

    def __post_init__(self) -> None:
        if isinstance(self.hidden_sizes, list):
            object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        self.validate()

    @property
    def minibatch_size(self) -> int:
        """Samples per minibatch per agent."""
        return self.num_steps // self.num_minibatches

    @property
    def clips_value(self) -> bool:
        """Whether the value update is clipped at all."""
        return self.value_clip != "none"

    @property
    def applied_vf_clip_eps(self) -> float:
        """The clip range in force: ``vf_clip_eps``, or NaN when unclipped (the results column)."""
        return self.vf_clip_eps if self.clips_value else math.nan

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.default)
        _positive(self, "num_steps", "num_minibatches", "update_epochs", "learning_rate",
                  "adam_eps", "clip_coef", "max_grad_norm")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("ent_coef", "vf_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)!r}")
        if self.num_steps % self.num_minibatches:
            raise ValueError(f"num_minibatches: must divide num_steps={self.num_steps}, "
                             f"got {self.num_minibatches}")
        if self.value_clip not in VALUE_CLIP_MODES:
            raise ValueError(f"value_clip: must be one of {', '.join(VALUE_CLIP_MODES)}, "
                             f"got {self.value_clip!r}")
        if self.clips_value and not self.vf_clip_eps > 0:
            raise ValueError(f"vf_clip_eps: must be > 0 when value_clip is {self.value_clip!r}, "
                             f"got {self.vf_clip_eps!r}")
        if self.truncation not in TRUNCATION_MODES:
            raise ValueError(f"truncation: must be one of {', '.join(TRUNCATION_MODES)}, "
                             f"got {self.truncation!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes: must be a non-empty list of positive integers, "
                             f"got {list(self.hidden_sizes)!r}")

    def replace(self, **overrides: Any) -> PPOConfig:
        """A copy with ``overrides`` applied; unknown keys raise ``ValueError``."""
        unknown = sorted(set(overrides) - set(field_names()))
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown PPO key; allowed: {', '.join(field_names())}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-friendly dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d


RUN_ID_FIELDS = ("num_steps", "num_minibatches", "update_epochs", "learning_rate", "anneal_lr",
                 "adam_eps", "gamma", "gae_lambda", "norm_adv", "clip_coef", "value_clip",
                 "vf_clip_eps", "ent_coef", "vf_coef", "max_grad_norm", "normalize_obs",
                 "normalize_reward", "truncation", "hidden_sizes")
"""The fields a run id covers whatever their values (``harness.runs.expand.config_hash``): all
of ``PPOConfig``'s when ids were frozen. Never edit: every finished run would get a new id and
``harness run`` would train it again. A field added later is covered only when it differs from
its default."""


def field_names() -> tuple[str, ...]:
    """The PPO keys an experiment file may set."""
    return tuple(f.name for f in dataclasses.fields(PPOConfig))


def _check_type(name: str, value: Any, default: Any) -> None:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        allowed = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        allowed = "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        allowed = "a finite number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        allowed = "a string"
    else:  # hidden_sizes
        ok = isinstance(value, tuple) and all(
            isinstance(h, int) and not isinstance(h, bool) for h in value)
        allowed = "a list of integers"
    if not ok:
        raise ValueError(f"{name}: must be {allowed}, got {value!r}")


def _positive(cfg: PPOConfig, *names: str) -> None:
    for name in names:
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name}: must be > 0, got {getattr(cfg, name)!r}")
