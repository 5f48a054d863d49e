"""Coverage of the aggregates' 95% stratified-bootstrap intervals, simulated.

3 envs x 10 runs, normal scores with env means 0.2, 0.5 and 0.8 (sd 0.15): the mixture is
symmetric about 0.5, so the true IQM, median (of env means) and mean are 0.5; the true
optimality gap is 1 - E[min(score, 1)] from the normal's partial expectation. The percentile
bootstrap undercovers at n = 10 per env (it resamples with the plug-in variance, (n-1)/n of
the true one). Measured over 20,000 datasets (1,000 resamples each): IQM 0.920, median 0.902,
mean 0.920, optimality gap 0.920; the test's 1,200 datasets must land within their
Monte-Carlo error of those.
"""

import numpy as np
import scipy.stats
from montecarlo import mc_bounds

from harness.analysis import aggregates, stats

ENV_MEANS, SD, RUNS = np.array([0.2, 0.5, 0.8]), 0.15, 10


def true_aggregates() -> np.ndarray:
    """[IQM, median, mean, optimality gap] of the population, as ``aggregate_metrics``."""
    d = (ENV_MEANS - 1) / SD
    above_one = (ENV_MEANS - 1) * scipy.stats.norm.cdf(d) + SD * scipy.stats.norm.pdf(d)
    return np.array([0.5, 0.5, 0.5, 1 - np.mean(ENV_MEANS - above_one)])  # E[(s - 1)+]


def test_stratified_bootstrap_coverage():
    datasets, chunks = 1200, 4
    rng = np.random.default_rng(0)
    hits = []
    for chunk in range(chunks):  # a batch axis of datasets; chunks bound the memory
        samples = [rng.normal(m, SD, (RUNS, datasets // chunks)) for m in ENV_MEANS]
        dist = stats.bootstrap_distribution(samples, aggregates.aggregate_metrics,
                                            n_boot=1000, seed=chunk)
        low, high = stats.percentile_ci(dist, 0.95)  # [4, datasets / chunks] each
        truth = true_aggregates()[:, None]
        hits.append((low <= truth) & (truth <= high))
    iqm, median, mean, gap = np.concatenate(hits, axis=1).mean(axis=1)
    assert 0.90 <= iqm <= 0.97
    assert 0.90 <= mean <= 0.97
    assert 0.90 <= gap <= 0.97
    assert 0.87 <= median <= 0.97  # the median of 3 env means is the least smooth
    for measured, long_run in ((iqm, 0.920), (median, 0.902), (mean, 0.920), (gap, 0.920)):
        low, high = mc_bounds(long_run, datasets)
        assert low <= measured <= high
