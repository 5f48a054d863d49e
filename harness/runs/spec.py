"""The value objects passed between stages: an experiment, its variants and its runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from harness.ppo.agent import AgentSpec, EvalSchedule
from harness.ppo.config import PPOConfig


@dataclass(frozen=True)
class Variant:
    """One point of the experiment matrix: PPO overrides on top of the experiment's ``ppo:``."""

    label: str
    """Readable, unique name, e.g. ``value_clip=max,vf_clip_eps=0.2`` (``default`` if empty)."""
    overrides: tuple[tuple[str, Any], ...]
    """The (key, value) pairs that define this variant, in axis order."""

    def as_dict(self) -> dict[str, Any]:
        """The overrides as a dict."""
        return dict(self.overrides)


EnvKwargs = tuple[tuple[str, Any], ...]
"""``gym.make`` arguments of an env: (name, value) pairs in the order given, lists as tuples."""


def gym_id(env: str) -> str:
    """The Gymnasium id of an env as results name it: its label up to the ``[`` that opens its
    arguments (``Ant-v5[include_cfrc_ext_in_observation=false]`` -> ``Ant-v5``); Gymnasium
    ids never contain one (``experiment.env_label``)."""
    return env.partition("[")[0]


def env_family(env: str) -> str:
    """An env label's task name without its version and arguments (``Ant-v5[...]`` ->
    ``Ant``), as published scores and spreads are keyed."""
    return env.split("-v")[0]


METRICS = ("final", "auc", "eval")
"""Scores a comparison can be judged on: the final score (mean return of the last training
episodes), the area under the learning curve (mean return over training), or the mean return
of the last evaluation of the deterministic policy (needs ``eval_every``)."""


def schedule(minimum: int, maximum: int, step: int) -> list[int]:
    """Runs per arm at each look of a sequential design: ``minimum``, ``minimum + step``, ...
    up to ``maximum`` (which is always the last look)."""
    looks = list(range(minimum, maximum, step))
    return [*looks, maximum] if not looks or looks[-1] != maximum else looks


CLAIMS = ("C1", "C1-stability", "C2", "C3", "C4")
"""The claims an experiment may pre-register (``analysis.claims``)."""
ESTIMANDS = ("random", "fixed")
"""A claim's primary estimand: the random-effects mean over envs (a claim about tasks), or the
fixed-effect average over the experiment's envs ("on these envs")."""


@dataclass(frozen=True)
class ClaimPlan:
    """One claim's pre-registered analysis (``analysis.claims.<claim>``), declared in the
    experiment file before its runs train, so the estimand is not chosen after the data."""

    estimand: str
    """``random`` (effects over the envs: a claim about tasks) or ``fixed`` ("on these
    envs"); see ``ESTIMANDS``."""
    envs: tuple[str, ...] = ()
    """The envs (labels) it is judged on, as declared: every env of the experiment (the
    report judges each claim on all; ``registration`` refuses a subset); empty: not stated."""
    margin: float | None = None
    """Its smallest effect of interest, as declared: ``analysis.margin`` (``registration``
    refuses another); None: not stated."""
    alpha: float | None = None
    """Its level, as declared: ``analysis.alpha`` (another is refused); None: not stated."""
    thresholds: tuple[float, ...] = ()
    """C3 only: the ``vf_clip_eps`` values of ``max`` clipping it is judged on, as declared:
    every one the experiment has (a subset is refused); empty: not stated. A threshold
    counts only if its clip acts (``active_clip``)."""


