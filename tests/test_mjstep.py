"""The thin MuJoCo stepper gives exactly what gymnasium's own ``env.step`` gives."""

import dataclasses
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.mujoco.humanoid_v5 import mass_center

from harness.ppo.envs import PackEnv
from harness.ppo.mjstep import THIN_RULES, GymStepper, ThinStepper, make_stepper
from harness.ppo.mjstep.humanoid import HumanoidRules
from harness.ppo.mjstep.rules import action_cost, norms, sum_squares
from harness.ppo.trainer import pack_env
from harness.runs.expand import expand
from harness.runs.experiment import parse_experiment

NEVER_END = {"HalfCheetah-v5", "Swimmer-v5", "Reacher-v5", "Pusher-v5", "HumanoidStandup-v5"}
V5 = ["Ant-v5", "HalfCheetah-v5", "Hopper-v5", "Humanoid-v5", "HumanoidStandup-v5",
      "InvertedDoublePendulum-v5", "InvertedPendulum-v5", "Pusher-v5", "Reacher-v5",
      "Swimmer-v5", "Walker2d-v5"]


def twin_packs(env_id, k, **kwargs):
    """Two sets of K unwrapped envs, reset with the same seeds."""
    sets = [[gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped for _ in range(k)]
            for _ in range(2)]
    for envs in sets:
        for seed, env in enumerate(envs):
            env.reset(seed=seed)
    return sets


def random_actions(space, k, rng):
    """float32 actions clipped to the space, as PackEnv passes them."""
    return np.clip(rng.normal(0, 1.5, (k, *space.shape)), space.low, space.high).astype(np.float32)


@pytest.mark.parametrize("env_id, kwargs", [
    *((env_id, {}) for env_id in V5),
    # Non-default constructor arguments are read from the env, not assumed.
    ("Hopper-v5", {"exclude_current_positions_from_observation": False,
                   "terminate_when_unhealthy": False, "ctrl_cost_weight": 0.1,
                   "healthy_state_range": (-5.0, 5.0), "forward_reward_weight": 2.0}),
    ("Walker2d-v5", {"healthy_reward": 0.5, "healthy_angle_range": (-0.5, 0.5)}),
    ("HalfCheetah-v5", {"ctrl_cost_weight": 0.3, "exclude_current_positions_from_observation":
                        False}),
    ("Swimmer-v5", {"exclude_current_positions_from_observation": False,
                    "ctrl_cost_weight": 0.01, "forward_reward_weight": 2.0}),
    ("Ant-v5", {"include_cfrc_ext_in_observation": False, "contact_cost_weight": 1e-3,
                "ctrl_cost_weight": 0.3, "main_body": "torso",
                "healthy_z_range": np.array([0.3, 0.9]),  # arrays are compared by value
                "exclude_current_positions_from_observation": False}),
    ("Ant-v5", {"contact_force_range": (-0.5, 2.0), "healthy_reward": 2.0,
                "forward_reward_weight": 3.0, "frame_skip": 3}),
    ("Humanoid-v5", {"exclude_current_positions_from_observation": False,
                     "include_cvel_in_observation": False, "contact_cost_weight": 1e-5,
                     "contact_cost_range": (-np.inf, 0.5), "ctrl_cost_weight": 0.2,
                     "healthy_z_range": (1.1, 2.0), "forward_reward_weight": 2.0}),
    ("HumanoidStandup-v5", {"include_cinert_in_observation": False,
                            "include_qfrc_actuator_in_observation": False,
                            "impact_cost_weight": 1e-5, "impact_cost_range": (-np.inf, 0.5),
                            "ctrl_cost_weight": 0.2}),
    ("Reacher-v5", {"reward_dist_weight": 2.0, "reward_control_weight": 0.5}),
    ("Pusher-v5", {"reward_near_weight": 0.7, "reward_dist_weight": 2.0,
                   "reward_control_weight": 0.05}),
    ("InvertedDoublePendulum-v5", {"healthy_reward": 5.0}),
])
def test_thin_stepper_matches_gymnasium_step_exactly(env_id, kwargs):
    k = 3
    gym_envs, thin_envs = twin_packs(env_id, k, **kwargs)
    reference = GymStepper(gym_envs, gym_envs[0].observation_space.shape[0])
    thin = make_stepper(thin_envs, reference.obs_dim)
    assert isinstance(thin, ThinStepper)
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(300):
        actions = random_actions(gym_envs[0].action_space, k, rng)
        want, got = reference.step(actions), thin.step(actions)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
        # Terminations, and a time limit of 100 for the envs that never end by themselves.
        for i in np.flatnonzero(want[2] | (t % 100 == 99)):
            np.testing.assert_array_equal(thin_envs[i].reset()[0], gym_envs[i].reset()[0])
            ended += bool(want[2][i])
    if env_id not in NEVER_END and kwargs.get("terminate_when_unhealthy", True):
        assert ended > 0  # the comparison covered terminations and resets


