"""The ``trainer:`` key: top level or a matrix axis, in the run id only when not ``harness``,
a results column when an axis, and refused in one line where it cannot train a variant."""

import pytest

from harness.runs.expand import expand
from harness.runs.experiment import ExperimentError, parse_experiment

GOOD = {"name": "t", "envs": ["Hopper-v5"], "seeds": 1, "total_steps": 4096}


def parse(**changes):
    return parse_experiment({**GOOD, **changes}, "exp.yaml")


def test_harness_is_the_default_and_leaves_run_ids_alone():
    default = expand(parse())
    assert default[0].ppo.trainer == "harness"
    assert [s.run_id for s in expand(parse(trainer="harness"))] == [s.run_id for s in default]
    other = expand(parse(trainer="sb3", ppo={"value_clip": "clipped"}))
    clipped = expand(parse(ppo={"value_clip": "clipped"}))
    assert other[0].run_id.rsplit("__", 1)[0] == clipped[0].run_id.rsplit("__", 1)[0]
    assert other[0].run_id != clipped[0].run_id  # the hash covers a trainer that is not ours


def test_trainer_as_an_axis_is_a_column_and_a_label():
    exp = parse(matrix={"trainer": ["harness", "torchrl"], "value_clip": ["none", "max"]},
                control={"trainer": "harness", "value_clip": "none"})
    specs = expand(exp)
    assert exp.axes == ("trainer", "value_clip")
    assert [dict(s.columns)["trainer"] for s in specs] == ["harness"] * 2 + ["torchrl"] * 2
    assert specs[2].variant == "trainer=torchrl,value_clip=none"
    assert specs[0].run_id.startswith("Hopper-v5__trainer-harness+value_clip-none__s0__")


@pytest.mark.parametrize(("changes", "message"), [
    ({"trainer": "nosuch_module_x:train"},
     "trainer: cannot import 'nosuch_module_x:train' (ModuleNotFoundError"),
    ({"trainer": "json:no_such_function"}, "trainer: 'json:no_such_function': module 'json' "
                                           "has no attribute 'no_such_function'"),
    ({"trainer": "pytorch"}, "trainer: must be harness, torchrl, sb3, module.path:function"),
    ({"trainer": 3}, "trainer: must be harness, torchrl, sb3"),
    ({"trainer": "sb3"}, "trainer: sb3 has no form of value_clip 'max'; with sb3 use none or "
                         "clipped"),
    ({"matrix": {"trainer": ["harness", "torchrl"], "value_clip": ["clipped"]}},
     "trainer: torchrl has no form of value_clip 'clipped'; with torchrl use none or max"),
    ({"trainer": "torchrl", "analysis": {"eval_every": 2048}},
     "analysis.eval_every: only the harness trainer evaluates its policy"),
])
def test_a_trainer_that_cannot_train_a_variant_is_refused(changes, message):
    with pytest.raises(ExperimentError) as error:
        parse(**changes)
    assert str(error.value).startswith(f"exp.yaml: {message}"), str(error.value)
    assert "\n" not in str(error.value)
