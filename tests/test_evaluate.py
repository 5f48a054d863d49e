"""Evaluation of the deterministic policy (harness.ppo.evaluate): when it runs, that training
does not notice it, that its numbers depend on the run alone, and the final policy records."""

import pickle

import numpy as np
import pandas as pd
import torch

from harness.ppo.agent import AgentSpec, EvalSchedule
from harness.ppo.config import PPOConfig
from harness.ppo.evaluate import EvalEnvs, episode_seed, eval_updates
from harness.ppo.networks import deterministic_action, numpy_mlp
from harness.ppo.policy import FrozenPolicy, from_record
from harness.ppo.trainer import train_pack

CFG = PPOConfig(num_steps=64, num_minibatches=2, update_epochs=2)
EVERY = EvalSchedule(every=100, episodes=3)  # between rollouts: after updates 2 and 4


def spec(seed: int, evaluation: EvalSchedule | None = EVERY, **overrides) -> AgentSpec:
    return AgentSpec("Hopper-v5", seed, 4 * CFG.num_steps, CFG.replace(**overrides), evaluation)


def without_sps(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="sps")


def test_eval_updates_follow_the_first_update_at_or_past_each_multiple():
    assert eval_updates(10, 64, 100) == [2, 4, 5, 7, 8, 10]  # steps 128, 256, 320, 448, 512, 640
    assert eval_updates(4, 64, 128) == [2, 4]  # on the multiples; the last update is one
    assert eval_updates(5, 64, 1000) == [5]  # never reached: only after the last update
    assert eval_updates(3, 64, 10) == [1, 2, 3]  # more often than updates: after each


def test_episode_seeds_are_fixed_and_distinct():
    seeds = {episode_seed(s, e, i) for s in range(3) for e in range(3) for i in range(3)}
    assert len(seeds) == 27
    assert episode_seed(1, 2, 3) == episode_seed(1, 2, 3)


def test_training_numbers_are_the_same_with_and_without_evaluation():
    pack = [spec(0), spec(1, value_clip="none")]
    evaluated = train_pack(pack)
    plain = train_pack([spec(0, None), spec(1, None, value_clip="none")])
    for a, b in zip(evaluated, plain, strict=True):
        pd.testing.assert_frame_equal(without_sps(a.updates), without_sps(b.updates),
                                      check_exact=True)
        pd.testing.assert_frame_equal(a.episodes, b.episodes, check_exact=True)
        assert b.evals.empty
        # the final policies agree too: evaluation touches no parameter or statistic
        for key in ("log_std", "obs_mean", "obs_var"):
            assert torch.equal(a.policy[key], b.policy[key])
    evals = evaluated[0].evals
    assert list(evals.columns) == ["global_step", "evaluation", "episode", "episode_return",
                                   "episode_length"]
    assert evals.groupby(["global_step", "evaluation"]).size().to_dict() == {(128, 0): 3,
                                                                           (256, 1): 3}
    assert evals["episode"].tolist() == [0, 1, 2] * 2
    assert (evals["episode_length"] > 0).all() and np.isfinite(evals["episode_return"]).all()


def test_an_agents_evaluations_do_not_depend_on_its_pack():
    alone = train_pack([spec(1)])[0]
    packed = train_pack([spec(0, value_clip="none"), spec(1), spec(2)])[1]
    pd.testing.assert_frame_equal(alone.evals, packed.evals, check_exact=True)


def test_evaluation_acts_on_the_mean_and_leaves_the_statistics_alone():
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(2, 11, 8)), rng.normal(size=(2, 1, 8))),
              (rng.normal(size=(2, 8, 3)), rng.normal(size=(2, 1, 3)))]
    mean, var = rng.normal(size=(2, 11)), rng.uniform(1, 2, size=(2, 11))
    policy = FrozenPolicy(layers, mean.copy(), var.copy(), np.array([True, False]), False)
    raw = rng.normal(size=(2, 11))
    obs = np.stack([np.clip((raw[0] - mean[0]) / np.sqrt(var[0] + 1e-8), -10, 10), raw[1]])
    expected = numpy_mlp(layers, obs.astype(np.float32)[:, None])[:, 0]
    np.testing.assert_array_equal(policy.act(raw), expected)
    np.testing.assert_array_equal(
        deterministic_action(layers, obs.astype(np.float32), discrete=False), expected)
    np.testing.assert_array_equal(  # a categorical head's logits: their argmax
        deterministic_action(layers, obs.astype(np.float32), discrete=True), expected.argmax(-1))
    envs = EvalEnvs("Hopper-v5", 2)
    try:
        first = envs.run(policy, [0, 1], [5, 6], evaluation=0, episodes=2)
        # swapped envs, used before: seeded resets give the same episodes
        again = envs.run(policy.select(np.array([1, 0])), [0, 1], [6, 5], evaluation=0,
                         episodes=2)
    finally:
        envs.close()
    assert again == first[::-1]
    assert [len(e) for e in first] == [2, 2]
    np.testing.assert_array_equal(policy.obs_mean, mean)  # frozen: read, never updated
    np.testing.assert_array_equal(policy.obs_var, var)


