"""Reference scores per env: a uniformly random policy's mean return, measured once and
committed with the package, beside a published PPO score (rliable's "random" and "expert"
anchors; Atari's human-normalised scores are built the same way).

They anchor two things: scores normalised to a common scale for the aggregates over envs
(0 = random, 1 = the published PPO score), and the effect scale of the random-effects
analysis, the log ratio of *gains over a random policy*, on which envs with negative returns
(Reacher, Pusher) or a negative random return (HalfCheetah) join one average.

``python -m harness.runs.references [ENV ...]`` measures the random scores of the given envs
(default: ``ENVS``, minutes on one core) and writes their rows into ``reference_scores.csv``,
keeping the others; ``tests/test_references.py`` re-measures one env and checks the file.
Light on purpose: gymnasium and numpy are imported only to measure.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.runs.spec import env_family

PATH = Path(__file__).with_name("reference_scores.csv")
"""The committed table (one row per env label)."""
EPISODES = 100
"""Random-policy episodes per env (the mean's standard error is in the file)."""
SEED = 0
"""Episode ``i`` resets with seed ``SEED + i``; actions come from a generator seeded alike."""

REFERENCE_RETURNS = {  # env family: (CleanRL v4 mean, CleanRL std, Baselines ppo2)
    "Hopper": (2382.86, 271.74, 2316.16),
    "Walker2d": (2287.95, 571.78, 3424.95),
    "HalfCheetah": (1442.64, 46.03, 1668.58),
    "InvertedPendulum": (963.09, 22.20, 809.43),
    "Humanoid": (716.11, 49.08, None),
    "InvertedDoublePendulum": (None, None, 7102.91),
    "Swimmer": (None, None, 111.19),
    "Reacher": (None, None, -6.71),
}
"""Final returns at 1M steps: CleanRL ppo_continuous_action (MuJoCo v4, 3 seeds, mean and
std) and OpenAI Baselines ppo2 benchmarks_mujoco1M (6 seeds, mean); docs/design.md §5."""
MUJOCO_V5 = ("Ant-v5", "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
             "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
             "Swimmer-v5", "Walker2d-v5")
"""Gymnasium's MuJoCo v5 envs: part C1's population."""
OTHER_TASKS = ("Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3",
               "BipedalWalker-v3", "BipedalWalkerHardcore-v3",
               "gymnasium_robotics:AdroitHandDoor-v1", "gymnasium_robotics:AdroitHandHammer-v1",
               "gymnasium_robotics:AdroitHandPen-v1", "gymnasium_robotics:AdroitHandRelocate-v1",
               "gymnasium_robotics:PointMaze_UMazeDense-v3",
               "gymnasium_robotics:AntMaze_UMazeDense-v5")
"""The other tasks of the wider population (``experiments/population_wide.yaml``); a random
policy's return does not depend on what the env observes, so AntMaze is measured as it is
built by default."""
ENVS = MUJOCO_V5 + OTHER_TASKS
"""The envs measured by default."""


@dataclass(frozen=True)
class Reference:
    """One env's anchors."""

    env_id: str
    """The env's id (its label, when measured with arguments)."""
    random_mean: float
    """Mean return of a policy drawing each action uniformly from the action space."""
    random_se: float
    """Standard error of ``random_mean`` over its ``episodes``."""
    episodes: int
    """Random-policy episodes measured."""
    published: float
    """A published PPO score at 1M steps (NaN where none is quoted)."""
    source: str
    """Where ``published`` comes from."""


def random_returns(env_id: str, episodes: int = EPISODES, seed: int = SEED) -> list[float]:
    """Returns of ``episodes`` episodes of uniformly random actions in ``env_id`` (its own
    time limit ends them), reset with seeds ``seed``, ``seed + 1``, ..."""
    import numpy as np  # deferred: only measuring needs them

    from harness.ppo.envs import make_env

    env = make_env(env_id)
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    returns = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action = rng.uniform(low, high).astype(env.action_space.dtype)
            _, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def published_score(env_id: str) -> tuple[float, str]:
    """The "expert" anchor of ``env_id`` and its source: CleanRL's mean where it has the env,
    else Baselines ppo2's; NaN and "" where neither does."""
    cleanrl, _, baselines = REFERENCE_RETURNS.get(env_family(env_id), (None, None, None))
    if cleanrl is not None:
        return cleanrl, "CleanRL ppo_continuous_action v4, 1M steps"
    if baselines is not None:
        return baselines, "Baselines ppo2 benchmarks_mujoco1M"
    return math.nan, ""


def measure(env_id: str, episodes: int = EPISODES) -> Reference:
    """``env_id``'s reference row, its random score measured now."""
    returns = random_returns(env_id, episodes)
    mean = math.fsum(returns) / len(returns)
    sd = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    published, source = published_score(env_id)
    return Reference(env_id, mean, sd / math.sqrt(len(returns)), len(returns), published,
                     source)


def read(path: Path = PATH) -> dict[str, Reference]:
    """The committed references by env id."""
    with open(path, newline="") as f:
        return {row["env_id"]: Reference(row["env_id"], float(row["random_mean"]),
                                         float(row["random_se"]), int(row["episodes"]),
                                         float(row["published"]), row["source"])
                for row in csv.DictReader(f)}


def write(references: list[Reference], path: Path = PATH) -> None:
    """The table, one row per env, floats written exactly (``repr``)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["env_id", "random_mean", "random_se", "episodes", "published",
                         "source"])
        for r in references:
            writer.writerow([r.env_id, repr(r.random_mean), repr(r.random_se), r.episodes,
                             repr(r.published), r.source])


def update(env_ids: Sequence[str], path: Path = PATH) -> None:
    """Measure ``env_ids`` and write their rows into the table at ``path``, replacing theirs
    and keeping every other row in place (new envs last)."""
    measured = {env_id: measure(env_id) for env_id in env_ids}
    write(list({**(read(path) if path.exists() else {}), **measured}.values()), path)


if __name__ == "__main__":
    update(sys.argv[1:] or ENVS)
    print(f"wrote {PATH}")