# Lengths across numpy's and BLAS's unrolled and SIMD paths (tails, 8-wide blocks, pairwise
# blocks of 128), so that a batched reduction taking another kernel than gymnasium's per-env
# call shows on the CPU the tests run on (AVX-512 Xeons fuse the multiply-adds of a BLAS dot).
LENGTHS = [1, 2, 3, 7, 8, 9, 16, 17, 33, 84, 129, 255, 1000]


@pytest.mark.parametrize("n", LENGTHS)
def test_each_reward_term_is_gymnasiums_expression_bit_for_bit(n):
    rng = np.random.default_rng(n)
    k = 37
    vectors = rng.normal(0, 3, (k, n))
    # reacher/pusher _get_rew: np.linalg.norm of one env's fresh difference vector
    want = [np.linalg.norm(vectors[i].copy()) for i in range(k)]
    np.testing.assert_array_equal(norms(vectors), want)
    # every ctrl cost: weight * np.sum(np.square(action)), in float32 (reacher: sum() first)
    actions = rng.normal(0, 1.5, (k, n)).astype(np.float32)
    want = [0.1 * np.sum(np.square(actions[i])) for i in range(k)]
    np.testing.assert_array_equal(action_cost(0.1, actions), want)
    assert action_cost(0.1, actions).dtype == np.float32
    # ant/humanoid contact cost: np.sum(np.square(cfrc_ext)) of one env's [nbody, 6]
    forces = rng.normal(0, 50, (k, n, 6))
    np.testing.assert_array_equal(sum_squares(forces), [np.sum(np.square(f)) for f in forces])
    # humanoid mass_center, gymnasium's own function on one env's model and data
    mass = rng.uniform(0.1, 10, n)
    xipos = rng.normal(0, 2, (k, n, 3))
    rules = SimpleNamespace(body_mass=tuple(mass.tolist()))
    want = [mass_center(SimpleNamespace(body_mass=mass), SimpleNamespace(xipos=x))[0]
            for x in xipos]
    np.testing.assert_array_equal(HumanoidRules.mass_center_x(rules, xipos), want)


@pytest.mark.parametrize("env_id, weight", [
    ("Hopper-v5", "ctrl_cost_weight"), ("HalfCheetah-v5", "forward_reward_weight"),
    ("Swimmer-v5", "ctrl_cost_weight"), ("Ant-v5", "contact_cost_weight"),
    ("Humanoid-v5", "contact_cost_weight"), ("HumanoidStandup-v5", "impact_cost_weight"),
    ("Reacher-v5", "reward_control_weight"), ("Pusher-v5", "reward_near_weight"),
    ("InvertedDoublePendulum-v5", "healthy_reward"),
])
def test_the_comparison_sees_a_changed_weight(env_id, weight):
    gym_envs, thin_envs = twin_packs(env_id, 2)
    reference = GymStepper(gym_envs, gym_envs[0].observation_space.shape[0])
    thin = make_stepper(thin_envs, reference.obs_dim)
    thin.rules = dataclasses.replace(thin.rules, **{weight: getattr(thin.rules, weight) * 1.01})
    rng = np.random.default_rng(0)
    for _ in range(50):  # the Ant's contact forces need it to land first
        actions = random_actions(gym_envs[0].action_space, 2, rng)
        if not np.array_equal(thin.step(actions)[1], reference.step(actions)[1]):
            return
    pytest.fail(f"changing {weight} changed no reward")


