"""Comparison plots (seaborn on matplotlib's Agg canvas, no pyplot state).

As in rliable, each ``plot_*`` function draws precomputed statistics on one axes: it takes
``ax=None`` (a new figure is made), returns the axes and never computes a statistic.
``facet`` lays one such plot out per env; ``save`` writes a PNG atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.runs.files import atomic_write

STYLE = "whitegrid"
MAX_COLS = 3
"""Panels per row of a faceted figure."""
Palette = dict[str, tuple[float, float, float]]


def variant_palette(variants: Sequence[str]) -> Palette:
    """One colour per variant, stable across all plots of a report."""
    return dict(zip(variants, sns.color_palette("colorblind", len(variants)), strict=True))


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


def plot_curves(bands: pd.DataFrame, *, ylabel: str, palette: Palette | None = None,
                ax: Axes | None = None) -> Axes:
    """Mean curve per variant with its CI band, for one env.

    ``bands``: ``variant``, ``global_step``, ``mean``, ``ci_low``, ``ci_high``.
    """
    ax = _axes(ax)
    palette = palette or variant_palette(list(dict.fromkeys(bands["variant"])))
    sns.lineplot(data=bands, x="global_step", y="mean", hue="variant", palette=palette,
                 hue_order=[v for v in palette if v in set(bands["variant"])], errorbar=None,
                 ax=ax)
    for variant, band in bands.groupby("variant", sort=False):
        ax.fill_between(band["global_step"], band["ci_low"], band["ci_high"],
                        color=palette[variant], alpha=0.2, linewidth=0)
    ax.set(xlabel="environment steps", ylabel=ylabel)
    return ax


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
        ax.errorbar(point, y, xerr=err, fmt="o", capsize=3, color=color, label=scope)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(-0.02, 1.02)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("P(variant > control), 95% CI")
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
    fig, (ax,) = new_figure(width=5 + 0.08 * longest,  # ~0.08 inch per tick-label character
                            height=1 + 0.6 * labelled["comparison"].nunique())
    plot_probability_of_improvement(labelled, ax=ax)
    return fig


def plot_eps_sweep(sweep: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Final-score IQM (95% CI) against ``vf_clip_eps`` per series, for one env; unclipped
    rows (``vf_clip_eps`` NaN) are drawn as horizontal reference bands.

    ``sweep``: ``tables.eps_sweep_table`` rows of one env.
    """
    ax = _axes(ax)
    clipped = sweep[sweep["vf_clip_eps"].notna()]
    colors = dict(zip(dict.fromkeys(clipped["series"]),
                      sns.color_palette("colorblind", clipped["series"].nunique()), strict=True))
    for series, line in clipped.groupby("series", sort=False):
        err = np.nan_to_num([line["iqm"] - line["iqm_ci_low"], line["iqm_ci_high"] - line["iqm"]])
        ax.errorbar(line["vf_clip_eps"], line["iqm"], yerr=err, marker="o", capsize=4,
                    color=colors[series], label=series)
    greys = sns.color_palette("Greys", len(sweep) + 2)[::-1]
    for i, row in enumerate(sweep[sweep["vf_clip_eps"].isna()].itertuples()):
        ax.axhspan(row.iqm_ci_low, row.iqm_ci_high, color=greys[i + 1], alpha=0.25, linewidth=0)
        ax.axhline(row.iqm, color=greys[i + 1], linestyle="--", label=f"{row.series} (band: CI)")
    ax.set_xscale("log")
    eps = sorted(clipped["vf_clip_eps"].unique())
    ax.set_xticks(eps, [f"{e:g}" for e in eps], minor=False)
    ax.set_xticks([], minor=True)
    ax.set(xlabel="vf_clip_eps", ylabel="final score (IQM, 95% CI)")
    ax.legend()
    return ax


def facet(frame: pd.DataFrame, plot: Callable[..., Axes], *, by: str = "env_id",
          order: Sequence[str] | None = None, sharey: bool = False, **kwargs) -> Figure:
    """One panel per value of ``by`` (in ``order``), each drawn by ``plot(rows, ax=…)``;
    the panels' legends are merged into one figure legend on the right."""
    keys = [k for k in (order or dict.fromkeys(frame[by])) if (frame[by] == k).any()]
    fig, axes = new_figure(len(keys), sharey=sharey)
    legend: dict[str, Artist] = {}
    for ax, key in zip(axes, keys, strict=True):
        plot(frame[frame[by] == key], ax=ax, **kwargs)
        ax.set_title(str(key))
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
