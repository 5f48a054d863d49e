"""Plot functions draw given statistics on a given or new axes and save PNGs atomically."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from harness.analysis import plots

BANDS = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "global_step": [0, 5, 10] * 2,
                      "mean": [0, 1, 2, 0, 2, 4.0], "ci_low": [0, 0.5, 1.5, 0, 1.5, 3.5],
                      "ci_high": [0, 1.5, 2.5, 0, 2.5, 4.5]})
INTERVALS = pd.DataFrame({"variant": ["a", "b"], "iqm": [1.0, 2.0], "iqm_ci_low": [0.5, np.nan],
                          "iqm_ci_high": [1.5, np.nan]})
SWEEP = pd.DataFrame({"series": ["value_clip=none", "value_clip=max", "value_clip=max"],
                      "vf_clip_eps": [np.nan, 0.2, 1.0], "iqm": [1.0, 2.0, 1.0],
                      "iqm_ci_low": [0.8, 1.8, 0.9], "iqm_ci_high": [1.2, 2.2, 1.1]})
POI = pd.DataFrame({"comparison": ["a", "a", "b"], "scope": ["Hopper-v5", "all", "all"],
                    "prob_improvement": [0.7, 0.6, 0.4], "pi_ci_low": [0.5, 0.5, np.nan],
                    "pi_ci_high": [0.9, 0.7, np.nan]})
CALLS = [
    (plots.plot_curves, BANDS, {"ylabel": "return"}),
    (plots.plot_intervals, INTERVALS, {"value": "iqm", "low": "iqm_ci_low",
                                       "high": "iqm_ci_high", "xlabel": "IQM"}),
    (plots.plot_eps_sweep, SWEEP, {}),
    (plots.plot_probability_of_improvement, POI, {}),
]


@pytest.mark.parametrize("plot, data, kwargs", CALLS)
def test_plot_functions_take_and_return_axes(plot, data, kwargs):
    assert isinstance(plot(data, **kwargs), Axes)
    _, (ax,) = plots.new_figure()
    assert plot(data, ax=ax, **kwargs) is ax


def test_facet_and_save(tmp_path):
    frame = pd.concat([BANDS.assign(env_id="Hopper-v5"), BANDS.assign(env_id="Ant-v5")])
    fig = plots.facet(frame, plots.plot_curves, order=["Hopper-v5", "Ant-v5", "Absent-v5"],
                      ylabel="return")
    assert [ax.get_title() for ax in fig.axes] == ["Hopper-v5", "Ant-v5"]
    assert len(fig.legends) == 1
    path = plots.save(fig, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_probability_of_improvement_figure_labels_other_controls():
    comparisons = pd.DataFrame({"scope": ["all", "all"], "variant": ["a", "b"],
                                "control": ["none", "c"], "prob_improvement": [0.7, 0.4],
                                "pi_ci_low": [0.5, 0.2], "pi_ci_high": [0.9, 0.6]})
    fig = plots.probability_of_improvement_figure(comparisons, "none")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["a", "b\nvs c"]