def test_the_final_policy_record_is_the_agents_own_and_small():
    logs = train_pack([spec(0), spec(1)])
    record = logs[1].policy
    assert (record["env_id"], record["seed"], record["evaluation"]) == ("Hopper-v5", 1, 1)
    assert (record["obs_dim"], record["act_dim"], record["hidden_sizes"]) == (11, 3, [64, 64])
    assert [tuple(layer["weight"].shape) for layer in record["policy"]] == [
        (11, 64), (64, 64), (64, 3)]
    assert [tuple(layer["weight"].shape) for layer in record["value"]] == [
        (11, 64), (64, 64), (64, 1)]
    tensors = [record["log_std"], record["obs_mean"], record["obs_var"]] + [
        t for part in ("policy", "value") for layer in record[part] for t in layer.values()]
    # each tensor owns its storage: a view would save the whole pack's parameter buffer
    assert all(t.untyped_storage().nbytes() == t.nbytes for t in tensors)
    # replayed alone, the saved policy repeats the run's last evaluation
    envs = EvalEnvs("Hopper-v5", 1)
    try:
        episodes = envs.run(from_record(record), [0], [1], record["evaluation"], 3)[0]
    finally:
        envs.close()
    last = logs[1].evals[logs[1].evals["evaluation"] == 1]
    assert [r for _, r, _ in episodes] == last["episode_return"].tolist()


def test_a_diverged_agent_has_no_policy_and_no_later_evaluations():
    import divergent_env  # registers divergent_env:Divergent-v0 (tests/ is on sys.path)

    cfg = PPOConfig(num_steps=32, num_minibatches=2, update_epochs=1)
    specs = [AgentSpec("divergent_env:Divergent-v0", s, 8 * 32, cfg, EvalSchedule(32, 1))
             for s in (0, divergent_env.DIVERGING_SEED)]
    healthy, diverged = train_pack(specs)
    assert diverged.failure is not None and diverged.policy is None
    assert diverged.evals["global_step"].max() < diverged.failure["global_step"]
    assert healthy.policy is not None and len(healthy.evals) == 8


def test_checkpoints_from_before_evaluation_still_load():
    logs = {}
    train_pack([spec(0)], checkpoint=lambda update, capture: logs.setdefault(update, capture()))
    snapshot = logs[3][0]
    assert len(snapshot.evals) == 3  # the first evaluation's episodes
    del snapshot.__dict__["evals"]  # as pickled before the field existed
    assert pickle.loads(pickle.dumps(snapshot)).evals == ()


def test_an_env_stepped_by_gymnasium_is_evaluated_too():
    cfg = PPOConfig(num_steps=200, num_minibatches=2, update_epochs=1)
    log = train_pack([AgentSpec("Pendulum-v1", 0, 400, cfg, EvalSchedule(400, 2))])[0]
    assert log.evals["episode_length"].tolist() == [200, 200]  # its time limit


def test_an_env_with_dict_observations_trains_and_is_evaluated():
    """A Dict observation (flattened) through training, evaluation and the policy record."""
    cfg = PPOConfig(num_steps=40, num_minibatches=2, update_epochs=1)
    log = train_pack([AgentSpec("dict_obs_env:DictGoal-v0", 0, 80, cfg, EvalSchedule(80, 2))])[0]
    assert len(log.updates) == 2 and log.evals["episode_length"].tolist() == [20, 20]
    assert from_record(log.policy).obs_mean.shape == (1, 7)


def test_an_envs_own_truncation_ends_an_evaluation_episode():
    """An env keeping its own time limit (``self_truncating_env``, 5 steps): evaluation
    episodes end there, never stepping past their end."""
    layers = [(np.zeros((1, 1, 4)), np.zeros((1, 1, 4))), (np.zeros((1, 4, 1)),
                                                           np.zeros((1, 1, 1)))]
    policy = FrozenPolicy(layers, np.zeros((1, 1)), np.ones((1, 1)), np.array([False]), False)
    envs = EvalEnvs("self_truncating_env:SelfTruncating-v0", 1)
    try:
        assert envs.run(policy, [0], [3], evaluation=0, episodes=3) == [
            [(0, 5.0, 5), (1, 5.0, 5), (2, 5.0, 5)]]
    finally:
        envs.close()


def test_a_categorical_policy_is_evaluated_on_its_argmax_and_replays():
    """CartPole-v1 (Discrete(2)): the record has no log-std, evaluation acts on the most
    likely action, and the saved policy alone repeats the last evaluation."""
    cfg = PPOConfig(num_steps=64, num_minibatches=2, update_epochs=1)
    log = train_pack([AgentSpec("CartPole-v1", 3, 256, cfg, EvalSchedule(128, 2))])[0]
    record = log.policy
    assert record["log_std"] is None and record["act_dim"] == 2
    policy = from_record(record)
    assert policy.discrete
    actions = policy.act(np.zeros((1, 4), dtype=np.float32))
    assert actions.shape == (1,) and actions.dtype.kind == "i"
    envs = EvalEnvs("CartPole-v1", 1)
    try:
        episodes = envs.run(policy, [0], [3], record["evaluation"], 2)[0]
    finally:
        envs.close()
    last = log.evals[log.evals["evaluation"] == record["evaluation"]]
    assert [r for _, r, _ in episodes] == last["episode_return"].tolist()
