"""Plot functions draw given statistics on a given or new axes and save PNGs atomically."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from harness.analysis import plots

BANDS = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "global_step": [0, 5, 10] * 2,
                      "mean": [0, 1, 2, 0, 2, 4.0], "ci_low": [0, 0.5, 1.5, 0, 1.5, 3.5],
                      "ci_high": [0, 1.5, 2.5, 0, 2.5, 4.5]})
INTERVALS = pd.DataFrame({"variant": ["a", "b"], "iqm": [1.0, 2.0], "iqm_ci_low": [0.5, np.nan],
                          "iqm_ci_high": [1.5, np.nan]})
SWEEP = pd.DataFrame({"series": ["value_clip=none", "value_clip=max", "value_clip=max"],
                      "vf_clip_eps": [np.nan, 0.2, 1.0], "iqm": [1.0, 2.0, 1.0],
                      "iqm_ci_low": [0.8, 1.8, 0.9], "iqm_ci_high": [1.2, 2.2, 1.1]})
PROFILE = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "tau": [0, 0.5, 1.0] * 2,
                        "fraction": [1, 0.5, 0, 1, 0.8, 0.0], "ci_low": [1, 0.3, 0, 1, 0.6, 0],
                        "ci_high": [1, 0.7, 0, 1, 0.9, 0]})
RUNS = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 4, "score": [1.0, 1.2, 0.7, 2, 2, 0.1, 3]})
AGGREGATES = pd.DataFrame({"variant": ["a", "b"] * 4, "metric": np.repeat(
    ["IQM", "median", "mean", "optimality gap"], 2), "value": np.linspace(0.1, 0.8, 8),
    "ci_low": np.linspace(0.0, 0.7, 8), "ci_high": np.linspace(0.2, 0.9, 8)})
POI = pd.DataFrame({"comparison": ["a", "a", "b"], "scope": ["Hopper-v5", "all", "all"],
                    "prob_improvement": [0.7, 0.6, 0.4], "pi_ci_low": [0.5, 0.5, np.nan],
                    "pi_ci_high": [0.9, 0.7, np.nan]})
CALLS = [
    (plots.plot_curves, BANDS, {"ylabel": "return"}),
    (plots.plot_intervals, INTERVALS, {"value": "iqm", "low": "iqm_ci_low",
                                       "high": "iqm_ci_high", "xlabel": "IQM"}),
    (plots.plot_eps_sweep, SWEEP, {}),
    (plots.plot_probability_of_improvement, POI, {}),
    (plots.plot_performance_profile, PROFILE, {}),
    (plots.plot_final_scores, RUNS, {"intervals": INTERVALS}),
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


def test_score_plots_name_their_score():
    poi = plots.probability_of_improvement_figure(POI.assign(
        variant=POI["comparison"], control="none", metric="eval"), "none")
    assert poi.axes[0].get_xlabel() == "P(variant > control) on the eval score, 95% CI"
    ax = plots.plot_final_scores(RUNS, intervals=INTERVALS, score="eval score")
    assert ax.get_xlabel().startswith("eval score (points: runs")
    assert plots.plot_eps_sweep(SWEEP, score="eval score").get_ylabel() == (
        "eval score (IQM, 95% CI)")


def test_curves_and_profile_draw_one_line_and_band_per_variant():
    for ax in (plots.plot_curves(BANDS, ylabel="return"),
               plots.plot_curves(BANDS.rename(columns={"mean": "iqm"}), y="iqm", log=True,
                                 ylabel="fraction"),
               plots.plot_performance_profile(PROFILE)):
        assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
        assert len(ax.collections) == 2  # the CI bands
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [1, 0.8, 0.0])
    log_axes = plots.plot_curves(BANDS, ylabel="fraction", log=True)
    assert log_axes.get_yscale() == "symlog"


def test_final_scores_draw_every_run_beside_the_interval():
    ax = plots.plot_final_scores(RUNS, intervals=INTERVALS,
                                 palette=plots.variant_palette(["a", "b", "c"]))
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = np.concatenate([c.get_offsets() for c in points])
    assert sorted(offsets[:, 0]) == sorted(RUNS["score"])
    assert len({tuple(xy) for xy in offsets}) == len(RUNS)  # equal scores stay apart
    assert np.all((offsets[:3, 1] > 0) & (offsets[:3, 1] < 0.5))  # variant a's row
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]


def test_aggregates_figure_has_a_panel_per_metric():
    fig = plots.aggregates_figure(AGGREGATES)
    assert [ax.get_title() for ax in fig.axes] == ["IQM", "median", "mean", "optimality gap"]
    for ax, (_, rows) in zip(fig.axes, AGGREGATES.groupby("metric", sort=False), strict=True):
        points = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
        np.testing.assert_allclose(points, rows["value"])


def test_eps_sweep_gives_each_unclipped_control_its_own_style():
    controls = pd.DataFrame({"series": ["value_clip=none,normalize_reward=true",
                                        "value_clip=none,normalize_reward=false"],
                             "vf_clip_eps": [np.nan, np.nan], "iqm": [1.0, 0.5],
                             "iqm_ci_low": [0.9, 0.4], "iqm_ci_high": [1.1, 0.6]})
    ax = plots.plot_eps_sweep(pd.concat([SWEEP.iloc[1:], controls]))
    levels = [line for line in ax.get_lines() if "value_clip=none" in line.get_label()]
    assert [line.get_ydata()[0] for line in levels] == [1.0, 0.5]
    assert levels[0].get_linestyle() != levels[1].get_linestyle()
    assert levels[0].get_color() != levels[1].get_color()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {
        f"{s} (bar: CI)" for s in controls["series"]}


def test_eps_sweep_draws_overlapping_control_intervals_apart():
    """Two unclipped references whose CIs overlap: each CI is a bar at its own eps left of
    the sweep, not a band across the axis on top of the other."""
    controls = pd.DataFrame({"series": ["none,reward=true", "none,reward=false"],
                             "vf_clip_eps": [np.nan, np.nan], "iqm": [1.0, 1.05],
                             "iqm_ci_low": [0.8, 0.85], "iqm_ci_high": [1.2, 1.25]})
    ax = plots.plot_eps_sweep(pd.concat([SWEEP.iloc[1:], controls]))
    assert not ax.patches  # no axhspan bands
    bars = [line for line in ax.get_lines() if line.get_marker() == "s"]
    xs = [line.get_xdata()[0] for line in bars]
    assert len(set(xs)) == 2 and max(xs) < SWEEP["vf_clip_eps"].min()


def test_six_variants_get_six_distinct_colours_and_the_control_grey():
    variants = ["none", "max,0.1", "max,0.2", "max,0.5", "max,1.0", "clipped,0.2"]
    palette = plots.variant_palette(variants, control="none")
    assert palette["none"] == plots.CONTROL_GREY
    colours = np.array(list(palette.values()))
    distances = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    assert distances[np.triu_indices(len(variants), 1)].min() > 0.25


def test_eps_sweep_without_an_unclipped_variant_draws_no_band():
    # a threshold pilot (clip_pilot: max at six eps, no unclipped arm)
    ax = plots.plot_eps_sweep(SWEEP.iloc[1:])
    assert not [line for line in ax.get_lines() if "band" in line.get_label()]


@pytest.mark.parametrize("steps, text", [(0, "0"), (512, "512"), (2000, "2k"),
                                         (250_000, "250k"), (1_000_000, "1M"),
                                         (1_500_000, "1.5M"), (-50_000, "-50k")])
def test_format_steps(steps, text):
    assert plots.format_steps(steps) == text


def overlapping_tick_labels(fig: Figure) -> list[tuple[str, str, str]]:
    """(panel, first label, second label) for each pair of drawn tick labels that overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        for i, axis in enumerate((ax.xaxis, ax.yaxis)):
            low, high = sorted(axis.get_view_interval())  # labels outside it are not drawn
            shown = [t for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text() and low <= t.get_position()[i] <= high]
            for a, b in itertools.combinations(shown, 2):
                if a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)):
                    found.append((ax.get_title(), a.get_text(), b.get_text()))
    return found


