"""Random-effects meta-analysis over envs: a claim about tasks, not about the envs at hand.

**Model.** Env i has a true effect theta_i (log ratio of mean final returns, or of gains over a
random policy, ``gain_log_ratio``) and an estimate ``y_i ~ N(theta_i, v_i)`` with its Welch
(delta-method) variance ``v_i``; the envs' effects scatter around the effect on a typical
task, ``theta_i ~ N(mu, tau^2)``. The fixed-effect (inverse-variance) average answers "what
is the effect on these k envs"; a claim about PPO in general ("clipping helps", "hurts
regardless") is about ``mu``, and no number of seeds narrows its interval below about
``tau / sqrt(k)``: only more envs do.

**Estimators** (all vectorised over leading batch axes; shapes ``y``, ``v`` [..., k]):

- ``tau^2`` by REML (default; Fisher scoring from the DerSimonian-Laird start, as
  metafor), Paule-Mandel (``method="pm"``: the generalised Q equals its expectation k - 1)
  or DerSimonian-Laird (``method="dl"``, the moment estimator, closed form). REML and PM
  behave alike at our k; DL underestimates tau^2 when the v_i differ a lot.
- ``mu``'s interval by Hartung-Knapp-Sidik-Jonkman (HKSJ): the weighted residual variance
  ``q = sum w_i (y_i - mu)^2 / (k - 1)`` scales the variance ``1 / sum w_i`` and the quantile
  is t(k - 1). The Wald interval (normal quantile, variance ``1 / sum w_i``) covers far less
  than nominal at small k (IntHout et al. 2014, BMC Med Res Methodol 14:25).

  *The "ad hoc" safeguard* ``max(1, q)`` (Knapp & Hartung 2003; Roever et al. 2015, BMC Med
  Res Methodol 15:99) keeps the HKSJ interval at least as wide as the Wald one when the envs
  agree more than their variances say (q < 1). We do **not** apply it by default
  (``floor=False``): in ``tests/test_meta.py``'s simulations (k = 3-20, tau = 0-0.12, 5-20
  seeds per env) plain HKSJ covers 87.8-89.5% for a nominal 90%, while the safeguard
  over-covers where the envs agree (tau = 0: 99.6% at k = 3, 97% at k = 5, 94% at k = 11),
  which is lost power with no error it prevents here. (With Paule-Mandel q = 1 exactly, so
  HKSJ's standard error equals the Wald one.) ``floor=True`` is there for a sensitivity row.
- Cochran's ``Q`` (fixed-effect weights 1 / v_i) with its chi^2(k - 1) p-value, and
  ``I^2 = max(0, (Q - (k - 1)) / Q)`` (Higgins & Thompson 2002; the Q-based form: metafor
  prints a tau^2-based one for REML, 92.22% against this 92.12% on dat.bcg).
- The **prediction interval** for the effect on a new task (Higgins, Thompson &
  Spiegelhalter 2009): ``mu +- t_{k-2} sqrt(tau^2 + se^2)`` with the HKSJ ``se``. It
  undercovers where tau is no larger than the within-env noise (a 90% interval covered
  82-87% at k = 5-20, tau = 0.05-0.12 in the tests' simulation), because tau^2 from few envs
  is imprecise: a wide prediction interval is informative, a narrow one may be too narrow.

**Fewest envs** (``MIN_ENVS_RANDOM`` = 5): tau^2 from k envs has k - 1 degrees of freedom,
and the HKSJ quantile t(k - 1) at 90% is 2.92 at k = 3 and 2.13 at k = 5 (1.83 at k = 10):
with 3 envs an interval is nearly 1.6x the width at 5 for the same spread, the prediction
interval's t(k - 2) is 6.3 at k = 3 (2.35 at k = 5), and a single outlying env decides
tau^2. Below 5 envs a random-effects interval says more about the quantile than about
tasks, so the caller judges on the fixed-effect estimate and labels it "on these envs only"
(``estimand_for``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from harness.analysis import effects

MIN_ENVS_RANDOM = 5
"""Fewest envs for a random-effects (HKSJ) interval and prediction interval to be reported as
a claim about tasks (module docstring); below it the fixed-effect estimate is used."""

METHODS = ("reml", "pm", "dl")


def estimand_for(k: int) -> str:
    """``random`` (a claim about tasks) from ``MIN_ENVS_RANDOM`` envs on, else ``fixed`` (a
    claim "on these envs only")."""
    return "random" if k >= MIN_ENVS_RANDOM else "fixed"


@dataclass(frozen=True)
class FixedEffect:
    """The inverse-variance average over envs ("on these envs"), with Cochran's Q. Fields
    are floats or arrays [...] (the batch shape of the inputs)."""

    estimate: np.ndarray
    """sum(y_i / v_i) / sum(1 / v_i)."""
    se: np.ndarray
    """sqrt(1 / sum(1 / v_i))."""
    q: np.ndarray
    """Cochran's Q: sum((y_i - estimate)^2 / v_i)."""
    q_p: np.ndarray
    """P(chi^2(k - 1) >= Q): small when the envs disagree beyond their noise."""
    i2: np.ndarray
    """max(0, (Q - (k - 1)) / Q): the share of the spread of the y_i due to heterogeneity."""
    k: np.ndarray
    """Envs used (finite y and v)."""

    def effect(self) -> effects.Effect:
        """As an ``effects.Effect`` (normal quantiles: df inf) for its tests and intervals."""
        return effects.Effect(self.estimate, self.se, np.full(np.shape(self.se), np.inf),
                              np.full(np.shape(self.se), np.nan))


