"""Which comparisons an experiment has: its (variant, control) pairs, the primary ones the
claims are judged on, Baselines' own variant, and whether each clipped variant's clip acts.

Known from the experiment alone (and, for the clips' activity, its updates), so the planner and
the look loop ask here long before any verdict (``claims``). A pair compares variants that differ
only in the value clip, so that e.g. reward normalisation is never confounded with clipping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.ppo.config import PPOConfig
from harness.runs.spec import Experiment

if TYPE_CHECKING:  # plan and the look loop import this module without pandas
    import pandas as pd

BASELINES_EPS = 0.2
"""ppo2 clips the value update with its policy cliprange, 0.2."""


def unclipped_reference(label: str, configs: dict[str, PPOConfig]) -> str | None:
    """The unclipped variant equal to ``label`` in every setting but the value clip."""
    cfg = configs[label]
    if not cfg.clips_value:
        return None
    key = cfg.without_value_clip()
    return next((u for u, c in configs.items()
                 if not c.clips_value and c.without_value_clip() == key), None)


def comparison_pairs(exp: Experiment) -> list[tuple[str, str]]:
    """(variant, control) pairs of the report: each variant against the variant that has the
    control's value clip and the variant's own value of every other axis (with no other axis,
    that is the experiment's control), then each clipped variant against its matched
    unclipped variant when that is another pair. Comparing across another axis (e.g. max
    without reward normalisation against none with it) would confound the two settings, so
    such pairs are not computed, and a variant that differs from the control only outside the
    value clip has nothing to be compared with."""
    configs = exp.configs
    control = configs[exp.control]
    pairs = []
    for label, cfg in configs.items():
        ref = next((c for c, other in configs.items() if other.without_value_clip() ==
                    cfg.without_value_clip() and _clip(other) == _clip(control)), None)
        if ref is not None and ref != label:
            pairs.append((label, ref))
    return pairs + [p for p in primary_pairs(exp) if p not in pairs]


def _clip(cfg: PPOConfig) -> tuple[str, float]:
    """The value-clip part of a config (eps only where it clips)."""
    return cfg.value_clip, cfg.applied_vf_clip_eps


def baselines_variants(exp: Experiment) -> list[str]:
    """Variants set as Baselines ppo2: max-form clip at eps 0.2 (with reward normalisation,
    when the experiment has variants both with and without it)."""
    configs = exp.configs
    found = [v for v, c in configs.items()
             if c.value_clip == "max" and c.vf_clip_eps == BASELINES_EPS]
    normalised = [v for v in found if configs[v].normalize_reward]
    return normalised or found


def primary_pairs(exp: Experiment) -> list[tuple[str, str]]:
    """The (clipped, matched unclipped) pairs the claims are judged on: the primary family."""
    configs = exp.configs
    return [(v, ref) for v in configs if (ref := unclipped_reference(v, configs)) is not None]


CLIP_ACTIVITY_COLUMNS = ["env_id", "variant", "vf_clip_eps", "clip_fraction", "active"]
ALL_ENVS = "all"
"""``clip_activity``'s env_id for the mean over every env: the row the rule reads."""


def clip_activity(exp: Experiment, updates: pd.DataFrame) -> pd.DataFrame:
    """Does each clipped variant's clip act? Per env and over all envs (``ALL_ENVS``): the
    mean over runs of each run's mean ``value_clip_fraction`` after its first update (the
    first clips about half the predictions whatever eps, since the value head starts far
    from the returns), and ``active``: at least ``analysis.active_clip``
    (``CLIP_ACTIVITY_COLUMNS``). A clip that acts on 0.02% of predictions (``max`` at eps 1
    with reward normalisation) is the unclipped loss in all but rounding."""
    import pandas as pd  # here: the planner imports this module without pandas

    configs = exp.configs
    clipped = [v for v, c in configs.items() if c.clips_value]
    later = updates[(updates["update"] > 1) & updates["variant"].isin(clipped)]
    per_run = later.groupby(["env_id", "variant", "run_id"], sort=False)[
        "value_clip_fraction"].mean()
    per_env = per_run.groupby(level=["env_id", "variant"], sort=False).mean().reset_index()
    overall = per_run.groupby(level="variant", sort=False).mean().reset_index()
    frame = pd.concat([per_env, overall.assign(env_id=ALL_ENVS)], ignore_index=True)
    frame = frame.rename(columns={"value_clip_fraction": "clip_fraction"})
    frame["vf_clip_eps"] = [configs[v].vf_clip_eps for v in frame["variant"]]
    frame["active"] = frame["clip_fraction"] >= exp.analysis.active_clip
    return frame[CLIP_ACTIVITY_COLUMNS]


def inactive_clips(exp: Experiment, updates: pd.DataFrame) -> list[str]:
    """Clipped variants whose clip does not act (``clip_activity`` over all envs below
    ``analysis.active_clip``): their loss is the unclipped one up to rounding, so their
    comparisons measure chance, not clipping, and C2 and C3 leave them out. With reward
    normalisation, ``max`` at eps 1 and 5 are such."""
    activity = clip_activity(exp, updates)
    overall = activity[activity["env_id"] == ALL_ENVS]
    idle = set(overall.loc[~overall["active"], "variant"])
    return [v for v in exp.configs if v in idle]