@dataclass(frozen=True)
class AnalysisSettings:
    """How the report judges comparisons, and the evaluations it may score: the experiment
    file's ``analysis:`` section."""

    margin: float = 0.10
    """Smallest effect of interest, relative to the control's mean score: effects within
    +-margin count as no effect (equivalence), and power is computed for this effect."""
    alpha: float = 0.05
    """Level of every test; family-wise within each Holm family (primary, secondary)."""
    power: float = 0.8
    """Power at which ``mde`` and ``seeds_needed`` are computed."""
    metric: str = "final"
    """The primary score the claims are judged on: ``final``, ``auc`` or ``eval`` (see
    ``METRICS``)."""
    final_window: int = 100
    """Episodes averaged for the final score (openrlbenchmark's 100); runs with fewer are
    scored on their last 10% of env steps."""
    eval_every: int | None = None
    """Env steps between evaluations of each run's deterministic policy (``evals/``); None:
    no evaluation. It never changes the training numbers, so not the run ids either."""
    eval_episodes: int = 10
    """Episodes per evaluation (rl-zoo3's ``n_eval_episodes``)."""
    active_clip: float = 0.01
    """Least mean value clip fraction over training (after the first update, which clips
    about half the predictions) for a clipped variant to count as clipping, e.g. a C3
    threshold or one of C2's forms (``analysis.pairs.inactive_clips``)."""
    spike_factor: float = 10.0
    """C1-stability's value-loss spike: an update whose plain squared error is at least this
    many times the median of the previous ``stability.SPIKE_WINDOW`` (10: 3.2 times the RMS
    error). Chosen on the published runs, where a factor 3 fired on ordinary noise (Ant,
    ~0.1% of updates) while 10 fires only where the loss jumps by an order of magnitude
    (Hopper, Walker2d); a study declares it before its runs."""
    claims: tuple[tuple[str, ClaimPlan], ...] = ()
    """The pre-registration: each declared claim (of ``CLAIMS``) and its plan, in file order."""

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-friendly data (for the manifest), claims as a mapping."""
        return {**dataclasses.asdict(self),
                "claims": {name: dataclasses.asdict(plan) for name, plan in self.claims}}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AnalysisSettings:
        """The settings ``to_record`` wrote; keys an older manifest lacks keep defaults."""
        claims = tuple((name, ClaimPlan(**{k: tuple(v) if isinstance(v, list) else v
                                           for k, v in plan.items()}))
                       for name, plan in record.get("claims", {}).items())
        return cls(**{**record, "claims": claims})

    @property
    def evaluation(self) -> EvalSchedule | None:
        """The runs' evaluation schedule, or None."""
        return None if self.eval_every is None else EvalSchedule(self.eval_every,
                                                                 self.eval_episodes)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    name: str
    """Directory name under the results dir."""
    envs: tuple[str, ...]
    """Gymnasium env ids; an env given ``gym.make`` arguments by its label
    (``experiment.env_label``)."""
    seeds: tuple[int, ...]
    """Seeds run for every env and variant."""
    total_steps: int
    """Env steps per run (of the envs without their own budget in ``env_steps``)."""
    ppo: PPOConfig
    """Base config shared by every run (defaults + the file's ``ppo:``)."""
    variants: tuple[Variant, ...]
    """Expanded matrix and explicit variants, in order, duplicates removed."""
    control: str
    """Label of the variant every other one is compared with."""
    axes: tuple[str, ...] = ()
    """PPO keys that vary between variants (each gets its own results column)."""
    source: str = ""
    """Path of the YAML file it came from (for error messages and the manifest)."""
    analysis: AnalysisSettings = field(default=AnalysisSettings())
    """How the report judges comparisons."""
    looks: tuple[int, ...] = ()
    """Sequential seeds (``seeds: {min, max, step}``): the runs per arm at which the primary
    comparisons are looked at, adding seeds only where undecided; empty for a fixed design,
    where every seed is trained."""
    env_steps: tuple[tuple[str, int], ...] = ()
    """Envs with a budget of their own, e.g. 2M steps for Ant and Humanoid as in
    Andrychowicz et al. 2021 (``total_steps: {Ant-v5: 2000000, default: 1000000}``)."""

    env_kwargs: tuple[tuple[str, EnvKwargs], ...] = ()
    """The ``gym.make`` arguments of the envs given some, by label (none for the others)."""

    def steps(self, env_id: str) -> int:
        """Env steps per run of ``env_id``."""
        return dict(self.env_steps).get(env_id, self.total_steps)

    def kwargs(self, env: str) -> EnvKwargs:
        """The ``gym.make`` arguments of the env named ``env`` in ``envs``."""
        return dict(self.env_kwargs).get(env, ())

    @cached_property
    def configs(self) -> dict[str, PPOConfig]:
        """Each variant's full PPO config (``ppo:`` plus its overrides), by label, in order;
        built once."""
        return {v.label: self.ppo.replace(**v.as_dict()) for v in self.variants}


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one training run's numbers."""

    run_id: str
    """Stable readable id: env, variant, seed and a short hash of the resolved config."""
    experiment: str
    """Experiment name."""
    env_id: str
    """The env as the results name it: its Gymnasium id, or its label when it is given
    ``gym.make`` arguments (``Ant-v5[include_cfrc_ext_in_observation=false]``)."""
    seed: int
    """Seeds the env, network init, action noise and minibatch order."""
    variant: str
    """The variant's label."""
    total_steps: int
    """Env steps for this run."""
    ppo: PPOConfig
    """Fully resolved config."""
    columns: tuple[tuple[str, Any], ...] = field(default=())
    """Extra results columns: one per matrix axis (name, value)."""
    evaluation: EvalSchedule | None = None
    """When to evaluate the deterministic policy (``analysis.eval_every``); None: never. Not
    in the run id: it does not change the training numbers."""
    env_kwargs: EnvKwargs = ()
    """``gym.make`` arguments of the env (in the run id's hash when given)."""

    @property
    def agent(self) -> AgentSpec:
        """What the trainer needs of this run (the rest names it in the results)."""
        return AgentSpec(gym_id(self.env_id), self.seed, self.total_steps, self.ppo,
                         self.evaluation, self.env_kwargs)
