"""Evaluate a pack's deterministic policies on envs of their own (rl-zoo3's ``EvalCallback``;
Andrychowicz et al. 2021 evaluate the policy's mean action apart from training).

Training must not notice: each agent gets a second env instance, its observation normaliser
is read frozen (``policy.FrozenPolicy``), no training generator is drawn from, and every
episode starts from a reset seeded by (run seed, evaluation, episode) alone, so a resumed run
needs no evaluation state. The pack's forward passes are batched; agents whose episodes end
sooner wait, stepped no further, until every agent has its episodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.ppo.envs import env_actions, make_envs
from harness.ppo.mjstep import make_stepper
from harness.ppo.observations import flat_obs, obs_size
from harness.ppo.policy import FrozenPolicy

NO_LIMIT_STEPS = 1000
"""Steps after which an episode of an env without a time limit is cut (gymnasium's MuJoCo
limit), so that an evaluation ends."""

EvalEpisode = tuple[int, float, int]
"""(episode index within its evaluation, raw return, length)."""


def eval_updates(n_updates: int, num_steps: int, every: int) -> list[int]:
    """The updates after which the policies are evaluated: the first at or past each multiple
    of ``every`` env steps, and the last update."""
    due = [u for u in range(1, n_updates + 1)
           if u * num_steps // every > (u - 1) * num_steps // every]
    return due if due and due[-1] == n_updates else [*due, n_updates]


def episode_seed(seed: int, evaluation: int, episode: int) -> int:
    """Reset seed of one evaluation episode. ``SeedSequence`` mixes the three numbers, so runs
    with nearby seeds do not share start states."""
    return int(np.random.SeedSequence((seed, evaluation, episode)).generate_state(1)[0])


class EvalEnvs:
    """One env per agent, apart from the training envs; ``kwargs`` go to ``gym.make``."""

    def __init__(self, env_id: str, n_agents: int, **kwargs: object) -> None:
        self.envs, limit = make_envs(env_id, n_agents, **kwargs)
        self.max_steps = limit or NO_LIMIT_STEPS
        self.space = self.envs[0].action_space
        self.obs_space = self.envs[0].observation_space
        self.obs_dim = obs_size(self.obs_space)

    def run(self, policy: FrozenPolicy, agents: Sequence[int], seeds: Sequence[int],
            evaluation: int, episodes: int,
            watch: Callable[[], None] | None = None) -> list[list[EvalEpisode]]:
        """``episodes`` episodes of each of ``agents`` (indices of envs; ``policy`` and
        ``seeds`` have one row each, in that order); returns each agent's episodes.

        ``watch`` is called after every reset and step (to render a one-agent replay)."""
        done: list[list[EvalEpisode]] = [[] for _ in agents]
        active = np.arange(len(agents))
        raw = np.stack([self._reset(agents[i], seeds[i], evaluation, 0, watch) for i in active])
        ep_return, ep_length = np.zeros(len(agents)), np.zeros(len(agents), dtype=np.int64)
        while len(active):
            # the stepper and policy of the agents still short of episodes
            stepper = make_stepper([self.envs[agents[i]] for i in active], self.obs_dim)
            acting = policy.select(active)
            finished = False
            while not finished:
                raw, reward, terminated, own = stepper.step(
                    env_actions(self.space, acting.act(raw)))
                if watch is not None:
                    watch()
                ep_return[active] += reward
                ep_length[active] += 1
                ended = np.flatnonzero(terminated | own | (ep_length[active] >= self.max_steps))
                for row in ended:
                    i = active[row]
                    done[i].append((len(done[i]), float(ep_return[i]), int(ep_length[i])))
                    ep_return[i], ep_length[i] = 0.0, 0
                    if len(done[i]) < episodes:
                        raw[row] = self._reset(agents[i], seeds[i], evaluation, len(done[i]),
                                               watch)
                finished = any(len(done[active[row]]) == episodes for row in ended)
            keep = np.array([len(done[i]) < episodes for i in active], dtype=bool)
            active, raw = active[keep], raw[keep]
        return done

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()

    def _reset(self, agent: int, seed: int, evaluation: int, episode: int,
               watch: Callable[[], None] | None) -> np.ndarray:
        obs = flat_obs(self.obs_space,
                       self.envs[agent].reset(seed=episode_seed(seed, evaluation, episode))[0])
        if watch is not None:
            watch()
        return obs
