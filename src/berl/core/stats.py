"""Aggregate statistics of scores beyond mean ± std.

The interquartile mean (IQM: the mean of the middle 50 % of scores) is robust to outlier
runs yet uses more of the data than the median. Its uncertainty comes from a stratified
bootstrap: runs are resampled with replacement within each task, so every resample keeps
the task mix of the original. Comparisons between datasets use a paired bootstrap of the
same kind (``bootstrap_candidates``), which also reselects a best-of-family in each resample.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


def interquartile_mean(scores: np.ndarray) -> float:
    """Mean of the scores between the 25th and 75th percentiles (by rank), as the trimmed
    mean that drops the lowest and highest quarter of the sorted scores."""
    scores = np.sort(np.asarray(scores, dtype=float).ravel())
    n = len(scores)
    if n == 0:
        raise ValueError("no scores")
    cut = int(np.floor(0.25 * n))
    return float(scores[cut:n - cut].mean())


def stratified_bootstrap_ci(
    scores_by_task: list[np.ndarray], statistic=interquartile_mean, *, resamples: int = 2000,
    confidence: float = 0.95, seed: int = 0,
) -> tuple[float, float, float]:
    """(statistic, lower, upper): the statistic of all scores pooled, and a percentile
    confidence interval from resampling each task's runs with replacement."""
    rng = np.random.default_rng(seed)
    strata = [np.asarray(s, dtype=float).ravel() for s in scores_by_task]
    if not strata or any(len(s) == 0 for s in strata):
        raise ValueError("every task needs at least one score")
    point = statistic(np.concatenate(strata))
    draws = np.empty(resamples)
    for r in range(resamples):
        draws[r] = statistic(np.concatenate([s[rng.integers(0, len(s), len(s))] for s in strata]))
    return (point, *percentile_interval(draws, confidence))


def percentile_interval(draws: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of bootstrap draws (NaN-free)."""
    tail = 100 * (1 - confidence) / 2
    lower, upper = np.percentile(draws, [tail, 100 - tail])
    return float(lower), float(upper)


# A percentile bootstrap of fewer runs than this covers far less than its nominal level.
MIN_BOOTSTRAP_RUNS = 5


@dataclass(frozen=True)
class BootstrapTest:
    """A bootstrapped statistic: its value, percentile interval, two-sided p-value against
    zero and standard error (NaN but the value where the runs were too few), over ``runs``
    runs (the smallest stratum's)."""

    value: float
    low: float
    high: float
    p: float
    se: float
    runs: int


def bootstrap_test(
    groups: list[np.ndarray], statistic, *, resamples: int = 2000, confidence: float = 0.95,
    seed: int = 0, min_runs: int = MIN_BOOTSTRAP_RUNS,
) -> BootstrapTest:
    """``bootstrap_candidates``, with the two-sided p-value of the statistic against zero:
    twice the smaller share of draws on either side of it, each counted as (k + 1) /
    (resamples + 1) so that no p is 0; p < 1 - confidence where the interval excludes zero."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(g, dtype=float) for g in groups]
    if not groups or any(g.ndim != 2 or g.shape[1] == 0 for g in groups):
        raise ValueError("every stratum needs a (candidates, runs) array with at least one run")
    point = float(statistic([g.mean(axis=1)[None, :] for g in groups])[0])
    runs = min(g.shape[1] for g in groups)
    if runs < min_runs:
        return BootstrapTest(point, math.nan, math.nan, math.nan, math.nan, runs)
    means = []
    for g in groups:
        index = rng.integers(0, g.shape[1], size=(resamples, g.shape[1]))
        means.append(g[:, index].mean(axis=2).T)  # (resamples, candidates)
    draws = np.asarray(statistic(means), dtype=float)
    side = min(int((draws <= 0).sum()), int((draws >= 0).sum()))
    p = min(1.0, 2 * (side + 1) / (resamples + 1))
    return BootstrapTest(point, *percentile_interval(draws, confidence), p, float(draws.std(ddof=1)), runs)


def bootstrap_candidates(
    groups: list[np.ndarray], statistic, *, resamples: int = 2000, confidence: float = 0.95,
    seed: int = 0, min_runs: int = MIN_BOOTSTRAP_RUNS,
) -> tuple[float, float, float]:
    """(statistic, lower, upper) for a statistic of candidates' mean scores.

    ``groups`` holds one (candidates, runs) array per stratum (e.g. a task): row c is one
    candidate's runs, and column r is the same run index (collection seed x training seed)
    for every candidate of the stratum, so candidates are compared paired. ``statistic``
    maps a list of (draws, candidates) arrays of means, one per stratum, to (draws,)
    values. Each resample draws a stratum's run indices with replacement, shared by its
    candidates, and recomputes every mean, so a statistic that selects (a family's best
    candidate, say) is reselected in every resample and its interval carries the selection.
    The bounds are NaN (no interval) when a stratum has fewer than ``min_runs`` runs.
    """
    test = bootstrap_test(groups, statistic, resamples=resamples, confidence=confidence, seed=seed,
                          min_runs=min_runs)
    return test.value, test.low, test.high


def spearman_permutation_test(x, y, *, resamples: int = 20000, seed: int = 0) -> tuple[float, float]:
    """(Spearman's rho, two-sided p-value) by permuting ``y``'s ranks: every permutation when
    there are at most ``resamples`` of them (exact), else ``resamples`` random ones."""
    rank_x = rankdata(x) - (len(x) + 1) / 2
    rank_y = rankdata(y) - (len(y) + 1) / 2
    scale = np.sqrt((rank_x**2).sum() * (rank_y**2).sum())
    if scale == 0:
        return float("nan"), 1.0  # a constant variable has no rank order
    rho = float(rank_x @ rank_y / scale)
    n = len(rank_x)
    if math.factorial(n) <= resamples:
        orders = np.array(list(itertools.permutations(range(n))))
    else:
        orders = np.random.default_rng(seed).permuted(np.tile(np.arange(n), (resamples, 1)), axis=1)
    permuted = rank_y[orders] @ rank_x / scale
    return rho, float(np.mean(np.abs(permuted) >= abs(rho) - 1e-12))


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given: the i-th smallest of m is
    multiplied by m - i + 1 (i from 1), made monotone in that order and capped at 1. A
    verdict at level a on the adjusted p-values errs on any of the m rows with probability
    at most a, whatever their dependence."""
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted, running = [0.0] * m, 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


POWER = 0.8


def detectable_difference(se: float, level: float, power: float = POWER) -> float:
    """The smallest true difference a two-sided test at ``level`` detects with probability
    ``power``, for an estimate of standard error ``se`` (normal approximation):
    (z_(1 - level / 2) + z_power) se."""
    return (norm.ppf(1 - level / 2) + norm.ppf(power)) * se


def runs_to_detect(difference: float, se: float, runs: int, level: float, power: float = POWER) -> float:
    """Runs at which a true ``difference`` is detected with probability ``power``, from an
    estimate of standard error ``se`` over ``runs`` runs (se falls as 1 / sqrt(runs));
    inf for a difference of 0."""
    if difference == 0:
        return math.inf
    return float(math.ceil(runs * (detectable_difference(se, level, power) / abs(difference)) ** 2))
