"""``harness report``: results/<name>/ -> results/<name>/report/ (CSV tables, PNG plots, report.md).

Reads the run files (``load``), scores the runs (``scores``), builds the tables (``tables``),
judges the claims (``claims``), draws the plots (``plots``) and renders ``report.md``
(``markdown``), all modules of ``harness.analysis``. Every file is written to a temp file first
and moved into place with ``os.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from harness.analysis import aggregates, alpha_spending, claims, markdown, plots, stability, tables
from harness.analysis.load import Results, load_results
from harness.analysis.scores import auc_scores, eval_scores, final_scores, run_curves
from harness.runs.expand import expand
from harness.runs.files import atomic_write
from harness.runs.sequential_record import SequentialRecord, read_record
from harness.runs.spec import Experiment


@dataclass(frozen=True)
class CurvePlot:
    """A curve figure: one panel per env, one line per variant with its 95% CI band."""

    metric: str
    """The ``updates`` column drawn."""
    ylabel: str
    centre: str = "mean"
    """``mean`` over runs, or ``iqm`` (rliable's sample-efficiency curve)."""
    log: bool = False
    """Log y axis (linear below ``plots.LOG_LINEAR_BELOW``), from the second update on,
    leaving out the variants that do not clip."""


CURVE_PLOTS = {  # file stem: what it draws
    "learning_curves": CurvePlot("episodic_return", "episodic return (IQM)", centre="iqm"),
    "value_clip_fraction": CurvePlot("value_clip_fraction", "value clip fraction", log=True),
    "value_loss_unclipped": CurvePlot("value_loss_unclipped", "unclipped value loss"),
    "explained_variance": CurvePlot("explained_variance", "explained variance"),
}
CURVE_BOOT = 2_000
"""Resamples for learning-curve bands: they are drawn, not tested, so fewer suffice."""


@dataclass(frozen=True)
class ReportTables:
    """What the report computes from the runs: the CSV tables and what the figures need."""

    results: Results
    """The experiment's finished runs."""
    scores: dict[str, pd.DataFrame]
    """Per-run ``final`` and ``auc`` scores, and ``eval`` scores when runs are evaluated."""
    summary: pd.DataFrame
    """``summary.csv``."""
    auc: pd.DataFrame
    """``summary_auc.csv``."""
    comparisons: pd.DataFrame
    """``comparisons.csv``."""
    stability: pd.DataFrame
    """``stability.csv``."""
    claims: list[claims.Claim]
    """The verdicts (``claims.csv``)."""
    inactive: list[str]
    """Clipped variants whose clip never acted (``claims.inactive_clips``)."""
    record: SequentialRecord | None
    """A sequential design's looks (None for a fixed design or before a look)."""

    def csv(self) -> dict[str, pd.DataFrame]:
        """The tables written as ``<name>.csv``, by name."""
        return {"summary": self.summary, "summary_auc": self.auc,
                "comparisons": self.comparisons, "stability": self.stability,
                "claims": claims.claims_table(self.claims)}


def report_tables(exp: Experiment, exp_dir: Path, *, n_boot: int = 10_000,
                  seed: int = 0) -> ReportTables:
    """Every table and verdict of the report (no file is written). ``n_boot`` bootstrap
    resamples with generator seed ``seed``; margin, alpha, power and the primary metric come
    from ``exp.analysis``. Raises ``ValueError`` when no run has finished."""
    results = experiment_results(exp, Path(exp_dir))
    scores = run_scores(exp, results)
    pairs = claims.comparison_pairs(exp)
    comparisons = tables.comparison_table(scores, pairs, primary=claims.primary_pairs(exp),
                                          settings=exp.analysis, n_boot=n_boot, seed=seed)
    record = read_record(exp_dir) if exp.looks else None
    level = record.looks[-1].level if record else None  # see claims.evaluate_claims
    if record:
        comparisons = alpha_spending.with_decisions(comparisons, alpha_spending.decisions(record))
    steadiness = stability.stability_table(scores[exp.analysis.metric],
                                           stability.collapses(results.updates), pairs,
                                           exp.analysis, level, exp.looks if record else ())
    inactive = claims.inactive_clips(exp, results.updates)
    return ReportTables(results, scores,
                        tables.summary_table(scores["final"], n_boot=n_boot, seed=seed),
                        tables.summary_table(scores["auc"], n_boot=n_boot, seed=seed),
                        comparisons, steadiness,
                        claims.evaluate_claims(exp, comparisons, steadiness, level, inactive),
                        inactive, record)


def run_scores(exp: Experiment, results: Results) -> dict[str, pd.DataFrame]:
    """Each run's ``final`` and ``auc`` score, and its ``eval`` score when the experiment
    evaluates its runs (``env_id``, ``variant``, ``seed``, ``score``, ...), in the
    experiment's order."""
    final = final_scores(results.episodes, exp.analysis.final_window, exp.steps)
    scores = {"final": final, "auc": auc_scores(results.updates)}
    if exp.analysis.eval_every is not None:
        scores["eval"] = eval_scores(results.evals)
    return {metric: tables.in_experiment_order(frame, exp) for metric, frame in scores.items()}


def write_report(exp: Experiment, exp_dir: Path, *, n_boot: int = 10_000, seed: int = 0) -> Path:
    """Write ``exp_dir/report/`` for ``exp`` (``report_tables`` as CSV, the figures and
    ``report.md``) and return that directory."""
    exp_dir = Path(exp_dir)
    t = report_tables(exp, exp_dir, n_boot=n_boot, seed=seed)
    report_dir = exp_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    primary_metric = t.comparisons[t.comparisons["metric"] == exp.analysis.metric]
    figures = write_plots(exp, t.results, t.scores["final"], t.summary, primary_metric,
                          tables.eps_sweep_table(t.summary, exp), report_dir, n_boot=n_boot,
                          seed=seed)
    for name, frame in t.csv().items():
        _write_text(report_dir / f"{name}.csv", frame.to_csv(index=False))
    text = markdown.render(
        exp, exp_dir, t.results, final=t.scores["final"], summary=t.summary, auc=t.auc,
        comparisons=t.comparisons, stability=t.stability, claims=t.claims, figures=figures,
        baselines=claims.baselines_variants(exp), inactive=t.inactive, record=t.record,
        n_boot=n_boot, seed=seed)
    _write_text(report_dir / "report.md", text)
    return report_dir


def experiment_results(exp: Experiment, exp_dir: Path) -> Results:
    """The finished runs of ``exp`` as it is now: its run ids only, so runs left in the dir
    by an earlier version of the file (another ``total_steps``, seeds or settings) or by
    other experiments are ignored."""
    results = load_results(exp_dir)
    ids = {s.run_id for s in expand(exp)}

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["run_id"].isin(ids)].reset_index(drop=True)

    results = Results(keep(results.updates), keep(results.episodes), results.failures,
                      keep(results.evals))
    if not results.run_ids:
        source = exp.source or "EXPERIMENT.yaml"
        raise ValueError(f"no finished runs in {exp_dir}: run `harness run {source}` first")
    return results


