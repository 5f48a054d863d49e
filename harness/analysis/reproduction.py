"""Did a user's runs of a published experiment reproduce it?

Two ways, as the software allows (issue: `make ablation` on a fresh clone):

- **Run by run**, where both sides ran the same software on the same CPU model: a run's
  numbers depend only on its spec, the software and the CPU's SIMD kernels (README,
  *Portability*), so each run's tables must be equal, bit for bit (``sps`` aside).
- **Within what seeds explain**, elsewhere: per env and variant, the two sides' final scores
  are two samples of the same distribution; Welch's test of equal means, Holm-corrected over
  the cells, rejects for no cell. With 5 seeds per cell this detects only large differences
  (say so): it is a check that nothing is badly off, not an equivalence test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from harness.analysis import stats
from harness.ppo.numerics import BEFORE_RECORDED


@dataclass(frozen=True)
class Reproduction:
    """The outcome of comparing a user's runs with the published ones."""

    runs: int
    """Runs present on both sides."""
    identical: int
    """Of those, runs whose ``updates`` and ``episodes`` tables are equal (``sps`` aside)."""
    same_machine: bool
    """Both sides' runs come from the same software versions, CPU model and trainer numerics."""
    cells: pd.DataFrame
    """Per env x variant: ``n_local``, ``n_published``, ``mean_local``, ``mean_published``,
    ``rel_diff`` (local over published, minus one), ``p_value`` (Welch), ``p_holm``."""
    verdict: str
    """``identical``, ``within seed noise``, ``differs`` or ``no common runs``."""

    @property
    def reproduced(self) -> bool:
        """Whether the verdict says the published runs were reproduced."""
        return self.verdict in ("identical", "within seed noise")

    def line(self, alpha: float) -> str:
        """One sentence saying what was reproduced and how it was judged."""
        if self.verdict == "no common runs":
            return "not compared: the two directories share no run"
        if self.verdict == "identical":
            return (f"reproduced exactly: all {self.runs} runs equal the published ones bit "
                    "for bit (same software and CPU model)")
        worst = self.cells["p_holm"].min()
        exact = (f"{self.identical} of {self.runs} runs equal bit for bit"
                 + ("" if self.same_machine else " (other software or CPU model: "
                                                  "not expected to be equal)"))
        if self.verdict == "within seed noise":
            return (f"reproduced within seed noise: no env x variant mean differs from the "
                    f"published one (smallest Holm p {worst:.2g} >= {alpha}); {exact}")
        return (f"NOT reproduced: {_differing(self, alpha)}; {exact}")


def table_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two runs' tables hold the same rows, ``sps`` (wall-clock speed) aside."""
    a, b = (t.drop(columns=["sps"], errors="ignore").reset_index(drop=True) for t in (a, b))
    return list(a.columns) == list(b.columns) and a.equals(b)


def identical_runs(local: dict[str, pd.DataFrame], published: dict[str, pd.DataFrame],
                   ) -> dict[str, bool]:
    """Per run id present on both sides, whether every table is equal. ``local`` and
    ``published`` map a table name (``updates``, ``episodes``) to its rows of all runs."""
    common = sorted(set(local["updates"]["run_id"]) & set(published["updates"]["run_id"]))
    mine, theirs = ({name: dict(tuple(t.groupby("run_id"))) for name, t in side.items()}
                    for side in (local, published))  # each table split by run once
    empty = pd.DataFrame()
    return {run_id: all(table_equal(mine[name].get(run_id, empty),
                                    theirs[name].get(run_id, empty)) for name in local)
            for run_id in common}


def seed_noise(local: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Welch's test per env x variant of the local final scores against the published ones,
    Holm-corrected over the cells (``Reproduction.cells``). Each frame: ``env_id``,
    ``variant``, ``score``, one row per run."""
    rows = []
    for (env_id, variant), mine in local.groupby(["env_id", "variant"], sort=False):
        theirs = published[(published["env_id"] == env_id) & (published["variant"] == variant)]
        x, y = mine["score"].to_numpy(float), theirs["score"].to_numpy(float)
        p = (scipy.stats.ttest_ind(x, y, equal_var=False).pvalue
             if min(len(x), len(y)) >= 2 and np.var(np.r_[x, y]) > 0 else 1.0)
        rows.append({"env_id": env_id, "variant": variant, "n_local": len(x),
                     "n_published": len(y), "mean_local": x.mean(), "mean_published":
                     y.mean() if len(y) else np.nan,
                     "rel_diff": x.mean() / y.mean() - 1 if len(y) else np.nan,
                     "p_value": 1.0 if np.isnan(p) else float(p)})
    cells = pd.DataFrame(rows)
    cells["p_holm"] = stats.holm(cells["p_value"].to_numpy()) if rows else []
    return cells


def judge(equal: dict[str, bool], same_machine: bool, cells: pd.DataFrame,
          alpha: float) -> Reproduction:
    """The verdict: ``identical`` needs every common run equal on the same machine (on
    another, bit equality is not expected and seeds decide); ``within seed noise`` needs no
    cell rejected at ``alpha`` after Holm."""
    runs, identical = len(equal), sum(equal.values())
    if runs == 0:
        verdict = "no common runs"
    elif same_machine:
        verdict = "identical" if identical == runs else "differs"
    else:
        verdict = "within seed noise" if (cells["p_holm"] >= alpha).all() else "differs"
    return Reproduction(runs, identical, same_machine, cells, verdict)


def same_machine(local_sessions: list[dict], published_sessions: list[dict]) -> bool:
    """Whether every session that trained runs on either side recorded the same package
    versions, CPU model and trainer numerics (a session recorded before the CPU model was
    cannot match)."""
    found = {machine(s) for s in [*local_sessions, *published_sessions] if s.get("trained", 1)}
    return len(found) == 1 and None not in found


def machine(session: dict) -> tuple[str, str, int] | None:
    """A session record's package versions, CPU model and trainer numerics version
    (``harness.ppo.numerics``: runs of two versions are not equal bit for bit), or None
    without a CPU model."""
    cpu = (session.get("host") or {}).get("cpu")
    numerics = session.get("numerics", BEFORE_RECORDED)
    return (json.dumps(session.get("versions"), sort_keys=True), cpu, numerics) if cpu else None


def _differing(rep: Reproduction, alpha: float) -> str:
    """The cells whose means differ, or the count of runs that are not equal."""
    if rep.same_machine:
        return (f"{rep.runs - rep.identical} of {rep.runs} runs differ from the published "
                "ones on the same software and CPU model")
    off = rep.cells[rep.cells["p_holm"] < alpha]
    return "; ".join(f"{r.env_id} {r.variant} {r.rel_diff:+.1%} (Holm p {r.p_holm:.2g})"
                     for r in off.itertuples())
