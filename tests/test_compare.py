"""``harness compare`` end to end on a tiny experiment trained twice: the same runs on the same
machine reproduce exactly; one changed number does not; another CPU is judged on seed noise."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.runs.experiment import load_experiment
from harness.runs.runner import run_experiment

EXPERIMENT = """name: tiny
envs: [InvertedPendulum-v5]
seeds: 2
total_steps: 4096
variants: [{value_clip: none}, {value_clip: max, vf_clip_eps: 0.2}]
control: {value_clip: none}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The experiment trained into ``mine/tiny`` and ``published/tiny``."""
    root = tmp_path_factory.mktemp("compare")
    (root / "tiny.yaml").write_text(EXPERIMENT)
    exp = load_experiment(root / "tiny.yaml")
    for side in ("mine", "published"):
        run_experiment(exp, root / side, jobs=1, checkpoint_every=0)
    return root


def compare(root: Path, published: str, capsys) -> tuple[int, str]:
    rc = main(["compare", str(root / "tiny.yaml"), "--results-dir", str(root / "mine"),
               "--published", str(root / published)])
    return rc, capsys.readouterr().out.strip().splitlines()[-1]


def copy(root: Path, name: str) -> Path:
    shutil.copytree(root / "published", root / name, dirs_exist_ok=True)
    return root / name / "tiny"


def test_the_same_runs_on_the_same_machine_reproduce_exactly(trained, capsys):
    rc, line = compare(trained, "published", capsys)
    assert (rc, line) == (0, "reproduced exactly: all 4 runs equal the published ones bit for "
                             "bit (same software and CPU model)")


def test_one_changed_number_is_not_reproduced(trained, capsys):
    path = next((copy(trained, "tampered") / "updates").glob("*.parquet"))
    table = pd.read_parquet(path)
    table.loc[0, "value_loss"] += 1e-9
    table.to_parquet(path)
    rc, line = compare(trained, "tampered", capsys)
    assert (rc, line) == (1, "NOT reproduced: 1 of 4 runs differ from the published ones on "
                             "the same software and CPU model; 3 of 4 runs equal bit for bit")


def test_runs_of_another_cpu_are_judged_on_seed_noise(trained, capsys):
    manifest = copy(trained, "other_cpu") / "manifest.json"
    record = json.loads(manifest.read_text())
    for session in record["sessions"]:
        session["host"]["cpu"] = "Some Other CPU"
    manifest.write_text(json.dumps(record))
    rc, line = compare(trained, "other_cpu", capsys)
    assert rc == 0
    assert line.startswith("reproduced within seed noise: no env x variant mean differs")
    assert line.endswith("4 of 4 runs equal bit for bit (other software or CPU model: not "
                         "expected to be equal)")


def test_a_directory_is_not_compared_with_itself(trained, capsys):
    rc = main(["compare", str(trained / "tiny.yaml"), "--results-dir", str(trained / "mine"),
               "--published", str(trained / "mine")])
    assert rc == 2
    assert capsys.readouterr().err.startswith("error: --published ")