@dataclass(frozen=True)
class RandomEffects:
    """The random-effects average over envs with its HKSJ interval and the prediction
    interval for a new task; all on the log scale (``np.expm1`` gives the report's
    rho - 1). Fields are floats or arrays [...]."""

    estimate: np.ndarray
    """mu-hat = sum(w_i y_i) / sum(w_i), w_i = 1 / (v_i + tau^2)."""
    se: np.ndarray
    """HKSJ standard error sqrt(q / sum w_i) (``max(1, q)`` with ``floor``)."""
    df: np.ndarray
    """k - 1, the degrees of freedom of the HKSJ t."""
    ci_low: np.ndarray
    """Lower limit of the two-sided ``confidence`` HKSJ interval of mu."""
    ci_high: np.ndarray
    """Upper limit of that interval."""
    pred_low: np.ndarray
    """Lower limit of the ``confidence`` prediction interval for a new task's effect
    (t(k - 2), sqrt(tau^2 + se^2)); NaN below 3 envs."""
    pred_high: np.ndarray
    """Upper limit of the prediction interval."""
    tau2: np.ndarray
    """Between-env variance tau^2 (``method``), >= 0."""
    q: np.ndarray
    """Cochran's Q (fixed-effect weights)."""
    q_p: np.ndarray
    """P(chi^2(k - 1) >= Q)."""
    i2: np.ndarray
    """max(0, (Q - (k - 1)) / Q)."""
    k: np.ndarray
    """Envs used."""
    wald_se: np.ndarray
    """sqrt(1 / sum w_i): the plain random-effects standard error, for reference."""

    @property
    def tau(self) -> np.ndarray:
        """Between-env standard deviation on the log scale."""
        return np.sqrt(self.tau2)

    def effect(self) -> effects.Effect:
        """As an ``effects.Effect`` (t with k - 1 df, the HKSJ se): its ``p_value``,
        ``p_equivalence`` and ``interval`` are the HKSJ tests and intervals."""
        return effects.Effect(self.estimate, self.se, self.df,
                              np.full(np.shape(self.se), np.nan))


def _prepare(y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Envs with a finite estimate and variance: (y with 0 elsewhere, v with inf elsewhere, k)."""
    y, v = np.broadcast_arrays(np.asarray(y, float), np.asarray(v, float))
    used = np.isfinite(y) & np.isfinite(v)
    return np.where(used, y, 0.0), np.where(used, v, np.inf), used.sum(-1)


def _weighted(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weighted mean [...], sum of weights [...]) over the last axis."""
    total = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * y).sum(-1) / total, total


def fixed_effect(y: np.ndarray, v: np.ndarray) -> FixedEffect:
    """Inverse-variance average of ``y`` [..., k] with variances ``v`` [..., k] -> fields [...].
    NaN entries of y or v are left out (k counts the rest)."""
    y, v, k = _prepare(y, v)
    with np.errstate(divide="ignore"):
        w = 1.0 / v
    mean, total = _weighted(y, w)
    q = (w * (y - mean[..., None]) ** 2).sum(-1)
    with np.errstate(divide="ignore"):
        se = np.where(k > 0, np.sqrt(1.0 / total), np.nan)  # no env left: NaN, not inf
    return FixedEffect(mean, se, q, *_heterogeneity(q, k), k)


