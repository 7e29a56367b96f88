import numpy as np
import pytest

from berl.core.stats import interquartile_mean, stratified_bootstrap_ci


def test_iqm_drops_the_lowest_and_highest_quarter():
    assert interquartile_mean([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(4.5)  # mean of 3..6
    assert interquartile_mean([-1000, 5, 5, 1000]) == 5.0
    assert interquartile_mean([3.0]) == 3.0


def test_iqm_of_a_normal_sample_is_near_its_mean_and_ignores_outliers():
    rng = np.random.default_rng(0)
    sample = rng.normal(10.0, 2.0, 4000)
    assert interquartile_mean(sample) == pytest.approx(10.0, abs=0.1)
    sample[:100] = 1e6  # 2.5 % wild runs leave the IQM nearly where it was
    assert interquartile_mean(sample) == pytest.approx(10.0, abs=0.2)


def test_bootstrap_interval_covers_the_truth_at_about_its_level_and_shrinks_with_runs():
    rng = np.random.default_rng(1)
    # The pooled IQM of equal parts N(0, 1), N(1, 1), N(2, 1) is 1 by symmetry.
    covered = []
    for replicate in range(40):
        runs = [rng.normal(mu, 1.0, 20) for mu in (0.0, 1.0, 2.0)]
        _, low, high = stratified_bootstrap_ci(runs, resamples=300, seed=replicate)
        covered.append(low < 1.0 < high)
    assert np.mean(covered) >= 0.8  # nominal 0.95; 40 replicates leave room for noise
    small = [rng.normal(mu, 1.0, 5) for mu in (0.0, 1.0, 2.0)]
    large = [rng.normal(mu, 1.0, 500) for mu in (0.0, 1.0, 2.0)]
    point, low, high = stratified_bootstrap_ci(small, resamples=500)
    assert low <= point <= high
    _, low_large, high_large = stratified_bootstrap_ci(large, resamples=500)
    assert high_large - low_large < 0.3 * (high - low)


def test_bootstrap_keeps_each_task_in_every_resample():
    # Two tasks with constant scores: any resample has the same pooled IQM, so the interval
    # collapses; pooling across strata would not.
    point, low, high = stratified_bootstrap_ci([np.zeros(4), np.ones(4)], resamples=200)
    assert point == low == high == 0.5


def test_bootstrap_is_reproducible_and_refuses_empty_tasks():
    data = [np.arange(10.0), np.arange(5.0)]
    assert stratified_bootstrap_ci(data, seed=3) == stratified_bootstrap_ci(data, seed=3)
    with pytest.raises(ValueError):
        stratified_bootstrap_ci([np.arange(3.0), np.array([])])
