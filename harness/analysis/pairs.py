"""Which comparisons an experiment has: its (variant, control) pairs, the primary ones the
claims are judged on, Baselines' own variant, and the clipped variants whose clip never acted.

Known from the experiment alone (and, for inactive clips, its updates), so the planner and the
look loop ask here long before any verdict (``claims``). A pair compares variants that differ
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


def inactive_clips(exp: Experiment, updates: pd.DataFrame) -> list[str]:
    """Clipped variants whose clip never acted (value clip fraction 0 in every update of every
    run in ``updates``): their loss is the unclipped one, so their comparisons measure chance
    (bit-level rounding in ``v_old + (v - v_old)`` still sends their runs apart), not
    clipping. With reward normalisation, ``max`` at eps 5 is one."""
    configs = exp.configs
    clipped = updates[updates["variant"].map(
        lambda v: configs[v].clips_value if v in configs else False).astype(bool)]
    fractions = clipped.groupby("variant", sort=False)["value_clip_fraction"].max()
    return [v for v, top in fractions.items() if top == 0]
