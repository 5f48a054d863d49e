"""The thin MuJoCo stepper gives exactly what gymnasium's own ``env.step`` gives."""

import gymnasium as gym
import numpy as np
import pytest

from harness.ppo.envs import PackEnv
from harness.ppo.mjstep import THIN_RULES, GymStepper, ThinStepper, make_stepper


def twin_packs(env_id, k, **kwargs):
    """Two sets of K unwrapped envs, reset with the same seeds."""
    sets = [[gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped for _ in range(k)]
            for _ in range(2)]
    for envs in sets:
        for seed, env in enumerate(envs):
            env.reset(seed=seed)
    return sets


@pytest.mark.parametrize("env_id, kwargs", [
    ("Hopper-v5", {}),
    ("Walker2d-v5", {}),
    ("HalfCheetah-v5", {}),
    ("InvertedPendulum-v5", {}),
    # Non-default constructor arguments are read from the env, not assumed.
    ("Hopper-v5", {"exclude_current_positions_from_observation": False,
                   "terminate_when_unhealthy": False, "ctrl_cost_weight": 0.1,
                   "healthy_state_range": (-5.0, 5.0), "forward_reward_weight": 2.0}),
    ("Walker2d-v5", {"healthy_reward": 0.5, "healthy_angle_range": (-0.5, 0.5)}),
])
def test_thin_stepper_matches_gymnasium_step_exactly(env_id, kwargs):
    k = 3
    gym_envs, thin_envs = twin_packs(env_id, k, **kwargs)
    reference, thin = GymStepper(gym_envs, gym_envs[0].observation_space.shape[0]), None
    thin = make_stepper(thin_envs, reference.obs_dim)
    assert isinstance(thin, ThinStepper)
    space = gym_envs[0].action_space
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        # float32 actions clipped to the space, as PackEnv passes them
        actions = np.clip(rng.normal(0, 1.5, (k, *space.shape)), space.low,
                          space.high).astype(np.float32)
        want, got = reference.step(actions), thin.step(actions)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
        for i in np.flatnonzero(want[2]):
            gym_envs[i].reset()
            thin_envs[i].reset()
            ended += 1
    if env_id != "HalfCheetah-v5" and kwargs.get("terminate_when_unhealthy", True):
        assert ended > 0  # the comparison covered terminations and resets


def test_other_envs_step_through_gymnasium():
    envs = [gym.make("Pendulum-v1").unwrapped]
    assert isinstance(make_stepper(envs, 3), GymStepper)


def test_only_exact_classes_qualify():
    hopper = next(c for c in THIN_RULES if c.__name__ == "HopperEnv")
    subclass = type("MyHopper", (hopper,), {})
    env = subclass()
    assert isinstance(make_stepper([env], env.observation_space.shape[0]), GymStepper)


def test_pack_env_keeps_the_thin_stepper_after_dropping_agents():
    env = PackEnv("Hopper-v5", [0, 1, 2], normalize_obs=[True] * 3,
                  normalize_reward=[True] * 3, gamma=[0.99] * 3)
    env.reset()
    env.select(np.array([0, 2]))
    assert isinstance(env.stepper, ThinStepper)
    step = env.step(np.zeros((2, env.act_dim), dtype=np.float32))
    assert step.obs.shape == (2, env.obs_dim)
