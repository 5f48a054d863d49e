"""PackEnv: VecNormalize semantics per agent, time limits, action clipping, raw returns."""

import gymnasium as gym
import numpy as np
import pytest

from harness.ppo.envs import PackEnv, RunningMeanStd, make_env


def pack(n=2, env_id="Pendulum-v1", **kw):
    opts = {"normalize_obs": [True] * n, "normalize_reward": [True] * n, "gamma": [0.99] * n}
    opts.update(kw)
    return PackEnv(env_id, list(range(n)), **opts)


def test_running_mean_std_tracks_sample_moments_per_agent():
    rng = np.random.default_rng(0)
    x = rng.normal([[1.0], [-3.0]], [[2.0], [0.5]], size=(500, 2, 1))
    rms = RunningMeanStd(2, (1,))
    for sample in x:
        rms.update(sample)
    assert np.allclose(rms.mean, x.mean(0), atol=1e-5)
    assert np.allclose(rms.var, x.var(0), rtol=1e-3)


def test_reward_scaling_follows_vecnormalize():
    env = pack(1, normalize_obs=[False])
    env.reset()
    ret, rets = 0.0, []
    ref = gym.make("Pendulum-v1")
    ref.reset(seed=0)
    for t in range(30):
        a = np.array([[np.sin(t)]])
        step = env.step(a)
        r = ref.step(a[0])[1]
        ret = ret * 0.99 + r
        rets.append(ret)
        # Baselines: var of the discounted-return stream, prior count 1e-4 around (0, 1)
        n = len(rets) + 1e-4
        mean = np.sum(rets) / n
        var = (1e-4 * (1 + mean**2) + np.sum((np.array(rets) - mean) ** 2)) / n
        assert step.reward[0] == pytest.approx(np.clip(r / np.sqrt(var + 1e-8), -10, 10), rel=1e-3)


def test_time_limit_truncates_and_records_raw_episode():
    env = pack(2, normalize_obs=[True, False], normalize_reward=[False, False])
    env.reset()
    total = np.zeros(2)
    for t in range(200):
        step = env.step(np.zeros((2, 1)))
        total += step.reward  # unnormalised rewards here
        if t < 199:
            assert not step.done.any()
    assert step.done.all() and step.truncated.all()
    assert [(k, length) for k, _, length in step.episodes] == [(0, 200), (1, 200)]
    assert [ret for _, ret, _ in step.episodes] == pytest.approx(total.tolist())
    assert env.ep_length.tolist() == [0, 0]


def test_actions_are_clipped_to_the_action_space():
    env = pack(1, normalize_obs=[False], normalize_reward=[False])
    ref = gym.make("Pendulum-v1")
    first = env.reset()
    assert np.allclose(first[0], ref.reset(seed=0)[0])
    step = env.step(np.array([[10.0]]))
    obs, reward, *_ = ref.step(np.array([2.0], dtype=np.float32))
    assert np.allclose(step.obs[0], obs, atol=1e-6) and step.reward[0] == pytest.approx(reward)


def test_observation_normalisation_is_per_agent_and_clipped():
    env = pack(2, normalize_obs=[True, False])
    raw0 = env.reset()
    assert np.abs(raw0[0]).max() <= 10.0
    ref = gym.make("Pendulum-v1")
    assert np.allclose(raw0[1], ref.reset(seed=1)[0])


def test_select_drops_agents():
    env = pack(3)
    env.reset()
    env.select(np.array([0, 2]))
    assert len(env.envs) == 2 and env.obs_rms.mean.shape == (2, 3)
    assert env.step(np.zeros((2, 1))).obs.shape == (2, 3)


def test_discrete_actions_are_indices_passed_unclipped():
    env = pack(2, "CartPole-v1", normalize_obs=[False] * 2, normalize_reward=[False] * 2)
    assert env.discrete and env.act_dim == 2 and env.obs_dim == 4
    refs = [gym.make("CartPole-v1") for _ in range(2)]
    assert np.array_equal(env.reset(), np.stack([r.reset(seed=s)[0] for s, r in enumerate(refs)]))
    for t in range(5):
        actions = np.array([t % 2, 1])
        step = env.step(actions)
        want = np.stack([r.step(a)[0] for r, a in zip(refs, actions, strict=True)])
        assert np.array_equal(step.obs, want) and np.array_equal(step.reward, [1.0, 1.0])