def _heterogeneity(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q's p-value, I^2) for Q on k - 1 df."""
    df = k - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(df > 0, scipy.stats.chi2.sf(q, np.maximum(df, 1)), np.nan)
        i2 = np.where(q > 0, np.clip((q - df) / q, 0.0, 1.0), 0.0)
    return p, np.where(df > 0, i2, np.nan)


def tau2_dl(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """DerSimonian-Laird tau^2: ``max(0, (Q - (k - 1)) / (S1 - S2 / S1))`` with S_r the sums
    of (1 / v_i)^r. ``y``, ``v`` [..., k] -> [...]."""
    y, v, k = _prepare(y, v)
    with np.errstate(divide="ignore"):
        w = 1.0 / v
    mean, s1 = _weighted(y, w)
    q = (w * (y - mean[..., None]) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(0.0, (q - (k - 1)) / (s1 - (w**2).sum(-1) / s1))


def tau2_reml(y: np.ndarray, v: np.ndarray, *, tol: float = 1e-10,
              max_iter: int = 100) -> np.ndarray:
    """REML tau^2 by Fisher scoring, as metafor's ``rma(method="REML")``: with w_i = 1 / (v_i +
    tau^2), mu the weighted mean and ``P = W - w w' / sum w``, the step is score / information,
    ``(sum w_i^2 (y_i - mu)^2 - tr P) / tr P^2``, truncated at 0, from the DL estimate until
    every element moves less than ``tol``. ``y``, ``v`` [..., k] -> [...]."""
    tau2 = tau2_dl(y, v)
    y, v, _ = _prepare(y, v)
    for _ in range(max_iter):
        w = 1.0 / (v + tau2[..., None])
        mean, s1 = _weighted(y, w)
        s2, s3 = (w**2).sum(-1), (w**3).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = (w**2 * (y - mean[..., None]) ** 2).sum(-1) - (s1 - s2 / s1)
            information = s2 - 2 * s3 / s1 + (s2 / s1) ** 2
            new = np.maximum(0.0, tau2 + score / information)
        done = not np.any(np.abs(new - tau2) >= tol)
        tau2 = new
        if done:
            break
    return tau2


def tau2_pm(y: np.ndarray, v: np.ndarray, *, iters: int = 80) -> np.ndarray:
    """Paule-Mandel tau^2: the root of ``sum w_i (y_i - mu)^2 = k - 1`` (w_i = 1 / (v_i +
    tau^2)), 0 when the fixed-effect Q is already below k - 1; by bisection (the generalised Q
    decreases in tau^2). ``y``, ``v`` [..., k] -> [...]."""
    y, v, k = _prepare(y, v)

    def excess(t2: np.ndarray) -> np.ndarray:
        w = 1.0 / (v + t2[..., None])
        mean, _ = _weighted(y, w)
        return (w * (y - mean[..., None]) ** 2).sum(-1) - (k - 1)

    low = np.zeros(y.shape[:-1])
    spread = np.where(np.isfinite(v), (y - _weighted(y, np.isfinite(v) * 1.0)[0][..., None]) ** 2,
                      0.0)
    high = np.maximum(spread.sum(-1), 1e-12)  # Q(high) <= k - 1 for tau^2 >= sum of squares
    for _ in range(iters):
        mid = (low + high) / 2
        above = excess(mid) > 0
        low, high = np.where(above, mid, low), np.where(above, high, mid)
    return np.where(excess(np.zeros_like(low)) > 0, (low + high) / 2, 0.0)


def random_effects(y: np.ndarray, v: np.ndarray, *, confidence: float = 0.90,
                   method: str = "reml", floor: bool = False) -> RandomEffects:
    """Random-effects average of per-env estimates ``y`` [..., k] with within-env variances
    ``v`` [..., k] -> fields [...]: tau^2 by ``method`` (``reml``, ``pm`` or ``dl``), the HKSJ
    ``confidence`` interval (``floor``: the max(1, q) safeguard, module docstring) and the
    prediction interval for a new task. NaN entries are left out; NaN results below 2 envs
    (below 3 for the prediction interval)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    tau2 = {"reml": tau2_reml, "pm": tau2_pm, "dl": tau2_dl}[method](y, v)
    fixed = fixed_effect(y, v)
    y, v, k = _prepare(y, v)
    w = 1.0 / (v + tau2[..., None])
    mean, total = _weighted(y, w)
    df = np.where(k > 1, k - 1.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        q_hk = (w * (y - mean[..., None]) ** 2).sum(-1) / df
        scale = np.maximum(q_hk, 1.0) if floor else q_hk
        se = np.sqrt(scale / total)
        wald_se = np.where(k > 0, np.sqrt(1.0 / total), np.nan)  # no env left: NaN, not inf
    tail = 0.5 + confidence / 2
    half = scipy.stats.t.ppf(tail, df) * se
    pred_df = np.where(k > 2, k - 2.0, np.nan)
    pred_half = scipy.stats.t.ppf(tail, pred_df) * np.sqrt(tau2 + se**2)
    return RandomEffects(
        estimate=mean, se=se, df=df, ci_low=mean - half, ci_high=mean + half,
        pred_low=mean - pred_half, pred_high=mean + pred_half, tau2=tau2, q=fixed.q,
        q_p=fixed.q_p, i2=fixed.i2, k=k, wald_se=wald_se)


# --- the scale: gains over a random policy ---------------------------------------------------

@dataclass(frozen=True)
class GainRatio:
    """One env's effect on the gain-over-random scale. Fields are arrays [...]."""

    estimate: np.ndarray
    """log((mean x - r) / (mean y - r)): NaN where ``usable`` is False."""
    variance: np.ndarray
    """Delta-method variance s_x^2 / (n g_x^2) + s_y^2 / (m g_y^2), g the gains."""
    df: np.ndarray
    """Welch-Satterthwaite degrees of freedom of ``variance``."""
    usable: np.ndarray
    """Both gains positive and the control's clearly so (``gain_exclusion``)."""


def gain_log_ratio(x: np.ndarray, y: np.ndarray, random_score: float | np.ndarray, *,
                   alpha: float = 0.05) -> GainRatio:
    """The log ratio of the arms' gains over a random policy, ``x`` [..., n] (variant) and
    ``y`` [..., m] (control) runs on the last axis, ``random_score`` the env's random-policy
    mean return (a constant measured once per env, broadcast to [...]) -> fields [...].

    One scale for every env (Atari's human-normalised scores do the same with a human score):
    an env with negative returns (Reacher, Pusher) or a negative random score (HalfCheetah)
    gets a positive gain, and the ratio of gains needs no orientation. The random score is
    treated as exact: it is shared by both arms, and its error (a few hundred episodes) is
    small beside the runs' spread.

    ``usable`` (the rule): the control's gain must be clearly positive, ``g_y / se(g_y) >
    t_{1-alpha}(m - 1)`` (one-sided: the control beats random), and the variant's gain
    positive (else its log ratio is -inf). Otherwise the env is left out of the average and
    reported with ``gain_exclusion``'s reason: a ratio of two gains near zero is noise.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n, m = x.shape[-1], y.shape[-1]
    gx, gy = x.mean(-1) - random_score, y.mean(-1) - random_score
    sx2, sy2 = x.var(-1, ddof=1), y.var(-1, ddof=1)
    beats = gy / np.sqrt(sy2 / m) > scipy.stats.t.ppf(1 - alpha, m - 1)
    usable = beats & (gx > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usable, gx / gy, np.nan)
        parts = [sx2 / (n * gx**2), sy2 / (m * gy**2)]
        variance = np.where(usable, parts[0] + parts[1], np.nan)
        df = np.where(usable, variance**2 / (parts[0] ** 2 / (n - 1) + parts[1] ** 2 / (m - 1)),
                      np.nan)
    return GainRatio(np.log(ratio), variance, df, usable)


def gain_exclusion(x: np.ndarray, y: np.ndarray, random_score: float, *,
                   alpha: float = 0.05) -> str:
    """Why one env (``x`` [n], ``y`` [m]) is left out of the gain-scale average, or ``""``
    when it is used."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if min(len(x), len(y)) < 2:
        return "fewer than 2 runs in an arm: no variance"
    gain = gain_log_ratio(x, y, random_score, alpha=alpha)
    if bool(gain.usable):
        return ""
    gy = float(y.mean() - random_score)
    if not gy / (np.std(y, ddof=1) / np.sqrt(len(y))) > scipy.stats.t.ppf(1 - alpha, len(y) - 1):
        return (f"the control does not clearly beat a random policy (gain {gy:.3g} over the "
                f"random score {random_score:.3g}; one-sided t at {alpha}): a ratio of gains "
                "near zero is noise")
    return (f"the variant does not beat a random policy (gain {float(x.mean() - random_score):.3g}"
            "): its log ratio is -inf; reported as worse than random, left out of the average")
