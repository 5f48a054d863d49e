"""Multimodal outcomes: which mode of an env a variant's runs reach.

HalfCheetah's final returns fall near 1,400 or at 2,400-4,000: a mean (and a spread across
seeds) then mixes "how often a variant reaches the high mode" with "how well it does in
each". Per env and variant we test one normal against a two-component normal mixture with
a common variance (the likelihood ratio, fitted by EM from three starts; a common variance
keeps the likelihood bounded), with a parametric-bootstrap p-value: the ratio's null
distribution does not depend on the normal's mean or spread (the fit is location-scale
equivariant), so it is simulated once per sample size from standard normals (McLachlan
1987). Where an env is bimodal, its runs (both arms pooled) are split at the fitted
mixture's boundary and each arm's share of the high mode is compared by Fisher's exact
test. The tests are descriptive (one per env and variant, uncorrected): a flag to read the
means beside, not a verdict.

Shapes: ``x`` [..., n], runs on the last axis; the fit is vectorised over the leading axes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

BOOT = 2000
"""Bootstrap samples of the null distribution per sample size (with 500 its 95th percentile
was off enough to give a false-positive rate of 0.08 at 20 runs)."""
MIN_RUNS = 8
"""Fewest runs for a test of bimodality (with fewer, a mixture fits any sample)."""


@dataclass(frozen=True)
class Mixture:
    """A two-component normal mixture with a common variance, fitted to [..., n]. Fields
    [...]."""

    low: np.ndarray
    """Mean of the lower component."""
    high: np.ndarray
    """Mean of the upper component."""
    sd: np.ndarray
    """The components' common standard deviation."""
    share_high: np.ndarray
    """Mixing weight of the upper component."""
    lr: np.ndarray
    """Likelihood ratio statistic 2 (loglik mixture - loglik one normal), >= 0."""

    def boundary(self) -> np.ndarray:
        """Where the two weighted component densities cross (runs above it belong to the
        high mode)."""
        gap = self.high - self.low
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = self.sd**2 * np.log((1 - self.share_high) / self.share_high) / gap
        return (self.low + self.high) / 2 + shift


def fit(x: np.ndarray, *, iters: int = 150) -> Mixture:
    """EM fit of the common-variance two-component mixture to ``x`` [..., n] (from splits at
    the 25th, 50th and 75th percentile; the best likelihood wins) -> fields [...]."""
    x = np.asarray(x, float)
    n = x.shape[-1]
    center, scale = x.mean(-1, keepdims=True), x.std(-1, keepdims=True)
    z = (x - center) / np.where(scale > 0, scale, 1.0)
    one = -0.5 * n * (np.log(2 * np.pi * np.maximum(z.var(-1), 1e-12)) + 1)
    best = None
    for q in (25, 50, 75):
        cut = np.percentile(z, q, axis=-1, keepdims=True)
        r = (z > cut).astype(float)  # responsibility of the high component
        for _ in range(iters):
            w = np.clip(r.mean(-1), 1e-6, 1 - 1e-6)
            mu_h = (r * z).sum(-1) / np.maximum(r.sum(-1), 1e-12)
            mu_l = ((1 - r) * z).sum(-1) / np.maximum((1 - r).sum(-1), 1e-12)
            var = np.maximum((r * (z - mu_h[..., None]) ** 2 + (1 - r) * (
                z - mu_l[..., None]) ** 2).mean(-1), 1e-4)
            log_h = np.log(w)[..., None] - (z - mu_h[..., None]) ** 2 / (2 * var[..., None])
            log_l = np.log(1 - w)[..., None] - (z - mu_l[..., None]) ** 2 / (2 * var[..., None])
            top = np.maximum(log_h, log_l)
            total = top + np.log(np.exp(log_h - top) + np.exp(log_l - top))
            r = np.exp(log_h - total)
        loglik = (total - 0.5 * np.log(2 * np.pi * var)[..., None]).sum(-1)
        fitted = (loglik, mu_l, mu_h, np.sqrt(var), w)
        if best is None:
            best = fitted
        else:
            better = fitted[0] > best[0]
            best = tuple(np.where(better, a, b) for a, b in zip(fitted, best, strict=True))
    loglik, mu_l, mu_h, sd, w = best
    c, s = center[..., 0], np.where(scale[..., 0] > 0, scale[..., 0], 1.0)
    swap = mu_l > mu_h
    low, high = np.where(swap, mu_h, mu_l), np.where(swap, mu_l, mu_h)
    return Mixture(c + s * low, c + s * high, s * sd, np.where(swap, 1 - w, w),
                   np.maximum(2 * (loglik - one), 0.0))


