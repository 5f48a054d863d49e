"""Reference scores per env: a uniformly random policy's mean return, measured once and
committed with the package, beside a published PPO score (rliable's "random" and "expert"
anchors; Atari's human-normalised scores are built the same way).

They anchor two things: scores normalised to a common scale for the aggregates over envs
(0 = random, 1 = the published PPO score), and the effect scale of the random-effects
analysis, the log ratio of *gains over a random policy*, on which envs with negative returns
(Reacher, Pusher) or a negative random return (HalfCheetah) join one average.

``python -m harness.runs.references`` measures the random scores again and rewrites
``reference_scores.csv`` (minutes on one core); ``tests/test_references.py`` re-measures one
env and checks the file. Light on purpose: gymnasium and numpy are imported only to measure.
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).with_name("reference_scores.csv")
"""The committed table (one row per env label)."""
EPISODES = 100
"""Random-policy episodes per env (the mean's standard error is in the file)."""
SEED = 0
"""Episode ``i`` resets with seed ``SEED + i``; actions come from a generator seeded alike."""

# Published PPO returns at 1M steps (raw reward, last-100-episode means), the "expert" anchor.
# CleanRL ppo_continuous_action (MuJoCo v4, 3 seeds) where it has the env, else OpenAI
# Baselines ppo2's benchmarks_mujoco1M (6 seeds); docs/design.md §5 quotes both.
PUBLISHED = {
    "Hopper-v5": (2382.86, "CleanRL ppo_continuous_action v4, 1M steps"),
    "Walker2d-v5": (2287.95, "CleanRL ppo_continuous_action v4, 1M steps"),
    "HalfCheetah-v5": (1442.64, "CleanRL ppo_continuous_action v4, 1M steps"),
    "InvertedPendulum-v5": (963.09, "CleanRL ppo_continuous_action v4, 1M steps"),
    "Humanoid-v5": (716.11, "CleanRL ppo_continuous_action v4, 1M steps"),
    "InvertedDoublePendulum-v5": (7102.91, "Baselines ppo2 benchmarks_mujoco1M"),
    "Swimmer-v5": (111.19, "Baselines ppo2 benchmarks_mujoco1M"),
    "Reacher-v5": (-6.71, "Baselines ppo2 benchmarks_mujoco1M"),
}
MUJOCO_V5 = ("Ant-v5", "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
             "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
             "Swimmer-v5", "Walker2d-v5")
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


def measure(env_id: str, episodes: int = EPISODES) -> Reference:
    """``env_id``'s reference row, its random score measured now."""
    returns = random_returns(env_id, episodes)
    mean = math.fsum(returns) / len(returns)
    sd = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    published, source = PUBLISHED.get(env_id, (math.nan, ""))
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


if __name__ == "__main__":
    envs = sys.argv[1:] or MUJOCO_V5
    write([measure(env_id) for env_id in envs])
    print(f"wrote {PATH}")
