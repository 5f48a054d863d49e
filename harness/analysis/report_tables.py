"""What the report computes from an experiment's runs: the CSV tables and verdicts
(``ReportTables``) and the bands of the curve figures (``curve_table``). No file is written
here (``report`` writes them)."""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.analysis import (
    aggregates,
    alpha_spending,
    claims,
    modes,
    over_envs,
    pairs,
    peer,
    saturation,
    stability,
    tables,
    to_decide,
)
from harness.analysis.load import Results
from harness.analysis.scores import eval_returns, run_curves
from harness.analysis.study import experiment_results, run_scores
from harness.runs import references
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
    evaluation: pd.DataFrame | None
    """``summary_eval.csv``: the eval scores' summary (None when runs are not evaluated)."""
    comparisons: pd.DataFrame
    """``comparisons.csv``."""
    stability: pd.DataFrame
    """``stability.csv``."""
    modes: pd.DataFrame
    """``modes.csv``: per env and variant, is the primary score bimodal, and each arm's share
    of the high mode (``modes.mode_table``)."""
    claims: list[claims.Claim]
    """The verdicts (``claims.csv``)."""
    activity: pd.DataFrame
    """``clip_activity.csv``: does each clipped variant's clip act (``pairs.clip_activity``)."""
    inactive: list[str]
    """Clipped variants whose clip does not act (``pairs.inactive_clips``)."""
    adastop: pd.DataFrame | None
    """``adastop.csv``: AdaStop's decision per env beside ours (``peer.adastop_table``); None
    when ``adastop`` (the ``dev`` extra) is not installed."""
    record: SequentialRecord | None
    """A sequential design's looks (None for a fixed design or before a look)."""
    left_out: list[str]
    """Envs left out of the primary comparisons' random-effects rows, and why
    (``over_envs.exclusions``)."""
    saturated: dict[str, str]
    """Envs left out of the comparisons and claims on the primary score, and why
    (``saturation.saturated_envs``)."""

    def csv(self) -> dict[str, pd.DataFrame]:
        """The tables written as ``<name>.csv``, by name (runs counts as whole numbers)."""
        return {"summary": self.summary, "summary_auc": self.auc,
                **({} if self.evaluation is None else {"summary_eval": self.evaluation}),
                "comparisons": whole_counts(self.comparisons),
                "stability": whole_counts(self.stability),
                "modes": self.modes, "claims": whole_counts(claims.claims_table(self.claims)),
                "clip_activity": self.activity,
                **({} if self.adastop is None else {"adastop": self.adastop})}

    def summary_of(self, metric: str) -> pd.DataFrame:
        """The summary of ``metric``'s scores (``final``, ``auc`` or ``eval``)."""
        return {"final": self.summary, "auc": self.auc, "eval": self.evaluation}[metric]


