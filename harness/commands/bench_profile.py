"""``harness bench --profile``: where a pack's time goes, per env step of one agent.

One ``train_pack`` of default-config agents, with timers wrapped around the functions that
make up a step (the rollout's MuJoCo calls, the thin stepper, ``PackEnv.step``, the rollout's
numpy forward, GAE, the update and its parts). The phases are disjoint: each is its wrapper's
time less the wrapped phases inside it. Wrapping adds about 0.2 us per timed call, so the
table is where the time goes, and the bench's plain rows are how fast it goes.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

PHASES = ("physics", "stepper", "envs", "rollout forward", "rollout loop", "gae",
          "update matmuls", "update loss", "update optimiser", "update gather", "training loop")
"""Disjoint phases of a step, in the order a step spends them."""
HEADERS = dict(zip(PHASES, ("physics", "stepper", "envs", "r.fwd", "r.loop", "gae", "u.matmul",
                            "u.loss", "u.optim", "u.gather", "loop"), strict=True))
"""Each phase's column header."""

TIMED = {  # phase name -> (module, attribute): the wrapped functions
    "mj": ("harness.ppo.mjstep.steppers", "mujoco"),
    "stepper": ("harness.ppo.mjstep.steppers", "ThinStepper.step"),
    "gym stepper": ("harness.ppo.mjstep.steppers", "GymStepper.step"),
    "envs": ("harness.ppo.envs", "PackEnv.step"),
    "rollout forward": ("harness.ppo.collect", "numpy_mlp"),
    "collect": ("harness.ppo.trainer", "collect"),
    "gae": ("harness.ppo.trainer", "gae"),
    "update": ("harness.ppo.trainer", "ppo_update"),
    "forward": ("harness.ppo.update", "mlp_forward"),
    "backward": ("harness.ppo.update", "mlp_backward"),
    "gradient": ("harness.ppo.update", "minibatch_gradient"),
    "clip": ("harness.ppo.update", "clip_grad_norm"),
    "adam": ("harness.ppo.update", "adam_step"),
}


def phase_profile(env_id: str, steps: int, pack_size: int) -> dict[str, Any]:
    """Microseconds per agent-step in each of ``PHASES``, and in all, of one ``train_pack``
    of ``pack_size`` default-config agents for ``steps`` env steps each. Patches modules:
    call it in a process of its own (``bench.measure`` does)."""
    from harness.ppo.agent import AgentSpec
    from harness.ppo.config import PPOConfig
    from harness.ppo.trainer import train_pack

    seconds: dict[str, float] = collections.defaultdict(float)
    with _timers(seconds):
        start = time.perf_counter()
        train_pack([AgentSpec(env_id, k, steps, PPOConfig()) for k in range(pack_size)])
        total = time.perf_counter() - start
    t = seconds
    gradient_rest = t["gradient"] - t["forward"] - t["backward"]
    spent = {"physics": t["mj"],
             "stepper": t["stepper"] + t["gym stepper"] - t["mj"],
             "envs": t["envs"] - t["stepper"] - t["gym stepper"],
             "rollout forward": t["rollout forward"],
             "rollout loop": t["collect"] - t["envs"] - t["rollout forward"],
             "gae": t["gae"],
             "update matmuls": t["forward"] + t["backward"],
             "update loss": gradient_rest,
             "update optimiser": t["clip"] + t["adam"],
             "update gather": t["update"] - t["gradient"] - t["clip"] - t["adam"],
             "training loop": total - t["collect"] - t["gae"] - t["update"]}
    per_step = 1e6 / (pack_size * steps)
    return {"env": env_id, "pack": pack_size, "total_us": total * per_step,
            "phases_us": {name: spent[name] * per_step for name in PHASES}}


@contextlib.contextmanager
def _timers(seconds: dict[str, float]) -> Iterator[None]:
    """Wrap every ``TIMED`` function to add its wall time to ``seconds``; unwrap after."""
    import importlib

    import mujoco

    undo = []
    for phase, (module_name, attribute) in TIMED.items():
        module = importlib.import_module(module_name)
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name)
        if phase == "mj":  # the stepper calls mujoco.mj_step/mj_rnePostConstraint by name
            wrapped: Any = type("TimedMujoco", (), {
                "mj_step": staticmethod(_timed(mujoco.mj_step, seconds, phase)),
                "mj_rnePostConstraint": staticmethod(
                    _timed(mujoco.mj_rnePostConstraint, seconds, phase))})
        else:
            wrapped = _timed(original, seconds, phase)
        setattr(owner, name, wrapped)
        undo.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def _timed(fn: Callable[..., Any], seconds: dict[str, float], phase: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[phase] += time.perf_counter() - start
    return timed


def format_profiles(profiles: list[dict[str, Any]]) -> str:
    """One line per env: microseconds per agent-step in each phase, then the total and the
    share of it that is physics."""
    lines = [f"where a pack of {profiles[0]['pack']} spends one agent's env step, in us "
             "(rollout: forward, loop; update: matmuls, loss, optimiser, gather; loop: the "
             "training loop's own)",
             f"{'env':26} " + " ".join(f"{HEADERS[n]:>8}" for n in PHASES)
             + f" {'total':>8} {'physics':>8}"]
    for p in profiles:
        phases = p["phases_us"]
        lines.append(f"{p['env']:26} " + " ".join(f"{phases[n]:8.2f}" for n in PHASES)
                     + f" {p['total_us']:8.2f} {phases['physics'] / p['total_us']:8.0%}")
    return "\n".join(lines)
