"""PPOConfig defaults (docs/design.md §5) and validation messages."""

import math

import pytest

from harness.ppo.config import PPOConfig, field_names


def test_defaults_are_baselines_ppo2_mujoco():
    c = PPOConfig()
    assert (c.num_steps, c.num_minibatches, c.update_epochs) == (2048, 32, 10)
    assert (c.gamma, c.gae_lambda, c.learning_rate, c.adam_eps) == (0.99, 0.95, 3e-4, 1e-5)
    assert (c.clip_coef, c.ent_coef, c.vf_coef, c.max_grad_norm) == (0.2, 0.0, 0.5, 0.5)
    assert (c.value_clip, c.vf_clip_eps, c.truncation) == ("max", 0.2, "terminal")
    assert c.hidden_sizes == (64, 64) and c.minibatch_size == 64
    assert c.anneal_lr and c.norm_adv and c.normalize_obs and c.normalize_reward


@pytest.mark.parametrize("overrides, field", [
    ({"num_steps": 0}, "num_steps"),
    ({"num_steps": 100, "num_minibatches": 32}, "num_minibatches"),
    ({"gamma": 1.5}, "gamma"),
    ({"value_clip": "huber"}, "value_clip"),
    ({"value_clip": "max", "vf_clip_eps": 0.0}, "vf_clip_eps"),
    ({"value_clip": "clipped", "vf_clip_eps": -0.1}, "vf_clip_eps"),
    ({"truncation": "never"}, "truncation"),
    ({"hidden_sizes": [64, 0]}, "hidden_sizes"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"anneal_lr": 1}, "anneal_lr"),
    ({"update_epochs": 2.5}, "update_epochs"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"ent_coef": -0.01}, "ent_coef"),
    ({"clip_range": 0.1}, "clip_range"),
])
def test_bad_values_raise_value_error_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        PPOConfig().replace(**overrides)


def test_unclipped_config_accepts_any_eps():
    assert PPOConfig(value_clip="none", vf_clip_eps=0.0).clips_value is False


def test_replace_and_to_dict_round_trip():
    c = PPOConfig().replace(hidden_sizes=[32], learning_rate=1)
    assert c.hidden_sizes == (32,)
    assert PPOConfig(**c.to_dict()) == c
    assert set(c.to_dict()) == set(field_names())


def test_what_eps_means_when_the_value_is_unclipped():
    """Nothing: NaN in the results, +inf in the loss, no part of a variant's name or run id,
    and two configs differing in the clip alone match once unclipped."""
    off, on = PPOConfig(value_clip="none", vf_clip_eps=5.0), PPOConfig(vf_clip_eps=5.0)
    assert math.isnan(off.applied_vf_clip_eps) and on.applied_vf_clip_eps == 5.0
    assert off.loss_vf_clip_eps == math.inf and on.loss_vf_clip_eps == 5.0
    settings = {"value_clip": "none", "vf_clip_eps": 5.0}
    assert off.settings_that_matter(settings) == {"value_clip": "none"}
    assert on.settings_that_matter(settings) == settings
    assert on.without_value_clip() == PPOConfig(value_clip="none") == off.without_value_clip()
