"""rliable's figure tables (Agarwal et al. 2021): aggregates over envs, performance profiles,
IQM learning curves. Frames in, frames out; the arithmetic is a few pure numpy functions.

Scores of different envs share no scale, so the aggregates over envs work on scores min-max
normalised per env. Every interval is a 95% percentile bootstrap CI of the *stratified*
bootstrap: runs are resampled within each env independently, so every resample keeps each
env's run count (rliable's ``StratifiedBootstrap``, used by ``get_interval_estimates``). That is
``stats.bootstrap_distribution`` given one sample per env.

Shapes: ``k`` envs, ``n_i`` runs of a variant in env ``i``, ``t`` thresholds or grid steps.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.analysis import stats, tables

CONFIDENCE = 0.95
NORMALISATION = {"reference": "random 0, published PPO 1",
                 "min-max": "min-max per env over all runs"}
"""How ``normalised`` scales an env's scores, by kind; the aggregate table's
``normalisation`` column names each kind with its envs."""
METRICS = ("IQM", "median", "mean", "optimality gap")
"""Rows of ``aggregate_metrics``, in rliable's panel order."""
GAP_THRESHOLD = 1.0
"""Optimality gap threshold gamma on the normalised scale: the best run of each env is 1."""
TAUS = np.linspace(0.0, 1.0, 101)
"""Performance-profile thresholds on the normalised scale."""
AGGREGATE_COLUMNS = ["variant", "metric", "value", "ci_low", "ci_high", "normalisation"]
PROFILE_COLUMNS = ["variant", "tau", "fraction", "ci_low", "ci_high"]


