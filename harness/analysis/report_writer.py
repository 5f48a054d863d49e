"""``harness report``: results/<name>/ -> results/<name>/report/ (CSV tables, PNG plots, report.md).

Computes the tables and verdicts (``report_tables``: the runs from ``study``, the comparisons
of ``pairs``, ``tables``, ``claims``), draws the plots (``plots``) and renders ``report.md``
(``markdown``), all modules of ``harness.analysis``. Every file is written to a temp file first
and moved into place with ``os.replace``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from harness.analysis import aggregates, markdown, plots, prereg, published, tables
from harness.analysis.load import read_sessions
from harness.analysis.report_tables import (
    CURVE_BOOT,
    CURVE_PLOTS,
    ReportTables,
    curve_table,
    eval_curve_table,
    report_tables,
)
from harness.analysis.scores import SCORE_NAMES
from harness.runs.files import atomic_write
from harness.runs.plan_history import registration
from harness.runs.spec import Experiment


def write_report(exp: Experiment, exp_dir: Path, *, n_boot: int = 10_000, seed: int = 0) -> Path:
    """Write ``exp_dir/report/`` for ``exp`` (``report_tables`` as CSV, the figures,
    ``prereg.json`` and ``report.md``) and return that directory."""
    exp_dir = Path(exp_dir)
    t = report_tables(exp, exp_dir, n_boot=n_boot, seed=seed)
    report_dir = exp_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    figures = write_plots(exp, t, report_dir, n_boot=n_boot, seed=seed)
    for name, frame in t.csv().items():
        _write_text(report_dir / f"{name}.csv", frame.to_csv(index=False))
    # a plan is dated by git and the manifest, not computed from the runs: not in t.csv()
    registered = (prereg.timing(registration(exp), read_sessions(exp_dir))
                  if exp.analysis.claims else None)
    _write_text(report_dir / "prereg.json",
                json.dumps(prereg.record(exp, registered), indent=1) + "\n")
    text = markdown.render(exp, exp_dir, t, figures, n_boot=n_boot, seed=seed,
                           registered=registered)
    _write_text(report_dir / "report.md", text)
    return report_dir


def write_plots(exp: Experiment, t: ReportTables, report_dir: Path, *, n_boot: int,
                seed: int) -> markdown.Figures:
    """Draw every report figure into ``report_dir``, each PNG beside a CSV of the table it
    draws, with the same stem (the probability of improvement draws ``comparisons.csv``).

    Runs' scores are drawn on the final score, and on the eval score too when runs are
    evaluated; the probability of improvement and the eps sweep on the primary score
    (``analysis.metric``). Curve bands take at most ``CURVE_BOOT`` resamples. Returns the
    PNG names written.
    """
    palette = plots.variant_palette([v.label for v in exp.variants], exp.control)
    order = list(exp.envs)

    def draw(stem: str, fig: Figure, table: pd.DataFrame) -> str:
        _write_text(report_dir / f"{stem}.csv", table.to_csv(index=False))
        return plots.save(fig, report_dir / f"{stem}.png").name

    def run_scores(stem: str, metric: str) -> str:
        runs = t.scores[metric][["env_id", "variant", "seed", "score"]]
        return draw(stem, plots.facet(
            runs, plots.plot_final_scores, order=order, sharey=True, score=SCORE_NAMES[metric],
            per_panel={"intervals": t.summary_of(metric)}, palette=palette), runs)

    final_png = run_scores("final_scores", "final")
    eval_png = run_scores("eval_scores", "eval") if t.evaluation is not None else None
    normalised = aggregates.normalised(t.scores["final"], published.anchors())
    panel = aggregates.aggregate_table(normalised, n_boot=n_boot, seed=seed)
    panel_png = draw("aggregates", plots.aggregates_figure(panel, palette=palette), panel)
    profile = aggregates.profile_table(normalised, n_boot=n_boot, seed=seed)
    profile_png = draw("performance_profile",
                       plots.performance_profile_figure(profile, palette=palette), profile)
    curves = {}
    for stem, curve in CURVE_PLOTS.items():
        bands = curve_table(curve, exp, t.results.updates, n_boot=min(n_boot, CURVE_BOOT),
                            seed=seed)
        if not bands.empty:
            curves[stem] = draw(stem, plots.facet(
                bands, plots.plot_curves, order=order, ylabel=curve.ylabel, y=curve.centre,
                log=curve.log, palette=palette), bands)
        if stem == "learning_curves":  # the evaluations' curve right after the training one
            bands = eval_curve_table(t.results.evals, n_boot=min(n_boot, CURVE_BOOT), seed=seed)
            if not bands.empty:
                curves["eval_curves"] = draw("eval_curves", plots.facet(
                    bands, plots.plot_curves, order=order, ylabel="eval return (IQM)", y="iqm",
                    palette=palette), bands)
    metric = exp.analysis.metric
    # P(X>Y) is one number per pair and scope: the random-effects rows repeat it
    primary = t.comparisons[(t.comparisons["metric"] == metric)
                            & (t.comparisons["estimand"] == "fixed")]
    poi = None
    if not primary.empty:
        poi = plots.save(plots.probability_of_improvement_figure(primary, exp.control),
                         report_dir / "prob_improvement.png").name
    sweep = tables.eps_sweep_table(t.summary_of(metric), exp)
    eps = draw("eps_sweep", plots.facet(sweep, plots.plot_eps_sweep, order=order,
                                        score=SCORE_NAMES[metric]),
               sweep) if not sweep.empty else None
    # figures left by an earlier report
    for stem in ["prob_improvement", "eps_sweep", "eval_scores", "eval_curves", *CURVE_PLOTS]:
        if f"{stem}.png" not in (poi, eps, eval_png, *curves.values()):
            (report_dir / f"{stem}.png").unlink(missing_ok=True)
            (report_dir / f"{stem}.csv").unlink(missing_ok=True)
    return markdown.Figures(final_scores=final_png, prob_improvement=poi, curves=curves,
                            eps_sweep=eps, aggregates=panel_png, performance_profile=profile_png,
                            eval_scores=eval_png)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))
