"""Comparison plots (seaborn on matplotlib's Agg canvas, no pyplot state).

As in rliable, each ``plot_*`` function draws precomputed statistics on one axes: it takes
``ax=None`` (a new figure is made), returns the axes and never computes a statistic.
``facet`` lays one such plot out per env (or per metric); ``save`` writes a PNG atomically.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.runs.files import atomic_write

STYLE = "whitegrid"
MAX_COLS = 3
"""Panels per row of a faceted figure."""
Palette = dict[str, tuple[float, float, float]]
TAB10_GREY = 7
"""tab10's grey, kept for the control."""
CONTROL_GREY = (0.45, 0.45, 0.45)
LOG_LINEAR_BELOW = 1e-3
"""Log curve axes are linear below this value (matplotlib's symlog): fractions under 0.1%."""
CONTROL_DASHES = ("--", ":", "-.", (0, (5, 2, 1, 2, 1, 2)), (0, (8, 3)), (0, (1, 4)))
"""Line styles of the unclipped reference levels in the eps sweep, one per control."""
CONTROL_BAR_STEP = 1.25
"""Factor on the eps axis between the unclipped references' CI bars, left of the sweep."""


def variant_palette(variants: Sequence[str], control: str | None = None) -> Palette:
    """One colour per variant, stable across all plots of a report: the ``control`` grey,
    the others tab10's distinct hues in turn (its own grey left out), so six variants get
    no two alike (seaborn's colorblind palette has three near oranges)."""
    others = [v for v in variants if v != control]
    colours = dict(zip(others, itertools.cycle(_hues()), strict=False))
    return {v: CONTROL_GREY if v == control else colours[v] for v in variants}


def _hues() -> list[tuple[float, float, float]]:
    """tab10 without its grey: nine hues no two of which look alike."""
    return [c for i, c in enumerate(sns.color_palette("tab10")) if i != TAB10_GREY]