def minmax_normalised(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``score`` rescaled per env to ``(score - min) / (max - min)``.

    ``scores``: one row per run with ``env_id`` and ``score``. The min and max run over all
    runs of the env, every variant included, so each env's worst run scores 0 and its best 1.
    rliable normalises by random and expert reference scores; these envs have no agreed ones,
    and min-max is its fallback. An env whose runs all score the same maps to 0.
    """
    by_env = scores.groupby("env_id", sort=False)["score"]
    low = by_env.transform("min").to_numpy(float)
    span = by_env.transform("max").to_numpy(float) - low
    shifted = scores["score"].to_numpy(float) - low
    normalised = np.divide(shifted, span, out=np.zeros_like(shifted), where=span > 0)
    return scores.assign(score=normalised)


def normalised(scores: pd.DataFrame, anchors: Mapping[str, tuple[float, float]],
               ) -> pd.DataFrame:
    """``scores`` on a common scale per env, with a ``normalisation`` column saying how.

    rliable's convention where the env has reference scores: ``anchors`` maps an env to
    (random score, published PPO score), and ``(score - random) / (published - random)``
    puts a random policy at 0 and the published PPO at 1 (a spread of 955-1000 on
    InvertedPendulum stays 0.99-1.04). Other envs fall back to ``minmax_normalised``.
    """
    anchored = scores["env_id"].isin(list(anchors))
    random, published = (scores["env_id"].map({e: a[i] for e, a in anchors.items()})
                         .to_numpy(float) for i in (0, 1))
    by_reference = (scores["score"].to_numpy(float) - random) / (published - random)
    fallback = minmax_normalised(scores)["score"].to_numpy(float)
    return scores.assign(score=np.where(anchored, by_reference, fallback),
                         normalisation=np.where(anchored, "reference", "min-max"))


def normalisation_text(normalised: pd.DataFrame) -> str:
    """Which normalisation each env of ``normalised`` (``normalised`` output) took."""
    kinds = normalised.groupby("normalisation", sort=False)["env_id"].unique()
    return "; ".join(f"{NORMALISATION[kind]}: {', '.join(envs)}" for kind, envs in kinds.items())


def per_env(scores: pd.DataFrame) -> list[np.ndarray]:
    """One variant's ``score`` column as a stratified sample: k arrays [n_i], envs in row order."""
    return [g.to_numpy(float) for _, g in scores.groupby("env_id", sort=False)["score"]]


def aggregate_metrics(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """[IQM, median, mean, optimality gap] of normalised scores: k arrays [..., n_i] -> [4, ...].

    As rliable's ``aggregate_iqm`` and ``aggregate_optimality_gap``, IQM and the gap
    (mean of max(0, 1 - score)) pool the runs of all envs; as its ``aggregate_median`` and
    ``aggregate_mean``, median and mean are taken over the per-env mean scores, so each env
    weighs the same. ``axis`` is the runs axis of every sample.
    """
    samples = [np.moveaxis(np.asarray(x, float), axis, -1) for x in samples]
    pooled = np.concatenate(samples, axis=-1)
    env_means = np.stack([x.mean(axis=-1) for x in samples], axis=-1)
    return np.stack([stats.iqm(pooled), np.median(env_means, axis=-1), env_means.mean(axis=-1),
                     np.maximum(GAP_THRESHOLD - pooled, 0.0).mean(axis=-1)])


def fraction_above(*samples: np.ndarray, taus: np.ndarray, axis: int = -1) -> np.ndarray:
    """Fraction of runs scoring above each tau, mean over envs: k x [..., n_i], [t] -> [t, ...].

    rliable's run-score distribution (``create_performance_profile``): ``mean(score > tau)``
    per env, then the mean over envs, so an env with more runs does not weigh more.
    """
    per_sample = [np.mean(np.moveaxis(np.asarray(x, float), axis, -1)[..., None] > taus, axis=-2)
                  for x in samples]
    return np.moveaxis(np.mean(per_sample, axis=0), -1, 0)


def aggregate_table(normalised: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """Per variant, each of ``METRICS`` with its 95% stratified-bootstrap CI (rliable's
    ``get_interval_estimates``).

    ``normalised``: ``normalised`` scores, one row per run with ``env_id``, ``variant``,
    ``score``, ``normalisation``. A variant is aggregated over the envs in which it has runs.
    Returns ``AGGREGATE_COLUMNS``, 4 rows per variant; the CI is NaN when an env has a
    single run.
    """
    how = normalisation_text(normalised)
    rows = []
    for variant, group in normalised.groupby("variant", sort=False):
        samples = per_env(group)
        dist = stats.bootstrap_distribution(samples, aggregate_metrics, n_boot=n_boot, seed=seed)
        low, high = stats.percentile_ci(dist, CONFIDENCE)
        rows += [{"variant": variant, "metric": metric, "value": value, "ci_low": lo,
                  "ci_high": hi, "normalisation": how}
                 for metric, value, lo, hi in zip(METRICS, aggregate_metrics(*samples), low,
                                                  high, strict=True)]
    return pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)


def profile_table(normalised: pd.DataFrame, *, n_boot: int, seed: int,
                  taus: np.ndarray = TAUS) -> pd.DataFrame:
    """Performance profile per variant: ``fraction_above`` at each tau with a 95%
    stratified-bootstrap band. ``normalised`` as for ``aggregate_table``.

    Returns ``PROFILE_COLUMNS``, ``len(taus)`` rows per variant.
    """
    statistic = functools.partial(fraction_above, taus=taus)
    parts = []
    for variant, group in normalised.groupby("variant", sort=False):
        samples = per_env(group)
        dist = stats.bootstrap_distribution(samples, statistic, n_boot=n_boot, seed=seed)
        low, high = stats.percentile_ci(dist, CONFIDENCE)
        parts.append(pd.DataFrame({"variant": variant, "tau": taus,
                                   "fraction": statistic(*samples), "ci_low": low,
                                   "ci_high": high}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PROFILE_COLUMNS)


def iqm_band(values: np.ndarray, *, n_boot: int,
             seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over runs with a 95% bootstrap CI, per column: ``values`` [n_runs, t] -> 3 x [t]."""
    values = np.asarray(values, float)
    dist = stats.bootstrap_distribution([values], stats.iqm, n_boot=n_boot, seed=seed)
    low, high = stats.percentile_ci(dist, CONFIDENCE)
    return stats.iqm(values, axis=0), low, high


def iqm_curve_bands(curves: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """rliable's sample-efficiency curves: IQM over runs at each grid step with a 95% band.

    ``curves``: ``scores.run_curves`` output. Returns ``env_id``, ``variant``, ``global_step``,
    ``iqm``, ``ci_low``, ``ci_high``; raw (unnormalised) values, one panel per env.
    """
    return tables.curve_bands(curves, n_boot=n_boot, seed=seed, band=iqm_band, centre="iqm")


def after_first_update(updates: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """The ``updates`` rows of ``variants`` from each run's second update on.

    For the value clip fraction on a log axis: the first update clips about half of the value
    predictions (48-63% in our 1M-step runs), two orders of magnitude above the 0.3-1.2% after
    it, and unclipped variants log 0, which a log axis cannot show.
    """
    return updates[(updates["update"] > 1) & updates["variant"].isin(variants)]
