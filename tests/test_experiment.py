"""Experiment files: loading, validation, and each bad input as the user sees it (the CLI)."""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.analysis.load import experiment_from_manifest
from harness.cli import main
from harness.ppo.agent import EvalSchedule
from harness.runs.expand import expand
from harness.runs.experiment import (
    ExperimentError,
    experiment_to_dict,
    load_experiment,
    parse_experiment,
)
from harness.runs.spec import AnalysisSettings, ClaimPlan

TESTS = Path(__file__).parent
GOOD = {"name": "t", "envs": ["Hopper-v5"], "seeds": 2, "total_steps": 4096}


def harness(*args: str, cwd: Path, path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in a fresh interpreter, with ``path`` first on the import
    path, then this checkout (not whichever one the interpreter has installed) and the tests'
    env modules."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (*path, TESTS.parent, TESTS)))}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI in this interpreter (``cli.main``, as the console script does) in a
    directory: its exit code (argparse's ``SystemExit`` too), stdout and stderr."""
    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        monkeypatch.chdir(cwd)
        capsys.readouterr()  # what came before is not this command's
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)
    return run


def parse(**changes):
    return parse_experiment({**GOOD, **changes}, "exp.yaml")


# --- good files ------------------------------------------------------------------------------

def test_every_preset_loads():
    presets = sorted((TESTS.parent / "experiments").glob("*.yaml"))
    assert {p.stem for p in presets} >= {"ablation", "baselines_vs_unclipped", "eps_sweep",
                                         "reward_scale", "smoke", "population_c1",
                                         "population_c3", "population_c2", "population_wide"}
    for path in presets:
        assert load_experiment(path).name == path.stem


def test_analysis_section_defaults_and_overrides():
    assert parse().analysis == AnalysisSettings(margin=0.10, alpha=0.05, power=0.8,
                                                metric="final", final_window=100)
    exp = parse(analysis={"margin": "5e-2", "power": 0.9, "metric": "auc"})
    assert exp.analysis == AnalysisSettings(margin=0.05, alpha=0.05, power=0.9, metric="auc")
    with pytest.raises(ExperimentError, match="analysis.power: must be a number in"):
        parse(analysis={"power": True})


def test_spike_factor_is_declared_in_the_analysis_section():
    assert parse().analysis.spike_factor == 10.0
    exp = parse(analysis={"spike_factor": "2e1"})
    assert exp.analysis.spike_factor == 20.0
    with tempfile.TemporaryDirectory() as d:  # the manifest keeps it
        Path(d, "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
        assert experiment_from_manifest(Path(d)).analysis.spike_factor == 20.0
    for bad in (1, 0.5, True, "ten"):  # a factor of 1 or less calls every update a spike
        with pytest.raises(ExperimentError,
                           match=r"analysis.spike_factor: must be a number in \(1, inf\)"):
            parse(analysis={"spike_factor": bad})


def test_evaluation_settings_leave_run_ids_alone():
    exp = parse(analysis={"eval_every": "5e4", "eval_episodes": 5, "metric": "eval"})
    assert (exp.analysis.eval_every, exp.analysis.eval_episodes) == (50_000, 5)
    specs, plain = expand(exp), expand(parse())
    assert [s.run_id for s in specs] == [s.run_id for s in plain]
    assert {s.agent.evaluation for s in specs} == {EvalSchedule(50_000, 5)}
    assert {s.agent.evaluation for s in plain} == {None}
    assert parse(analysis={"eval_every": None}).analysis.evaluation is None
    with tempfile.TemporaryDirectory() as d:  # the manifest keeps them
        Path(d, "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
        assert experiment_from_manifest(Path(d)).analysis == exp.analysis


def test_per_env_budgets():
    exp = parse(envs=["Hopper-v5", "Ant-v5"], total_steps={"Ant-v5": "2e6", "default": 1e6})
    assert (exp.total_steps, exp.env_steps) == (1_000_000, (("Ant-v5", 2_000_000),))
    assert [exp.steps(e) for e in exp.envs] == [1_000_000, 2_000_000]
    specs = expand(exp)
    assert {(s.env_id, s.total_steps) for s in specs} == {("Hopper-v5", 1_000_000),
                                                          ("Ant-v5", 2_000_000)}
    # the default may be left out when every env has its own budget
    both = parse(envs=["Hopper-v5", "Ant-v5"], total_steps={"Hopper-v5": 4096, "Ant-v5": 8192})
    assert [both.steps(e) for e in both.envs] == [4096, 8192]
    # the manifest keeps them
    with tempfile.TemporaryDirectory() as d:
        Path(d, "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
        back = experiment_from_manifest(Path(d))
    assert (back.total_steps, back.env_steps) == (exp.total_steps, exp.env_steps)


ANT_NO_CFRC = {"id": "Ant-v5", "include_cfrc_ext_in_observation": False}
ANT_LABEL = "Ant-v5[include_cfrc_ext_in_observation=false]"


def test_env_arguments_name_their_env_and_leave_other_run_ids_alone():
    budgets = {"Ant-v5": 8192, "default": 4096}  # a Gymnasium id keys its labels' budget too
    exp = parse(envs=["Hopper-v5", ANT_NO_CFRC, "Ant-v5"], total_steps=budgets)
    assert exp.envs == ("Hopper-v5", ANT_LABEL, "Ant-v5")
    assert exp.env_kwargs == ((ANT_LABEL, (("include_cfrc_ext_in_observation", False),)),)
    specs = {s.env_id: s for s in expand(exp)}
    plain = {s.env_id: s for s in expand(parse(envs=["Hopper-v5", "Ant-v5"],
                                               total_steps=budgets))}
    assert specs["Hopper-v5"].run_id == plain["Hopper-v5"].run_id
    assert specs["Ant-v5"].run_id == plain["Ant-v5"].run_id
    ant = specs[ANT_LABEL]
    assert ant.run_id.startswith("Ant-v5+include_cfrc_ext_in_observation-false__default__s1__")
    assert ant.run_id.split("__")[-1] != plain["Ant-v5"].run_id.split("__")[-1]
    assert (ant.agent.env_id, dict(ant.agent.env_kwargs), ant.total_steps) == (
        "Ant-v5", {"include_cfrc_ext_in_observation": False}, 8192)
    assert ant.agent.pack_key != plain["Ant-v5"].agent.pack_key
    # a label's own budget wins over its id's
    both = parse(envs=[ANT_NO_CFRC, "Ant-v5"], total_steps={ANT_LABEL: 4096, "Ant-v5": 8192})
    assert [both.steps(e) for e in both.envs] == [4096, 8192]
    with tempfile.TemporaryDirectory() as d:  # the manifest keeps the arguments
        Path(d, "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
        assert experiment_from_manifest(Path(d)).env_kwargs == exp.env_kwargs


def test_env_arguments_are_canonical():
    """Sorted by name, lists as tuples, 1e-3 (a string to PyYAML) as a number."""
    exp = parse(envs=[{"id": "Ant-v5", "healthy_z_range": [0.3, 1.0],
                       "contact_cost_weight": "1e-3"}])
    assert exp.envs == ("Ant-v5[contact_cost_weight=0.001,healthy_z_range=0.3x1.0]",)
    assert exp.kwargs(exp.envs[0]) == (("contact_cost_weight", 0.001),
                                       ("healthy_z_range", (0.3, 1.0)))
    assert parse(envs=[{"id": "Hopper-v5"}]).envs == ("Hopper-v5",)
    with pytest.raises(ExperimentError, match=r"envs\[0\].render_mode: is set by the harness"):
        parse(envs=[{"id": "Hopper-v5", "render_mode": "human"}])


SWEEP = {"matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.05, 0.2, 1.0]}}


def test_claims_are_registered_in_the_analysis_section_and_the_manifest():
    sweep = {"matrix": {"value_clip": ["none", "max"], "vf_clip_eps": [0.05, 0.2]}}
    exp = parse(envs=["Hopper-v5", ANT_NO_CFRC], **sweep, analysis={
        "active_clip": 0.02, "margin": 0.05, "alpha": 0.01, "claims": {
            "C1": {"estimand": "random"},
            "C3": {"estimand": "fixed", "envs": [ANT_LABEL, "Hopper-v5"], "margin": 0.05,
                   "alpha": "1e-2", "thresholds": ["5e-2", 0.2]}}})
    assert exp.analysis.active_clip == 0.02
    assert exp.analysis.claims == (
        ("C1", ClaimPlan("random")),
        ("C3", ClaimPlan("fixed", envs=(ANT_LABEL, "Hopper-v5"), margin=0.05, alpha=0.01,
                         thresholds=(0.05, 0.2))))
    assert parse().analysis.claims == () and parse().analysis.active_clip == 0.01
    with tempfile.TemporaryDirectory() as d:
        Path(d, "manifest.json").write_text(json.dumps({"experiment": experiment_to_dict(exp)}))
        assert experiment_from_manifest(Path(d)).analysis == exp.analysis
        recorded = json.loads(Path(d, "manifest.json").read_text())["experiment"]["analysis"]
    assert recorded["claims"]["C3"]["thresholds"] == [0.05, 0.2]


def test_a_claim_on_a_subset_of_the_envs_is_refused():
    with pytest.raises(ExperimentError, match=r"analysis.claims.C1.envs: leaves out "
                                              r"Walker2d-v5, but the report judges every claim"):
        parse(envs=["Hopper-v5", "Walker2d-v5"], **SWEEP,
              analysis={"claims": {"C1": {"estimand": "fixed", "envs": ["Hopper-v5"]}}})


@pytest.mark.parametrize(("claims", "key", "message"), [
    ({"C5": {"estimand": "random"}}, "analysis.claims.C5", "unknown claim; allowed: C1, "
                                                           "C1-stability, C2, C3, C4"),
    ({"C1": {"estimand": "mixed"}}, "analysis.claims.C1.estimand", "must be one of random, "
                                                                   "fixed"),
    ({"C2": {"margin": 0.1}}, "analysis.claims.C2.estimand", "must be one of random, fixed"),
    ({"C1": {"estimand": "fixed", "thresholds": [0.2]}}, "analysis.claims.C1.thresholds",
     "unknown key; allowed: estimand, envs, margin, alpha"),
    ({"C4": {"estimand": "fixed", "envs": ["Ant-v5"]}}, "analysis.claims.C4.envs",
     "distinct values among the experiment's envs (Hopper-v5)"),
    ({"C3": {"estimand": "random", "thresholds": [0.05, 0.05]}},
     "analysis.claims.C3.thresholds", "distinct values among the vf_clip_eps"),
    ({"C1-stability": {"estimand": "fixed", "alpha": 0.7}}, "analysis.claims.C1-stability.alpha",
     "must be a number in (0, 0.5)"),
    ([], "analysis.claims", "must be a mapping of claims"),
    # declared but not what the report does: refused rather than silently not carried out
    ({"C2": {"estimand": "fixed", "margin": 0.2}}, "analysis.claims.C2.margin",
     "0.2 differs from analysis.margin 0.1, which every comparison is tested at"),
    ({"C2": {"estimand": "fixed", "alpha": 0.01}}, "analysis.claims.C2.alpha",
     "0.01 differs from analysis.alpha 0.05"),
    ({"C3": {"estimand": "random", "thresholds": [0.05, 0.2]}}, "analysis.claims.C3.thresholds",
     "leaves out 1.0, but the report judges every claim on every max threshold"),
])
def test_bad_claims_name_the_key(claims, key, message):
    with pytest.raises(ExperimentError) as err:
        parse(**SWEEP, analysis={"claims": claims})
    assert str(err.value).startswith(f"exp.yaml: {key}: ") and message in str(err.value)


def test_sequential_seeds():
    exp = parse(seeds={"min": 10, "max": 60, "step": 20})
    assert exp.seeds == tuple(range(60)) and exp.looks == (10, 30, 50, 60)
    assert parse().looks == ()
    for bad in ({"min": 1, "max": 5, "step": 1}, {"min": 10, "max": 5, "step": 1},
                {"min": 2, "max": 5}, {"min": 2, "max": 5, "step": 0}):
        with pytest.raises(ExperimentError, match=r"seeds: .*\{min, max, step\}"):
            parse(seeds=bad)


def test_defaults_and_seed_forms():
    exp = parse()
    assert exp.seeds == (0, 1)
    assert [v.label for v in exp.variants] == ["default"] and exp.control == "default"
    assert exp.ppo.value_clip == "max" and exp.axes == ()
    assert parse(seeds=[3, 7]).seeds == (3, 7)


def test_matrix_then_explicit_variants_with_collapse_and_dedup():
    exp = parse(matrix={"value_clip": ["none", "max"], "vf_clip_eps": [0.2, 1]},
                variants=[{"value_clip": "none"}, {"value_clip": "clipped", "vf_clip_eps": 0.2},
                          {"learning_rate": "1e-3"}],
                control={"value_clip": "none"})
    assert [v.label for v in exp.variants] == [
        "value_clip=none", "value_clip=max,vf_clip_eps=0.2", "value_clip=max,vf_clip_eps=1.0",
        "value_clip=clipped,vf_clip_eps=0.2", "learning_rate=0.001"]
    assert exp.axes == ("value_clip", "vf_clip_eps", "learning_rate")
    assert exp.control == "value_clip=none"


def test_eps_is_checked_only_where_it_clips():
    exp = parse(variants=[{"value_clip": "none", "vf_clip_eps": 0}, {"value_clip": "max"}])
    assert [v.label for v in exp.variants] == ["value_clip=none", "value_clip=max"]
    assert parse(ppo={"value_clip": "none", "vf_clip_eps": -1.0}).ppo.vf_clip_eps == -1.0
    with pytest.raises(ExperimentError, match=r"matrix\.vf_clip_eps: must be > 0"):
        parse(matrix={"value_clip": ["none", "max"], "vf_clip_eps": [0, 0.5]})


def test_control_by_label_and_other_axes():
    exp = parse(matrix={"normalize_reward": [True, False], "hidden_sizes": [[64, 64], [8]]},
                control="normalize_reward=false,hidden_sizes=8")
    assert exp.control == "normalize_reward=false,hidden_sizes=8"
    assert exp.variants[0].as_dict() == {"normalize_reward": True, "hidden_sizes": (64, 64)}


def test_ppo_overrides_reach_every_variant():
    exp = parse(ppo={"num_steps": 1024, "gamma": 0.995})
    assert exp.ppo.num_steps == 1024 and exp.ppo.gamma == 0.995 and math.isclose(
        exp.ppo.learning_rate, 3e-4)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "LunarLander-v3"])
def test_discrete_action_envs_are_accepted(env_id):
    if env_id.startswith("LunarLander"):
        pytest.importorskip("Box2D", reason="the box2d extra is not installed")
    assert parse(envs=[env_id]).envs == (env_id,)


def test_module_env_id_imports_its_module():
    assert parse(envs=["divergent_env:Divergent-v0"]).envs == ("divergent_env:Divergent-v0",)


@pytest.mark.parametrize("value", [1e6, "1e6", 1000000.0, "1.0e+6"])
def test_total_steps_as_a_whole_float(value):
    assert parse(total_steps=value).total_steps == 1000000


def test_python_tags_are_refused_in_process(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ExperimentError, match="only plain YAML"):
        load_experiment(path)


# --- bad files, through the CLI: exit 2, one line `error: <file>: <key>: <allowed>` ---------
# In process (``cli``); one case runs in a fresh interpreter, as a user would, for the exit
# code and the absence of a traceback.

BASE = "name: t\nenvs: [Hopper-v5]\nseeds: 2\ntotal_steps: 4096\n"
BAD = [
    ("unknown_top_key", BASE + "colour: red\n", "colour", "unknown key; allowed: name"),
    ("missing_key", "name: t\nenvs: [Hopper-v5]\nseeds: 2\n", "total_steps", "is required"),
    ("unknown_ppo_key", BASE + "ppo: {learning_rat: 0.1}\n", "ppo.learning_rat",
     "unknown PPO key; allowed: num_steps"),
    ("unknown_matrix_key", BASE + "matrix: {vclip: [1]}\n", "matrix.vclip", "unknown PPO key"),
    ("matrix_not_list", BASE + "matrix: {value_clip: max}\n", "matrix.value_clip",
     "non-empty list"),
    ("unregistered_env", BASE.replace("Hopper-v5", "Hoper-v5"), "envs",
     "'Hoper-v5' is not a registered Gymnasium env id (did you mean Hopper-v5?)"),
    ("env_module_missing", BASE.replace("Hopper-v5", "nosuchmod:Foo-v0"), "envs",
     "cannot import module 'nosuchmod'"),
    ("name_with_dotdot", BASE.replace("name: t", "name: ../evil"), "name",
     "letters, digits, '-' and '_' only"),
    ("name_with_slash", BASE.replace("name: t", "name: a/b"), "name", "letters, digits"),
    ("float_seed", BASE.replace("seeds: 2", "seeds: [0, 1.5]"), "seeds",
     "distinct non-negative integers"),
    ("string_seeds", BASE.replace("seeds: 2", "seeds: three"), "seeds", "a positive count"),
    ("zero_eps_with_max", BASE + "matrix: {value_clip: [none, max], vf_clip_eps: [0.0]}\n",
     "matrix.vf_clip_eps", "must be > 0 when value_clip is 'max'"),
    ("negative_eps_in_ppo", BASE + "ppo: {vf_clip_eps: -1}\n", "ppo.vf_clip_eps",
     "must be > 0"),
    ("bad_variant_value", BASE + "variants: [{value_clip: none}, {value_clip: huber}]\n",
     "variants[1].value_clip", "must be one of none, max, clipped"),
    ("bad_ppo_type", BASE + "ppo: {num_steps: many}\n", "ppo.num_steps",
     "must be an integer"),
    ("control_matches_none", BASE + "matrix: {value_clip: [none, max]}\n"
     "control: {value_clip: clipped}\n", "control", "must match exactly one variant"),
    ("control_matches_two", BASE + "matrix: {value_clip: [none, max], vf_clip_eps: [0.1, 1]}\n"
     "control: {value_clip: max}\n", "control", "matches 2"),
    ("control_unknown_label", BASE + "control: nope\n", "control", "variant labels"),
    ("too_few_steps", BASE.replace("4096", "100"), "total_steps", "must be >= num_steps=2048"),
    ("fractional_steps", BASE.replace("4096", "4096.5"), "total_steps",
     "must be a positive integer, got 4096.5"),
    ("fractional_steps_in_e_notation", BASE.replace("4096", "25e-1"), "total_steps",
     "must be a positive integer, got 2.5"),
    ("multi_discrete_actions", BASE.replace("Hopper-v5", "unusable_envs:MultiDiscreteAction-v0"),
     "envs", "'unusable_envs:MultiDiscreteAction-v0' has a MultiDiscrete([2 3]) action space; "
     "the harness trains Gaussian policies for continuous (Box) actions and categorical ones "
     "for Discrete actions, e.g. Hopper-v5 or CartPole-v1"),
    ("missing_dependency", BASE.replace("Hopper-v5", "unusable_envs:NeedsMissingPackage-v0"),
     "envs", "'unusable_envs:NeedsMissingPackage-v0' needs a package that is not installed: Foo "
     'is not installed, run `pip install "gymnasium[foo]"`'),
    ("dict_observations", BASE.replace("Hopper-v5", "unusable_envs:DictObservation-v0"), "envs",
     "has a Dict('note': Text(1, 8, charset=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
     "qrstuvwxyz), 'x': Box(-1.0, 1.0, (2,), float64)) observation space; the harness needs a "
     "Box (an array of numbers), a Discrete, or a Dict or Tuple of them"),
    ("python_tag", BASE + "ppo: !!python/object/apply:os.system ['echo pwned']\n", "yaml",
     "only plain YAML values are allowed"),
    ("yaml_syntax", BASE + "ppo: {a: [\n", "yaml", "line "),
    ("not_a_mapping", "- just\n- a list\n", "(top level)", "must be a mapping"),
    ("analysis_unknown_key", BASE + "analysis: {margn: 0.1}\n", "analysis.margn",
     "unknown key; allowed: margin, alpha, power, metric, final_window"),
    ("analysis_margin_range", BASE + "analysis: {margin: 10}\n", "analysis.margin",
     "must be a number in (0, 1)"),
    ("analysis_alpha_text", BASE + "analysis: {alpha: small}\n", "analysis.alpha",
     "must be a number in (0, 0.5)"),
    ("analysis_metric", BASE + "analysis: {metric: median}\n", "analysis.metric",
     "must be one of final, auc"),
    ("analysis_window", BASE + "analysis: {final_window: 0}\n", "analysis.final_window",
     "must be a positive integer"),
    ("eval_without_eval_every", BASE + "analysis: {metric: eval}\n", "analysis.metric",
     "eval scores the runs' evaluations: set analysis.eval_every"),
    ("eval_every_zero", BASE + "analysis: {eval_every: 0}\n", "analysis.eval_every",
     "must be a positive integer"),
    ("eval_episodes_text", BASE + "analysis: {eval_every: 1000, eval_episodes: ten}\n",
     "analysis.eval_episodes", "must be a positive integer"),
    ("huge_total_steps", BASE.replace("4096", "1e30"), "total_steps",
     "must be at most 1e+10 env steps, got 1e+30"),
    ("huge_eval_every", BASE + "analysis: {eval_every: 1e12}\n", "analysis.eval_every",
     "must be at most 1e+10 env steps"),
    ("seed_beyond_int64", BASE.replace("seeds: 2", "seeds: [0, 9223372036854775808]"), "seeds",
     "distinct non-negative integers up to 2**63-1"),
    ("too_many_seeds", BASE.replace("seeds: 2", "seeds: 100000000"), "seeds",
     "a positive count up to 10,000"),
    ("image_observations", BASE.replace("Hopper-v5", "unusable_envs:ImageObservation-v0"),
     "envs", "has image observations (96, 96, 3); the harness's policies are MLPs"),
    ("duplicate_variants", BASE + "variants: [{value_clip: none}, {value_clip: max}, "
     "{value_clip: none}]\n", "variants[2]", "repeats variants[0] (listed twice"),
    ("duplicate_variants_reordered", BASE + "variants: [{value_clip: max, vf_clip_eps: 0.5}, "
     "{vf_clip_eps: 0.5, value_clip: max}]\n", "variants[1]", "repeats variants[0]"),
    ("eps_without_clip_repeats", BASE + "variants: [{value_clip: none}, "
     "{value_clip: none, vf_clip_eps: 0.5}]\n", "variants[1]",
     "vf_clip_eps given where value_clip does not clip"),
    ("empty_matrix", BASE + "matrix: {}\n", "matrix", "must be a non-empty mapping"),
    ("env_argument_rejected", BASE.replace("[Hopper-v5]", "[Hopper-v5, {id: Ant-v5, foo: 1}]"),
     "envs[1]", "'Ant-v5[foo=1]' cannot be created (TypeError: "),
    ("env_argument_value", BASE.replace("[Hopper-v5]", "[{id: Hopper-v5, ctrl_cost_weight: "
                                        "{a: 1}}]"), "envs[0].ctrl_cost_weight",
     "must be a number, boolean, string or null, or a list of them"),
    ("env_listed_twice", BASE.replace("[Hopper-v5]", "[Hopper-v5, {id: Hopper-v5}]"), "envs[1]",
     "'Hopper-v5' is listed twice"),
    ("claim_threshold_not_trained", BASE + "matrix: {value_clip: [none, max]}\n"
     "analysis: {claims: {C3: {estimand: random, thresholds: [0.2, 5]}}}\n",
     "analysis.claims.C3.thresholds", "among the vf_clip_eps of its max variants (0.2)"),
    ("active_clip_range", BASE + "analysis: {active_clip: 1}\n", "analysis.active_clip",
     "must be a number in (0, 1)"),
    ("steps_of_another_env", BASE.replace("total_steps: 4096", "total_steps: {Ant-v5: 4096}"),
     "total_steps.Ant-v5", "not one of the experiment's envs (Hopper-v5) or default"),
    ("steps_without_default", BASE.replace("envs: [Hopper-v5]", "envs: [Hopper-v5, Ant-v5]")
     .replace("total_steps: 4096", "total_steps: {Ant-v5: 4096}"), "total_steps",
     "needs a default for Hopper-v5"),
]


@pytest.mark.parametrize(("case", "text", "key", "allowed"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2(tmp_path, cli, case, text, key, allowed):
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    out = cli("run", str(path), "--results-dir", str(tmp_path / "results"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"error: {path}: {key}: "), lines[0]
    assert allowed in lines[0]
    assert "Traceback" not in out.stderr and not (tmp_path / "results").exists()


def test_bad_input_in_a_fresh_interpreter_is_exit_2_without_traceback(tmp_path):
    case, text, key, allowed = BAD[0]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    out = harness("run", str(path), "--results-dir", str(tmp_path / "results"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {key}: "), out.stderr
    assert allowed in lines[0]
    assert "Traceback" not in out.stderr and not (tmp_path / "results").exists()


@pytest.mark.parametrize("env_id", ["LunarLander-v3", "LunarLanderContinuous-v3"])
def test_box2d_env_without_box2d_says_what_to_install(tmp_path, env_id):
    path = tmp_path / "lunar.yaml"
    path.write_text(BASE.replace("Hopper-v5", env_id))
    # Box2D is hidden where it is installed (the box2d extra): a package of that name that
    # fails to import comes first on the path.
    (tmp_path / "hide" / "Box2D").mkdir(parents=True)
    (tmp_path / "hide" / "Box2D" / "__init__.py").write_text(
        "raise ImportError('No module named Box2D')\n")
    out = harness("status", str(path), cwd=tmp_path, path=(tmp_path / "hide",))
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"error: {path}: envs: '{env_id}' needs a package that is not installed:"
        " Box2D is not installed, you can install it by run `pip install swig` followed by "
        '`pip install "gymnasium[box2d]"`']


def test_total_steps_between_rollouts_is_a_warning(tmp_path, cli):
    path = tmp_path / "x.yaml"
    path.write_text(BASE.replace("4096", "50000"))
    for command in (["run", "x.yaml", "--dry-run"], ["status", "x.yaml"]):
        out = cli(*command, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stderr.splitlines() == [
            "warning: x.yaml: total_steps: 50000 is not a multiple of num_steps 2048: runs train "
            "49,152 steps (24 updates)"]
    path.write_text(BASE + "variants: [{num_steps: 1024}, "
                    "{num_steps: 4096}]\n")
    assert cli("run", "x.yaml", "--dry-run", cwd=tmp_path).stderr == ""


def test_missing_file_and_usage_errors(tmp_path, cli):
    out = cli("status", "nope.yaml", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == (
        "error: nope.yaml: file: cannot be read (No such file or directory)")
    assert cli("run", cwd=tmp_path).returncode == 2  # argparse: missing EXPERIMENT
    assert cli("run", "x.yaml", "--jobs", "0", cwd=tmp_path).returncode == 2
    (tmp_path / "x.yaml").write_text(BASE)
    out = cli("run", "x.yaml", "--backend", "dask", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: --backend dask: needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)"]