def new_figure(n_panels: int = 1, *, width: float = 5.0, height: float = 3.6,
               max_cols: int = MAX_COLS, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes of ``width`` x ``height`` inches, ``max_cols`` to a row,
    drawn by the Agg backend (no pyplot, so no global figure state)."""
    cols = min(n_panels, max_cols)
    rows = -(-n_panels // cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    with sns.axes_style(STYLE):
        axes = list(fig.subplots(rows, cols, squeeze=False, sharey=sharey).flat)
    for spare in axes[n_panels:]:
        spare.remove()
    return fig, axes[:n_panels]


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else new_figure()[1][0]


def _palette(frame: pd.DataFrame, palette: Palette | None) -> Palette:
    return palette or variant_palette(list(dict.fromkeys(frame["variant"])))


def format_steps(x: float, _pos: int | None = None) -> str:
    """A step count as tick text: 0, 500, 250k, 1.5M (a matplotlib ``FuncFormatter``).

    Plain six-digit counts run together on a narrow panel ("250005000075000").
    """
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _lines_with_bands(frame: pd.DataFrame, *, x: str, y: str, palette: Palette,
                      ax: Axes) -> None:
    """One line per variant (in ``palette`` order) with its ``ci_low``..``ci_high`` band."""
    for variant in [v for v in palette if v in set(frame["variant"])]:
        rows = frame[frame["variant"] == variant]
        ax.plot(rows[x], rows[y], color=palette[variant], label=variant)
        ax.fill_between(rows[x], rows["ci_low"], rows["ci_high"], color=palette[variant],
                        alpha=0.2, linewidth=0)
    ax.legend()


def plot_curves(bands: pd.DataFrame, *, ylabel: str, y: str = "mean", log: bool = False,
                palette: Palette | None = None, ax: Axes | None = None) -> Axes:
    """Curve ``y`` over env steps per variant with its CI band, for one env.

    ``bands``: ``variant``, ``global_step``, ``y``, ``ci_low``, ``ci_high`` (``tables.curve_bands``
    or ``aggregates.iqm_curve_bands``). ``log``: a log y axis above ``LOG_LINEAR_BELOW`` and a
    linear stretch below it, so that a 0 (an update without clipping) is drawn as 0.
    """
    ax = _axes(ax)
    if log:
        ax.set_yscale("symlog", linthresh=LOG_LINEAR_BELOW, linscale=0.5)
    _lines_with_bands(bands, x="global_step", y=y, palette=_palette(bands, palette), ax=ax)
    ax.xaxis.set_major_formatter(FuncFormatter(format_steps))
    ax.set(xlabel="environment steps", ylabel=ylabel)
    return ax


def plot_performance_profile(profile: pd.DataFrame, *, palette: Palette | None = None,
                             ax: Axes | None = None) -> Axes:
    """rliable's performance profile: fraction of runs scoring above tau, with its CI band.

    ``profile``: ``variant``, ``tau``, ``fraction``, ``ci_low``, ``ci_high``
    (``aggregates.profile_table``). A curve above another everywhere dominates it.
    """
    ax = _axes(ax)
    _lines_with_bands(profile, x="tau", y="fraction", palette=_palette(profile, palette), ax=ax)
    ax.set(xlabel="normalised score τ", ylabel="fraction of runs with score > τ",
           xlim=(0, 1), ylim=(0, 1.02))
    return ax


def plot_final_scores(runs: pd.DataFrame, *, intervals: pd.DataFrame, score: str = "final score",
                      palette: Palette | None = None, ax: Axes | None = None) -> Axes:
    """Every run's ``score`` (final or eval) as a point, beside the IQM and its 95% CI, for
    one env.

    ``runs``: ``variant``, ``score``, one row per run; ``intervals``: ``variant``, ``iqm``,
    ``iqm_ci_low``, ``iqm_ci_high`` (``summary.csv`` rows). rliable shows intervals only;
    with 5-10 runs the points also show what an interval hides, such as bimodal outcomes.
    """
    ax = _axes(ax)
    palette = _palette(runs, palette)
    lines = list(palette)
    for variant, rows in runs.groupby("variant", sort=False):
        # spread over the lower half of the variant's row (y grows downwards here), so equal
        # scores stay visible and the interval on the row itself stays clear
        spread = np.linspace(0.12, 0.38, len(rows)) if len(rows) > 1 else np.array([0.25])
        ax.scatter(rows["score"], lines.index(variant) + spread, s=14, alpha=0.6,
                   color=palette[variant], linewidth=0)
    return plot_intervals(intervals, value="iqm", low="iqm_ci_low", high="iqm_ci_high",
                          xlabel=f"{score} (points: runs; IQM, 95% CI)", palette=palette,
                          ax=ax)


def plot_intervals(rows: pd.DataFrame, *, value: str, low: str, high: str, xlabel: str,
                   label: str = "variant", palette: Palette | None = None,
                   ax: Axes | None = None) -> Axes:
    """A point and its interval per ``label``, one line each (rliable's interval plot).

    ``rows``: columns ``label``, ``value``, ``low``, ``high``. With a ``palette`` the lines
    follow its order (a label without a row leaves its line empty), so panels line up.
    """
    ax = _axes(ax)
    palette = palette or variant_palette(list(dict.fromkeys(rows[label])))
    lines = list(palette)
    for row in rows.itertuples():
        point, lo, hi = getattr(row, value), getattr(row, low), getattr(row, high)
        err = np.nan_to_num([[point - lo], [hi - point]])
        ax.errorbar(point, lines.index(getattr(row, label)), xerr=err, fmt="o", capsize=4,
                    color=palette[getattr(row, label)])
    ax.set_yticks(range(len(lines)), lines)
    ax.set_ylim(len(lines) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    return ax


def plot_probability_of_improvement(rows: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """P(variant > control) with its CI: one line per ``comparison``, one colour per ``scope``.

    ``rows``: ``comparison``, ``scope``, ``prob_improvement``, ``pi_ci_low``, ``pi_ci_high``;
    the dashed line at 0.5 is "no difference".
    """
    ax = _axes(ax)
    labels = list(dict.fromkeys(rows["comparison"]))
    scopes = list(dict.fromkeys(rows["scope"]))
    colors = sns.color_palette("dark", len(scopes))
    offsets = np.linspace(-0.25, 0.25, len(scopes)) if len(scopes) > 1 else [0.0]
    for scope, color, offset in zip(scopes, colors, offsets, strict=True):
        sub = rows[rows["scope"] == scope]
        y = [labels.index(c) + offset for c in sub["comparison"]]
        point = sub["prob_improvement"]
        err = np.nan_to_num([point - sub["pi_ci_low"], sub["pi_ci_high"] - point])
        ax.errorbar(point, y, xerr=err, fmt="o", capsize=3, color=color,
                    label=panel_title(scope))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(-0.02, 1.02)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    scores = " and ".join(dict.fromkeys(rows["metric"])) if "metric" in rows else ""
    ax.set_xlabel(f"P(variant > control) on the {scores} score, 95% CI" if scores
                  else "P(variant > control), 95% CI")
    ax.legend(title="scope", loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def probability_of_improvement_figure(comparisons: pd.DataFrame, control: str) -> Figure:
    """``plot_probability_of_improvement`` of a comparison table, sized to its labels.

    Rows against ``control`` are labelled by their variant, other rows "variant vs control".
    """
    labelled = comparisons.assign(comparison=[
        v if c == control else f"{v}\nvs {c}"
        for v, c in zip(comparisons["variant"], comparisons["control"], strict=True)])
    longest = max(len(line) for c in labelled["comparison"] for line in c.splitlines())
    scopes = [panel_title(s) for s in labelled["scope"].unique()]
    widest = max(len(line) for s in scopes for line in s.splitlines())
    # ~0.08 inch per tick-label character, ~0.07 per legend character; the scopes' legend (a
    # row per env, two for one with arguments; 23 envs in the wider population) ~0.22 a row
    rows = sum(len(s.splitlines()) for s in scopes)
    fig, (ax,) = new_figure(width=5 + 0.08 * longest + 0.07 * widest,
                            height=max(1 + 0.6 * labelled["comparison"].nunique(),
                                       0.6 + 0.22 * rows))
    plot_probability_of_improvement(labelled, ax=ax)
    return fig


def plot_eps_sweep(sweep: pd.DataFrame, *, score: str = "final score",
                   ax: Axes | None = None) -> Axes:
    """``score`` IQM (95% CI) against ``vf_clip_eps`` per series, for one env; unclipped
    rows (``vf_clip_eps`` NaN) are drawn as horizontal reference bands.

    ``sweep``: ``tables.eps_sweep_table`` rows of one env.
    """
    ax = _axes(ax)
    clipped = sweep[sweep["vf_clip_eps"].notna()]
    colors = dict(zip(dict.fromkeys(clipped["series"]), itertools.cycle(_hues()),
                      strict=False))
    for series, line in clipped.groupby("series", sort=False):
        err = np.nan_to_num([line["iqm"] - line["iqm_ci_low"], line["iqm_ci_high"] - line["iqm"]])
        ax.errorbar(line["vf_clip_eps"], line["iqm"], yerr=err, marker="o", capsize=4,
                    color=colors[series], label=series)
    controls = sweep[sweep["vf_clip_eps"].isna()]
    eps = sorted(clipped["vf_clip_eps"].unique())
    # several unclipped references (e.g. reward scaling on and off): one grey and dash each,
    # each CI a bar of its own left of the smallest eps, side by side, where bands across
    # the whole axis would overlap
    greys = np.linspace(0.1, 0.5, len(controls)) if len(controls) != 1 else [0.3]
    for i, (row, grey) in enumerate(zip(controls.itertuples(), greys, strict=True)):
        color, dash = str(grey), CONTROL_DASHES[i % len(CONTROL_DASHES)]  # a grey level
        ax.axhline(row.iqm, color=color, linestyle=dash, label=f"{row.series} (bar: CI)")
        bar = ax.errorbar([eps[0] * CONTROL_BAR_STEP ** -(len(controls) - i)], [row.iqm],
                          yerr=np.nan_to_num([[row.iqm - row.iqm_ci_low],
                                              [row.iqm_ci_high - row.iqm]]),
                          color=color, capsize=4, marker="s")
        bar[-1][0].set_linestyle(dash)
    ax.set_xscale("log")
    ax.set_xticks(eps, [f"{e:g}" for e in eps], minor=False)
    ax.set_xticks([], minor=True)
    ax.set(xlabel="vf_clip_eps", ylabel=f"{score} (IQM, 95% CI)")
    ax.legend()
    return ax


def performance_profile_figure(profile: pd.DataFrame, *,
                               palette: Palette | None = None) -> Figure:
    """``plot_performance_profile`` of ``profile``, widened for the legend beside the axes."""
    longest = max(map(len, profile["variant"]), default=0)
    fig, (ax,) = new_figure(width=5 + 0.07 * longest)  # ~0.07 inch per small legend character
    plot_performance_profile(profile, palette=palette, ax=ax)
    return _legend_outside(fig)


def aggregates_figure(aggregates: pd.DataFrame, *, palette: Palette | None = None) -> Figure:
    """rliable's aggregate panel: a ``plot_intervals`` panel per metric, all in one row.

    ``aggregates``: ``variant``, ``metric``, ``value``, ``ci_low``, ``ci_high``
    (``aggregates.aggregate_table``), on normalised scores.
    """
    return facet(aggregates, plot_intervals, by="metric", sharey=True,
                 max_cols=aggregates["metric"].nunique(), width=3.2, value="value",
                 low="ci_low", high="ci_high", xlabel="normalised score", palette=palette)


def facet(frame: pd.DataFrame, plot: Callable[..., Axes], *, by: str = "env_id",
          order: Sequence[str] | None = None, sharey: bool = False, max_cols: int = MAX_COLS,
          width: float = 5.0, per_panel: Mapping[str, pd.DataFrame] | None = None,
          **kwargs) -> Figure:
    """One panel per value of ``by`` (in ``order``), each drawn by ``plot(rows, ax=…)``;
    the panels' legends are merged into one figure legend on the right.

    ``per_panel``: further frames with a ``by`` column, passed to ``plot`` by keyword, each
    cut to the panel's rows as well. ``max_cols`` and ``width`` as for ``new_figure``.
    """
    keys = [k for k in (order or dict.fromkeys(frame[by])) if (frame[by] == k).any()]
    fig, axes = new_figure(len(keys), sharey=sharey, max_cols=max_cols, width=width)
    for ax, key in zip(axes, keys, strict=True):
        extra = {name: other[other[by] == key] for name, other in (per_panel or {}).items()}
        plot(frame[frame[by] == key], ax=ax, **extra, **kwargs)
        ax.set_title(panel_title(str(key)))
    return _legend_outside(fig)


def panel_title(env: str) -> str:
    """An env label as a panel's title: without the module gymnasium imports to register it
    (``gymnasium_robotics:``), its arguments on a line of their own, so that the panels of
    the wider population's long labels do not overlap."""
    name, bracket, arguments = env.partition("[")
    name = name.rpartition(":")[2]
    return f"{name}\n[{arguments}" if bracket else name


def _legend_outside(fig: Figure) -> Figure:
    """Merge the legends of ``fig``'s axes into one figure legend on the right, where long
    variant labels cover no data."""
    legend: dict[str, Artist] = {}
    for ax in fig.axes:
        if ax.get_legend() is not None:
            handles, labels = ax.get_legend_handles_labels()
            legend |= dict(zip(labels, handles, strict=True))
            ax.get_legend().remove()
    if legend:
        fig.legend(legend.values(), legend.keys(), loc="outside right upper", fontsize="small")
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path``, atomically (``runs.files.atomic_write``)."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    return path
