"""``harness report``: results/<name>/ -> results/<name>/report/ (CSV tables, PNG plots, report.md).

Reads the run files (``load``), scores the runs (``scores``), builds the tables (``tables``),
judges the claims (``claims``), draws the plots (``plots``) and renders ``report.md``
(``markdown``), all modules of ``harness.analysis``. Every file is written to a temp file first
and moved into place with ``os.replace``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.analysis import claims, markdown, plots, stability, tables
from harness.analysis.load import Results, load_results
from harness.analysis.scores import auc_scores, final_scores, run_curves
from harness.runs.files import atomic_write
from harness.runs.spec import Experiment

CURVE_PLOTS = {  # file stem: (updates column, y label)
    "learning_curves": ("episodic_return", "episodic return"),
    "value_clip_fraction": ("value_clip_fraction", "value clip fraction"),
    "value_loss_unclipped": ("value_loss_unclipped", "unclipped value loss"),
    "explained_variance": ("explained_variance", "explained variance"),
}
CURVE_BOOT = 2_000
"""Resamples for learning-curve bands: they are drawn, not tested, so fewer suffice."""


def write_report(exp: Experiment, exp_dir: Path, *, n_boot: int = 10_000, seed: int = 0) -> Path:
    """Write ``exp_dir/report/`` for ``exp`` and return that directory.

    ``n_boot`` bootstrap resamples with generator seed ``seed``; margin, alpha, power and the
    primary metric come from ``exp.analysis``. Raises ``ValueError`` when no run has finished.
    """
    exp_dir = Path(exp_dir)
    results = experiment_results(exp, exp_dir)
    final = final_scores(results.episodes, exp.analysis.final_window, exp.total_steps)
    scores = {"final": tables.in_experiment_order(final, exp),
              "auc": tables.in_experiment_order(auc_scores(results.updates), exp)}
    summary = tables.summary_table(scores["final"], n_boot=n_boot, seed=seed)
    auc = tables.summary_table(scores["auc"], n_boot=n_boot, seed=seed)
    pairs = claims.comparison_pairs(exp)
    comparisons = tables.comparison_table(scores, pairs, primary=claims.primary_pairs(exp),
                                          settings=exp.analysis, n_boot=n_boot, seed=seed)
    steadiness = stability.stability_table(scores[exp.analysis.metric],
                                           stability.collapses(results.updates), pairs,
                                           exp.analysis)
    verdicts = claims.evaluate_claims(exp, comparisons, steadiness)
    sweep = tables.eps_sweep_table(summary, exp)
    report_dir = exp_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    primary_metric = comparisons[comparisons["metric"] == exp.analysis.metric]
    figures = write_plots(exp, results, summary, primary_metric, sweep, report_dir,
                          n_boot=min(n_boot, CURVE_BOOT), seed=seed)
    for name, frame in (("summary", summary), ("summary_auc", auc),
                        ("comparisons", comparisons), ("stability", steadiness),
                        ("claims", claims.claims_table(verdicts))):
        _write_text(report_dir / f"{name}.csv", frame.to_csv(index=False))
    text = markdown.render(
        exp, exp_dir, results, final=scores["final"], summary=summary, auc=auc,
        comparisons=comparisons,
        stability=steadiness, claims=verdicts, figures=figures,
        baselines=claims.baselines_variants(exp), n_boot=n_boot, seed=seed)
    _write_text(report_dir / "report.md", text)
    return report_dir


def experiment_results(exp: Experiment, exp_dir: Path) -> Results:
    """The finished runs of ``exp``'s envs and variants (others in the dir are ignored)."""
    results = load_results(exp_dir)
    labels = [v.label for v in exp.variants]

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame["env_id"].isin(exp.envs) & frame["variant"].isin(labels)
        return frame[rows].reset_index(drop=True)

    results = Results(keep(results.updates), keep(results.episodes), results.failures)
    if not results.run_ids:
        source = exp.source or "EXPERIMENT.yaml"
        raise ValueError(f"no finished runs in {exp_dir}: run `harness run {source}` first")
    return results


def write_plots(exp: Experiment, results: Results, summary: pd.DataFrame,
                comparisons: pd.DataFrame, sweep: pd.DataFrame, report_dir: Path, *,
                n_boot: int, seed: int) -> markdown.Figures:
    """Draw every report plot into ``report_dir``; returns the file names written."""
    palette = plots.variant_palette([v.label for v in exp.variants])
    order = list(exp.envs)
    plots.save(plots.facet(summary, plots.plot_intervals, order=order, sharey=True,
                           value="iqm", low="iqm_ci_low", high="iqm_ci_high", palette=palette,
                           xlabel="final score (IQM, 95% CI)"), report_dir / "final_scores.png")
    curves = {}
    for stem, (metric, ylabel) in CURVE_PLOTS.items():
        bands = tables.curve_bands(run_curves(results.updates, metric), n_boot=n_boot, seed=seed)
        if not bands.empty:
            plots.save(plots.facet(bands, plots.plot_curves, order=order, ylabel=ylabel,
                                   palette=palette), report_dir / f"{stem}.png")
            curves[stem] = f"{stem}.png"
    poi = None
    if not comparisons.empty:
        plots.save(plots.probability_of_improvement_figure(comparisons, exp.control),
                   report_dir / "prob_improvement.png")
        poi = "prob_improvement.png"
    eps = None
    if not sweep.empty:
        plots.save(plots.facet(sweep, plots.plot_eps_sweep, order=order),
                   report_dir / "eps_sweep.png")
        eps = "eps_sweep.png"
    figures = markdown.Figures("final_scores.png", poi, curves, eps)
    for stem in ["prob_improvement", "eps_sweep", *CURVE_PLOTS]:  # left by an earlier report
        if f"{stem}.png" not in (poi, eps, *curves.values()):
            (report_dir / f"{stem}.png").unlink(missing_ok=True)
    return figures


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))
