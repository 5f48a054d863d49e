"""notebooks/explore.ipynb runs top to bottom (nbclient) against a small synthetic results set."""

import dataclasses
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from synthetic import NUM_STEPS, make_experiment, write_results

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"
VARIANTS = {"value_clip=none": {"value_clip": "none"},
            "value_clip=max,vf_clip_eps=0.2": {"value_clip": "max", "vf_clip_eps": 0.2},
            "value_clip=max,vf_clip_eps=1.0": {"value_clip": "max", "vf_clip_eps": 1.0}}


@pytest.mark.parametrize("metric", ["final", "eval"])
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch, metric):
    exp = make_experiment(VARIANTS, "value_clip=none", envs=("Hopper-v5", "Walker2d-v5"),
                          seeds=range(3))
    if metric == "eval":  # evaluated runs, judged on their eval scores (a KeyError once)
        exp = dataclasses.replace(exp, analysis=dataclasses.replace(
            exp.analysis, eval_every=5 * NUM_STEPS, metric="eval"))
    write_results(tmp_path, exp, {"value_clip=none": 1.0, "value_clip=max,vf_clip_eps=0.2": 1.2,
                                  "value_clip=max,vf_clip_eps=1.0": 0.9})
    # relative to the repository root, as the README says (the kernel runs in notebooks/)
    relative = os.path.relpath(tmp_path, NOTEBOOK.parents[1])
    monkeypatch.setenv("HARNESS_EXP_DIR", relative)  # the kernel inherits the env
    monkeypatch.setenv("HARNESS_N_BOOT", "200")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "synthetic: 18 finished runs, 0 failed" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 10  # scores, aggregates, profile, PoI, 4 curves, eps sweep, every run
    assert "runs in the bottom quarter" in "".join(
        o.get("data", {}).get("text/html", "") for o in outputs)