@pytest.mark.parametrize("total_steps", [150_000, 1_000_000])
def test_report_figures_have_no_overlapping_tick_labels(total_steps):
    """Three env panels of curves, as in the report: 150k steps printed as plain numbers
    ("140000", "160000") run together on these panels."""
    steps = np.linspace(2048, total_steps, 50)
    envs = ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"]
    curves = pd.concat([BANDS.assign(env_id=env) for env in envs]).assign(
        global_step=np.tile(np.linspace(0, total_steps, 3), 6))
    learning = plots.facet(curves, plots.plot_curves, order=envs, ylabel="return")
    clip = plots.facet(pd.DataFrame({"env_id": "Hopper-v5", "variant": "a",
                                     "global_step": steps, "mean": np.geomspace(1e-4, 0.6, 50),
                                     "ci_low": 0.0, "ci_high": 0.7}),
                       plots.plot_curves, ylabel="value clip fraction", log=True)
    for fig in (learning, clip, plots.aggregates_figure(AGGREGATES),
                plots.performance_profile_figure(PROFILE)):
        assert overlapping_tick_labels(fig) == []


def test_the_wider_populations_long_labels_make_panel_titles_that_do_not_overlap():
    envs = ["gymnasium_robotics:PointMaze_UMazeDense-v3",
            "gymnasium_robotics:AntMaze_UMazeDense-v5[include_cfrc_ext_in_observation=false]",
            "Pendulum-v1"]
    fig = plots.facet(pd.concat([BANDS.assign(env_id=env) for env in envs]), plots.plot_curves,
                      ylabel="return")
    assert [ax.get_title() for ax in fig.axes] == [
        "PointMaze_UMazeDense-v3",
        "AntMaze_UMazeDense-v5\n[include_cfrc_ext_in_observation=false]", "Pendulum-v1"]
    fig.canvas.draw()
    boxes = [ax.title.get_window_extent(fig.canvas.get_renderer()) for ax in fig.axes]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def test_the_probability_figure_makes_room_for_the_wider_populations_legend(tmp_path):
    # 22 tasks and "all": the legend of scopes, some with arguments, collapsed the axes
    scopes = [f"gymnasium_robotics:Task{i}-v1" for i in range(20)] + [
        "gymnasium_robotics:AntMaze_UMazeDense-v5[include_cfrc_ext_in_observation=false]",
        "Pendulum-v1", "all"]
    comparisons = pd.DataFrame({"scope": scopes, "variant": "value_clip=max,vf_clip_eps=0.2",
                                "control": "value_clip=none", "prob_improvement": 0.5,
                                "pi_ci_low": 0.4, "pi_ci_high": 0.6})
    fig = plots.probability_of_improvement_figure(comparisons, "value_clip=none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when constrained layout gives up
        plots.save(fig, tmp_path / "poi.png")
    assert fig.axes[0].get_position().height > 0.3