@functools.lru_cache(maxsize=64)
def null_lr(n: int, boot: int = BOOT, seed: int = 0) -> np.ndarray:
    """The likelihood ratio's distribution for ``n`` runs from one normal: [boot], sorted."""
    rng = np.random.default_rng(seed + n)
    return np.sort(fit(rng.standard_normal((boot, n))).lr)


def bimodality_p(x: np.ndarray, *, boot: int = BOOT) -> np.ndarray:
    """Parametric-bootstrap p-value of one normal against the mixture, ``x`` [..., n] ->
    [...]; NaN below ``MIN_RUNS`` runs."""
    x = np.asarray(x, float)
    n = x.shape[-1]
    if n < MIN_RUNS:
        return np.full(x.shape[:-1], np.nan)
    null = null_lr(n, boot)
    above = boot - np.searchsorted(null, fit(x).lr, side="left")
    return (1 + above) / (boot + 1)


@dataclass(frozen=True)
class ModeSplit:
    """Two arms' runs of one env split at the pooled mixture's boundary."""

    boundary: float
    """Runs above it are in the high mode."""
    low_mean: float
    """Mean of the pooled fit's low component."""
    high_mean: float
    """Mean of the pooled fit's high component."""
    high_x: int
    """Runs of the variant in the high mode."""
    high_y: int
    """Runs of the control in the high mode."""
    fisher_p: float
    """Fisher's exact test (two-sided) of equal high-mode shares."""


def split_modes(x: np.ndarray, y: np.ndarray) -> ModeSplit:
    """Split the variant's runs ``x`` [n] and the control's ``y`` [m] at the boundary of a
    mixture fitted to both, and compare the arms' high-mode counts."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    mix = fit(np.concatenate([x, y]))
    cut = float(mix.boundary())
    hx, hy = int((x > cut).sum()), int((y > cut).sum())
    p = scipy.stats.fisher_exact([[hx, len(x) - hx], [hy, len(y) - hy]]).pvalue
    return ModeSplit(cut, float(mix.low), float(mix.high), hx, hy, float(p))


MODE_COLUMNS = ["env_id", "variant", "control", "n", "n_control", "p_bimodal",
                "p_bimodal_control", "bimodal", "boundary", "low_mean", "high_mean", "high_runs",
                "high_runs_control", "fisher_p"]


def mode_table(scores: pd.DataFrame, control: str, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per env and non-control variant: each arm's bimodality p-value and, where either arm
    is bimodal (p < ``alpha``), the high-mode counts per arm and Fisher's p.

    ``scores``: ``env_id``, ``variant``, ``score`` per run. Returns ``MODE_COLUMNS`` (the
    last six NaN where not bimodal)."""
    rows = []
    for env, runs in scores.groupby("env_id", sort=False):
        arms = {v: g["score"].to_numpy(float) for v, g in runs.groupby("variant", sort=False)}
        if control not in arms:
            continue
        y = arms[control]
        p_y = float(bimodality_p(y))
        for variant, x in arms.items():
            if variant == control:
                continue
            p_x = float(bimodality_p(x))
            bimodal = bool(min(np.nan_to_num([p_x, p_y], nan=1.0)) < alpha)
            row = {"env_id": env, "variant": variant, "control": control, "n": len(x),
                   "n_control": len(y), "p_bimodal": p_x, "p_bimodal_control": p_y,
                   "bimodal": bimodal, "boundary": math.nan, "low_mean": math.nan,
                   "high_mean": math.nan, "high_runs": math.nan,
                   "high_runs_control": math.nan, "fisher_p": math.nan}
            if bimodal:
                s = split_modes(x, y)
                row.update(boundary=s.boundary, low_mean=s.low_mean, high_mean=s.high_mean,
                           high_runs=s.high_x, high_runs_control=s.high_y, fisher_p=s.fisher_p)
            rows.append(row)
    return pd.DataFrame(rows, columns=MODE_COLUMNS)