def whole_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its runs-to-decide columns (``seeds_needed``, ``*_seeds_needed``) as
    pandas' nullable integers: a CSV cell reads ``15``, not ``15.0``, and stays empty where
    no count is known (NaN kept them float)."""
    counts = [c for c in frame.columns if c.endswith("seeds_needed")]
    return frame.assign(**{c: pd.to_numeric(frame[c]).round().astype("Int64") for c in counts})


def report_tables(exp: Experiment, exp_dir: Path, *, n_boot: int = 10_000,
                  seed: int = 0) -> ReportTables:
    """Every table and verdict of the report (no file is written). ``n_boot`` bootstrap
    resamples with generator seed ``seed``; margin, alpha, power and the primary metric come
    from ``exp.analysis``. Raises ``ValueError`` when no run has finished."""
    results = experiment_results(exp, Path(exp_dir))
    scores = run_scores(exp, results)
    metric = exp.analysis.metric
    saturated = saturation.saturated_envs(scores[metric])
    # on the primary score a saturated env is left out of the comparisons and the claims
    tested = {**scores, metric: saturation.without(scores[metric], saturated)}
    claimed = dataclasses.replace(exp, envs=tuple(e for e in exp.envs if e not in saturated))
    compared = pairs.comparison_pairs(exp)
    random_scores = {e: r.random_mean for e, r in references.read().items()}
    comparisons = tables.comparison_table(tested, compared, primary=pairs.primary_pairs(exp),
                                          settings=exp.analysis, n_boot=n_boot, seed=seed,
                                          random_scores=random_scores)
    record = read_record(exp_dir) if exp.looks else None
    level = record.looks[-1].level if record else None  # see claims.evaluate_claims
    one = record.looks[-1].equivalence_level if record else None
    if record:
        comparisons = alpha_spending.with_decisions(comparisons, alpha_spending.decisions(record))
    prices = {m: to_decide.pricer(frame, claimed.envs, exp.analysis, record=record,
                                  random_scores=random_scores) for m, frame in tested.items()}
    comparisons = to_decide.priced_rows(comparisons, prices, design=(len(exp.seeds),),
                                        looks=exp.looks)
    # a saturated env has nothing to lose either: its runs stay out of the within-run measures
    steady_updates = results.updates[~results.updates["env_id"].isin(saturated)]
    steadiness = stability.stability_table(tested[metric], stability.run_stability(
                                               steady_updates, exp.analysis.spike_factor),
                                           compared, exp.analysis, level,
                                           exp.looks if record else (), record)
    inactive = pairs.inactive_clips(exp, results.updates)
    bimodal = modes.mode_table(tested[metric], exp.control, alpha=exp.analysis.alpha)
    summaries = {m: tables.summary_table(frame, n_boot=n_boot, seed=seed)
                 for m, frame in scores.items() if len(frame)}
    return ReportTables(results, scores, summaries["final"], summaries["auc"],
                        summaries.get("eval"), comparisons, steadiness, bimodal,
                        claims.evaluate_claims(claimed, comparisons, steadiness, level, inactive,
                                               equivalence_level=one, modes=bimodal,
                                               price=prices[metric], record=record),
                        pairs.clip_activity(exp, results.updates), inactive,
                        _adastop(exp, tested[metric], comparisons, record, seed), record,
                        _left_out(exp, tested[metric], random_scores), saturated)


def _adastop(exp: Experiment, scores: pd.DataFrame, comparisons: pd.DataFrame,
             record: SequentialRecord | None, seed: int) -> pd.DataFrame | None:
    """AdaStop on the primary pairs' per-env rows, over the looks taken (None without it)."""
    if importlib.util.find_spec("adastop") is None:
        return None
    keys = set(pairs.primary_pairs(exp))
    rows = comparisons[(comparisons["k_envs"] == 1)
                       & (comparisons["metric"] == exp.analysis.metric)
                       & (comparisons["estimand"] == "fixed")]
    rows = rows[[k in keys for k in zip(rows["variant"], rows["control"], strict=True)]]
    looks = [look.runs_per_arm for look in record.looks] if record else []
    return peer.adastop_table(scores, rows, looks=looks, alpha=exp.analysis.alpha, seed=seed)


def _left_out(exp: Experiment, scores: pd.DataFrame, random_scores: dict[str, float]
              ) -> list[str]:
    """``env: variant vs control: reason`` for each env a primary pair's random-effects row
    leaves out (none with a single env: there is no such row)."""
    if len(exp.envs) < 2:
        return []
    cells = {k: g["score"].to_numpy(float) for k, g in scores.groupby(["env_id", "variant"])}
    lines = []
    for variant, control in pairs.primary_pairs(exp):
        envs = [e for e in exp.envs if (e, variant) in cells and (e, control) in cells]
        found = over_envs.exclusions(envs, [cells[e, variant] for e in envs],
                                     [cells[e, control] for e in envs], random_scores,
                                     exp.analysis.alpha)
        lines += [f"{e}: {variant} vs {control}: {why}" for e, why in found.items()]
    return lines


def eval_curve_table(evals: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """The bands of ``eval_curves.png``: each run's mean evaluation return at each
    evaluation, IQM over runs (as ``learning_curves``); empty without evaluations."""
    if evals.empty:
        return pd.DataFrame()
    return aggregates.iqm_curve_bands(run_curves(eval_returns(evals), "episode_return"),
                                      n_boot=n_boot, seed=seed)


def curve_table(curve: CurvePlot, exp: Experiment, updates: pd.DataFrame, *, n_boot: int,
                seed: int) -> pd.DataFrame:
    """The bands ``curve`` draws (``tables.curve_bands`` columns, ``curve.centre`` for the
    centre); empty when no run logged the metric."""
    if curve.log:
        clipping = [label for label, c in exp.configs.items() if c.clips_value]
        updates = aggregates.after_first_update(updates, clipping)
    run_values = run_curves(updates, curve.metric)
    if curve.centre == "iqm":
        return aggregates.iqm_curve_bands(run_values, n_boot=n_boot, seed=seed)
    return tables.curve_bands(run_values, n_boot=n_boot, seed=seed)