def write_plots(exp: Experiment, results: Results, final: pd.DataFrame, summary: pd.DataFrame,
                comparisons: pd.DataFrame, sweep: pd.DataFrame, report_dir: Path, *,
                n_boot: int, seed: int) -> markdown.Figures:
    """Draw every report figure into ``report_dir``, each PNG beside a CSV of the table it
    draws, with the same stem (the probability of improvement draws ``comparisons.csv``).

    ``final``: the final score of each run (``scores.final_scores``). Curve bands take at
    most ``CURVE_BOOT`` resamples. Returns the PNG names written.
    """
    palette = plots.variant_palette([v.label for v in exp.variants])
    order = list(exp.envs)

    def draw(stem: str, fig: Figure, table: pd.DataFrame) -> str:
        _write_text(report_dir / f"{stem}.csv", table.to_csv(index=False))
        return plots.save(fig, report_dir / f"{stem}.png").name

    runs = final[["env_id", "variant", "seed", "score"]]
    final_png = draw("final_scores", plots.facet(
        runs, plots.plot_final_scores, order=order, sharey=True,
        per_panel={"intervals": summary}, palette=palette), runs)
    normalised = aggregates.minmax_normalised(final)
    panel = aggregates.aggregate_table(normalised, n_boot=n_boot, seed=seed)
    panel_png = draw("aggregates", plots.aggregates_figure(panel, palette=palette), panel)
    profile = aggregates.profile_table(normalised, n_boot=n_boot, seed=seed)
    profile_png = draw("performance_profile",
                       plots.performance_profile_figure(profile, palette=palette), profile)
    curves = {}
    for stem, curve in CURVE_PLOTS.items():
        bands = curve_table(curve, exp, results.updates, n_boot=min(n_boot, CURVE_BOOT),
                            seed=seed)
        if not bands.empty:
            curves[stem] = draw(stem, plots.facet(
                bands, plots.plot_curves, order=order, ylabel=curve.ylabel, y=curve.centre,
                log=curve.log, palette=palette), bands)
    poi = None
    if not comparisons.empty:
        poi = plots.save(plots.probability_of_improvement_figure(comparisons, exp.control),
                         report_dir / "prob_improvement.png").name
    eps = draw("eps_sweep", plots.facet(sweep, plots.plot_eps_sweep, order=order),
               sweep) if not sweep.empty else None
    for stem in ["prob_improvement", "eps_sweep", *CURVE_PLOTS]:  # left by an earlier report
        if f"{stem}.png" not in (poi, eps, *curves.values()):
            (report_dir / f"{stem}.png").unlink(missing_ok=True)
            (report_dir / f"{stem}.csv").unlink(missing_ok=True)
    return markdown.Figures(final_scores=final_png, prob_improvement=poi, curves=curves,
                            eps_sweep=eps, aggregates=panel_png, performance_profile=profile_png)


def curve_table(curve: CurvePlot, exp: Experiment, updates: pd.DataFrame, *, n_boot: int,
                seed: int) -> pd.DataFrame:
    """The bands ``curve`` draws (``tables.curve_bands`` columns, ``curve.centre`` for the
    centre); empty when no run logged the metric."""
    if curve.log:
        clipping = [label for label, c in tables.resolved_configs(exp).items() if c.clips_value]
        updates = aggregates.after_first_update(updates, clipping)
    run_values = run_curves(updates, curve.metric)
    if curve.centre == "iqm":
        return aggregates.iqm_curve_bands(run_values, n_boot=n_boot, seed=seed)
    return tables.curve_bands(run_values, n_boot=n_boot, seed=seed)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))
