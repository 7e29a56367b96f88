"""Aggregate statistics of offline returns beyond mean ± std.

The interquartile mean (IQM: the mean of the middle 50 % of scores) is robust to outlier
runs yet uses more of the data than the median. Its uncertainty comes from a stratified
bootstrap: runs are resampled with replacement within each task, so every resample keeps
the task mix of the original.
"""

from __future__ import annotations

import numpy as np


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
    tail = 100 * (1 - confidence) / 2
    lower, upper = np.percentile(draws, [tail, 100 - tail])
    return point, float(lower), float(upper)