class OffsetActions(gym.Env):
    """Records the actions it gets from a Discrete(3, start=-1) space."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(3, start=-1)

    def __init__(self):
        self.seen = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.seen.append(action)
        return np.zeros(1, np.float32), 0.0, False, False, {}


gym.register("OffsetActions-v0", entry_point=OffsetActions)


def test_an_envs_own_truncation_ends_its_episode():
    """An env that truncates itself (no gymnasium TimeLimit to count against) ends the
    episode there: recorded, reset, flagged truncated, and never stepped past its end."""
    env = pack(1, "self_truncating_env:SelfTruncating-v0", normalize_obs=[False],
               normalize_reward=[False])
    assert env.max_steps is None
    env.reset()
    steps = [env.step(np.zeros((1, 1))) for _ in range(12)]
    ends = [t for t, step in enumerate(steps) if step.done[0]]
    assert ends == [4, 9] and all(steps[t].truncated[0] for t in ends)
    assert steps[4].episodes == [(0, 5.0, 5)]
    assert steps[4].obs[0, 0] == 0.0 and steps[4].final_obs[0, 0] == pytest.approx(0.5)


def test_discrete_indices_count_from_the_spaces_first_action():
    env = pack(1, "OffsetActions-v0")
    env.reset()
    for index in (0, 1, 2):
        env.step(np.array([index]))
    assert env.envs[0].seen == [-1, 0, 1]


def test_unsupported_spaces_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^unusable_envs:DictObservation-v0 has a Dict\("
                                         r"'note': Text\(.*\) observation space; the harness "
                                         r"needs a Box"):
        pack(1, "unusable_envs:DictObservation-v0")


def test_a_discrete_observation_is_one_hot():
    """FrozenLake's Discrete(16) state as SB3 feeds it to an MLP (``preprocess_obs``)."""
    env = pack(1, "FrozenLake-v1", normalize_obs=[False], normalize_reward=[False])
    assert env.obs_dim == 16
    np.testing.assert_array_equal(env.reset(), np.eye(16, dtype=np.float32)[[0]])


def test_gymnasiums_settotalmass_deprecation_is_not_printed(capfd):
    """HalfCheetah-v5's XML uses a deprecated MuJoCo attribute; the warning said nothing a
    user could act on, on every env made. MuJoCo's own warning handler is back afterwards."""
    import mujoco

    before = mujoco.get_mju_user_warning()
    make_env("HalfCheetah-v5").close()
    out, err = capfd.readouterr()
    assert "settotalmass" not in out + err
    assert mujoco.get_mju_user_warning() is before


def test_dict_observations_are_flattened_as_gymnasiums_flatten_observation():
    """A Dict of Boxes and a Discrete: the agent sees gymnasium's FlattenObservation vector
    (the space's key order, the Discrete one-hot), step after step and across resets."""
    env = pack(2, "dict_obs_env:DictGoal-v0", normalize_obs=[False] * 2,
               normalize_reward=[False] * 2)
    assert env.obs_dim == 2 + 3 + 2  # goal, phase one-hot, position
    refs = [gym.wrappers.FlattenObservation(gym.make("dict_obs_env:DictGoal-v0"))
            for _ in range(2)]
    want = np.stack([r.reset(seed=s)[0] for s, r in enumerate(refs)])
    np.testing.assert_array_equal(env.reset(), want.astype(np.float32))
    rng = np.random.default_rng(0)
    for _ in range(25):  # past the time limit of 20: a reset in between
        actions = rng.uniform(-1, 1, (2, 2)).astype(np.float32)
        step = env.step(actions)
        outs = [r.step(a) for r, a in zip(refs, actions, strict=True)]
        want = np.stack([o[0] if not o[3] else r.reset()[0]
                         for o, r in zip(outs, refs, strict=True)])
        np.testing.assert_array_equal(step.obs, want.astype(np.float32))