def test_other_envs_step_through_gymnasium():
    envs = [gym.make("Pendulum-v1").unwrapped]
    assert isinstance(make_stepper(envs, 3), GymStepper)


def test_only_exact_classes_qualify():
    hopper = next(c for c in THIN_RULES if c.__name__ == "HopperEnv")
    subclass = type("MyHopper", (hopper,), {})
    env = subclass()
    assert isinstance(make_stepper([env], env.observation_space.shape[0]), GymStepper)


def test_envs_built_differently_or_rendering_step_through_gymnasium():
    mixed = [gym.make("Ant-v5", contact_cost_weight=w).unwrapped for w in (5e-4, 1e-3)]
    assert isinstance(make_stepper(mixed, 105), GymStepper)
    skips = [gym.make("Reacher-v5", frame_skip=s).unwrapped for s in (2, 3)]
    assert isinstance(make_stepper(skips, 10), GymStepper)
    shown = [gym.make("Reacher-v5", render_mode="human").unwrapped]
    assert isinstance(make_stepper(shown, 10), GymStepper)


def test_pack_env_keeps_the_thin_stepper_after_dropping_agents():
    env = PackEnv("Hopper-v5", [0, 1, 2], normalize_obs=[True] * 3,
                  normalize_reward=[True] * 3, gamma=[0.99] * 3)
    env.reset()
    env.select(np.array([0, 2]))
    assert isinstance(env.stepper, ThinStepper)
    step = env.step(np.zeros((2, env.act_dim), dtype=np.float32))
    assert step.obs.shape == (2, env.obs_dim)


@pytest.mark.parametrize("env_id", V5)
def test_pack_env_steps_every_v5_env_thinly(env_id):
    env = PackEnv(env_id, [0, 1, 2], normalize_obs=[True] * 3, normalize_reward=[True] * 3,
                  gamma=[0.99] * 3)
    env.reset()
    assert isinstance(env.stepper, ThinStepper)
    for _ in range(3):
        step = env.step(np.zeros((3, env.act_dim), dtype=np.float32))
    assert step.obs.shape == (3, env.obs_dim) and np.isfinite(step.obs).all()


def test_an_experiments_env_arguments_reach_the_thin_stepper_exactly():
    """The runner's path: an ``envs:`` entry with arguments -> RunSpec -> AgentSpec -> the
    pack's envs, stepped thinly, against gymnasium's ``step`` of envs made with them."""
    kwargs = {"include_cfrc_ext_in_observation": False, "healthy_z_range": [0.3, 1.0]}
    exp = parse_experiment({"name": "t", "envs": [{"id": "Ant-v5", **kwargs}], "seeds": 3,
                            "total_steps": 2048})
    env = pack_env([s.agent for s in expand(exp)])
    env.reset()
    assert isinstance(env.stepper, ThinStepper) and env.obs_dim == 27  # 105 with cfrc_ext
    gym_envs = twin_packs("Ant-v5", 3, **kwargs)[0]
    reference = GymStepper(gym_envs, env.obs_dim)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(300):
        actions = random_actions(env.action_space, 3, rng)
        want, got = reference.step(actions), env.stepper.step(actions)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
        for i in np.flatnonzero(want[2]):
            np.testing.assert_array_equal(env.envs[i].reset()[0], gym_envs[i].reset()[0])
            ended += 1
    assert ended > 0
    env.close()
