import math

import faiss
import numpy as np
import pytest
from scipy import integrate
from scipy.spatial.distance import cdist
from scipy.special import digamma

from berl.coverage import estimators as est

# Tolerances are about 2-3x the worst error seen over seeds 0-4 of the same case
# (the test itself runs seed 0); they are finite-sample errors, mostly bias.


def gaussian(n: int, d: int, std: float, seed: int, offset: float = 0.0) -> np.ndarray:
    return offset + std * np.random.default_rng(seed).standard_normal((n, d))


def correlated_gaussian(n: int, cov: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(np.zeros(len(cov)), cov, size=n)


def uniform(n: int, lengths: list[float], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, len(lengths))) * np.array(lengths)


def brute_force_kth(points: np.ndarray, k: int) -> np.ndarray:
    distance = cdist(points, points)
    np.fill_diagonal(distance, np.inf)  # exclude each point by index, not by distance 0
    return np.sort(distance, axis=1)[:, k - 1]


def signed_power(u: float, alpha: float) -> float:
    return math.copysign(abs(u) ** alpha, u)


def be_integrand(u: float, alpha: float, beta: float) -> float:
    s = signed_power(u, alpha)
    return beta * s * math.exp(-beta * s)


# --------------------------------------------------------------------------- k-NN search

def test_exact_search_matches_brute_force_with_offsets_and_duplicates():
    rng = np.random.default_rng(0)
    cloud = 100.0 + rng.standard_normal((1500, 3))  # far from the origin: tests the centring
    cloud[1400:1420] = cloud[:20]  # 20 pairs of duplicates
    cloud[1420:1424] = cloud[20]  # one point five times: k = 1..4 neighbours at distance 0
    for k in (1, 3, 4, 6):
        np.testing.assert_allclose(est.knn_distances(cloud, k), brute_force_kth(cloud, k),
                                   rtol=1e-12, atol=0)
    assert np.count_nonzero(est.knn_distances(cloud, 1) == 0) == 45


def test_exact_search_keeps_float64_precision_for_tightly_packed_points():
    # 3000 points within ~0.2 of 5.0: neighbours are ~1e-4 apart, below what float32
    # |x|^2 + |y|^2 - 2xy can resolve; the result must still be the float64 distance.
    line = gaussian(3000, 1, 0.05, seed=1, offset=5.0)
    # A lattice whose left and right neighbours tie to 1e-9, closer than float32 resolves:
    # the nearer one is found only by re-ranking spare candidates in float64.
    lattice = 5.0 + 1e-3 * np.arange(3000) + 1e-9 * np.random.default_rng(1).standard_normal(3000)
    for points in (line, lattice[:, None]):
        for k in (1, 5):
            np.testing.assert_allclose(est.knn_distances(points, k), brute_force_kth(points, k),
                                       rtol=1e-12, atol=0)


def test_ivf_search_agrees_with_exact_on_most_points():
    cloud = gaussian(10_000, 3, 1.0, seed=2)
    exact = est.knn_distances(cloud, 5)
    approximate = est.knn_distances(cloud, 5, index="ivf", nprobe=16)
    assert np.mean(approximate == exact) > 0.99  # observed 0.9999
    # A missed neighbour can only make the k-th distance longer.
    assert np.all(approximate >= exact)
    assert est.shannon_entropy(cloud, index="ivf") == pytest.approx(
        est.shannon_entropy(cloud), abs=1e-3)


def test_search_restores_faiss_settings():
    threads, blas = faiss.omp_get_max_threads(), faiss.cvar.distance_compute_blas_threshold
    est.knn_distances(gaussian(500, 2, 1.0, seed=3), 3, threads=1)
    est.knn_distances(gaussian(500, 2, 1.0, seed=3), 3, index="ivf", threads=1)
    assert (faiss.omp_get_max_threads(), faiss.cvar.distance_compute_blas_threshold) == (threads, blas)


def test_neighbour_distances_give_every_rank_up_to_k():
    cloud = gaussian(800, 4, 1.0, seed=10)
    cloud[700:703] = cloud[0]  # duplicates: the point itself must still be left out
    distance = cdist(cloud, cloud)
    np.fill_diagonal(distance, np.inf)
    nearest = est.neighbour_distances(cloud, 7)
    np.testing.assert_allclose(nearest, np.sort(distance, axis=1)[:, :7], rtol=1e-12, atol=0)
    assert np.array_equal(nearest[:, 2], est.knn_distances(cloud, 3))


def test_nearest_distances_of_queries_match_brute_force():
    cloud = gaussian(1000, 3, 1.0, seed=11, offset=50.0)
    queries = gaussian(300, 3, 1.5, seed=12, offset=50.0).astype(np.float32)  # as coverage passes them
    expected = cdist(queries.astype(np.float64), cloud).min(axis=1)
    np.testing.assert_allclose(est.nearest_distances(cloud, queries), expected, rtol=1e-12, atol=0)
    assert est.nearest_distances(cloud, cloud[:5]).tolist() == [0.0] * 5  # no self-exclusion
    assert est.nearest_distances(cloud[:1], queries[:2]) == pytest.approx(cdist(queries[:2], cloud[:1])[:, 0])


def test_estimates_from_distances_equal_those_from_points():
    cloud = gaussian(2000, 3, 0.3, seed=13)
    radius = est.knn_distances(cloud, 6)
    assert est.shannon_from_distances(radius, 3, 6) == est.shannon_entropy(cloud, k=6)
    assert est.renyi_from_distances(radius, 3, 6, 0.7) == est.renyi_entropy(cloud, 0.7, k=6)
    assert est.renyi_from_distances(radius, 3, 6, 1.0) == est.shannon_entropy(cloud, k=6)
    assert est.behavioral_from_distances(radius, 3, 6, 2.0) == est.behavioral_entropy(cloud, 2.0, k=6)
    assert est.behavioral_from_distances(radius, 3, 6, 0.5, 1.3) == est.behavioral_entropy(cloud, 0.5, 1.3, k=6)
    corrected = est.behavioral_from_distances(radius, 3, 6, 0.5, method="corrected")
    assert corrected == est.behavioral_entropy(cloud, 0.5, k=6, method="corrected")
    # Several alphas share one fit of the corrected estimator's law, with the same results.
    assert est.behavioral_estimates(radius, 3, 6, [0.5, 2.0], method="corrected") == [
        corrected, est.behavioral_from_distances(radius, 3, 6, 2.0, method="corrected")]
    assert est.behavioral_estimates(radius, 3, 6, [2.0]) == [est.behavioral_from_distances(radius, 3, 6, 2.0)]


def test_log10_of_the_papers_estimate_holds_where_the_value_is_past_float64():
    # Equal radii give every point the same u = -log(k / (n V_d r^d)), so the estimate is
    # g(u) e^u exactly: here (d = 8, r = 30, k = 5) u = 32.1 and at alpha = 5 g(u) e^u is
    # about 10^-1.5e6, 0 in float64; its log10 is (log beta + alpha log u + u - beta u^alpha) / ln 10.
    n, dim, k, radius = 50, 8, 5, 30.0
    u = -(math.log(k) - math.log(n) - est.log_unit_ball_volume(dim) - dim * math.log(radius))
    radii = np.full(n, radius)
    logs = est.behavioral_log10_estimates(radii, dim, k, [0.5, 5.0])
    for alpha, value in zip([0.5, 5.0], logs):
        beta = est.prelec_beta(alpha)
        assert value == pytest.approx((math.log(beta) + alpha * math.log(u) + u - beta * u**alpha) / math.log(10),
                                      rel=1e-12)
    assert est.behavioral_from_distances(radii, dim, k, 5.0) == 0.0  # what the value alone gives
    assert logs[0] == pytest.approx(math.log10(est.behavioral_from_distances(radii, dim, k, 0.5)), rel=1e-12)


def test_log10_of_the_corrected_estimate_is_that_of_its_value():
    cloud = gaussian(2000, 3, 1.0, seed=14)
    radius = est.knn_distances(cloud, 10)
    values = est.behavioral_estimates(radius, 3, 10, [0.5, 2.0], method="corrected")
    assert est.behavioral_log10_estimates(radius, 3, 10, [0.5, 2.0], method="corrected") == pytest.approx(
        np.log10(values), rel=1e-12)


def test_knn_log_density_uses_the_unit_ball_volume():
    for d, volume in [(1, 2.0), (2, math.pi), (3, 4 / 3 * math.pi), (5, 8 / 15 * math.pi**2)]:
        cloud = gaussian(400, d, 1.0, seed=d)
        radius = brute_force_kth(cloud, 4)
        expected = np.log(4 / (400 * volume * radius**d))
        np.testing.assert_allclose(est.knn_log_density(cloud, 4), expected, rtol=1e-12)


def test_estimators_stay_finite_in_the_representation_dimension():
    cloud = gaussian(300, 512, 1.0, seed=4)  # V_512 ~ e^-874: overflows outside log space
    assert np.isfinite(est.knn_log_density(cloud)).all()
    assert math.isfinite(est.shannon_entropy(cloud))
    assert math.isfinite(est.renyi_entropy(cloud, 0.5))
    # BE itself is past float64 there at alpha < 1: both estimators say so alike.
    for alpha, value in [(0.5, math.inf), (2.0, 0.0)]:
        assert est.behavioral_entropy(cloud, alpha) == value
        assert est.behavioral_entropy(cloud, alpha, method="corrected") == value


# --------------------------------------------------------------------------- Shannon

SHANNON_CASES = [  # (name, points, truth, tolerance); n = 20000, k = 5. Other scales: see below.
    ("gauss d1 std0.05", lambda s: gaussian(20_000, 1, 0.05, s), est.gaussian_shannon(0.05**2), 0.03),
    ("gauss d2 std3", lambda s: gaussian(20_000, 2, 3.0, s), est.gaussian_shannon(9.0 * np.eye(2)), 0.06),
    ("gauss d2 correlated", lambda s: correlated_gaussian(20_000, np.array([[1.0, 0.8], [0.8, 1.0]]), s),
     est.gaussian_shannon(np.array([[1.0, 0.8], [0.8, 1.0]])), 0.06),
    ("gauss d5 std1", lambda s: gaussian(20_000, 5, 1.0, s), est.gaussian_shannon(np.eye(5)), 0.15),
    ("uniform [2]", lambda s: uniform(20_000, [2.0], s), est.uniform_shannon([2.0]), 0.03),
    ("uniform [0.5, 4]", lambda s: uniform(20_000, [0.5, 4.0], s), est.uniform_shannon([0.5, 4.0]), 0.05),
    ("uniform [0.2]^3", lambda s: uniform(20_000, [0.2] * 3, s), est.uniform_shannon([0.2] * 3), 0.15),
]


@pytest.mark.parametrize("name, sample, truth, tolerance", SHANNON_CASES, ids=[c[0] for c in SHANNON_CASES])
def test_kozachenko_leonenko_matches_closed_form(name, sample, truth, tolerance):
    assert est.shannon_entropy(sample(0)) == pytest.approx(truth, abs=tolerance)


@pytest.mark.parametrize("std", [0.05, 3.0])
def test_shannon_and_renyi_estimates_shift_by_d_log_scale(std):
    # Scaling the data by std multiplies every R_k by std, so the estimates move by d log std
    # exactly, and the errors measured above at one scale hold at every scale.
    cloud = gaussian(3000, 2, 1.0, seed=9)
    shift = 2 * math.log(std)
    assert est.shannon_entropy(std * cloud) == pytest.approx(est.shannon_entropy(cloud) + shift, abs=1e-9)
    for q in (0.5, 1.5):
        assert est.renyi_entropy(std * cloud, q) == pytest.approx(est.renyi_entropy(cloud, q) + shift, abs=1e-9)


def test_kozachenko_leonenko_error_shrinks_with_sample_size():
    truth = est.gaussian_shannon(np.eye(2))

    def mean_error(n: int, seeds: range) -> float:
        return float(np.mean([abs(est.shannon_entropy(gaussian(n, 2, 1.0, s)) - truth) for s in seeds]))

    # Observed 0.05-0.07 at n = 300 (8 seeds) against at most 0.015 at n = 20000 (3 seeds).
    assert mean_error(20_000, range(3)) < 0.5 * mean_error(300, range(8))


# --------------------------------------------------------------------------- Rényi

RENYI_DATA = {  # n = 10000, k = 5
    "gauss d1 std1": (lambda s: gaussian(10_000, 1, 1.0, s), lambda q: est.gaussian_renyi(1.0, q)),
    "gauss d2 std0.05": (lambda s: gaussian(10_000, 2, 0.05, s),
                         lambda q: est.gaussian_renyi(0.05**2 * np.eye(2), q)),
    "uniform [2]": (lambda s: uniform(10_000, [2.0], s), lambda q: est.uniform_renyi([2.0], q)),
    "uniform [0.5, 4]": (lambda s: uniform(10_000, [0.5, 4.0], s), lambda q: est.uniform_renyi([0.5, 4.0], q)),
}
RENYI_TOLERANCE = {  # (data, q) -> tolerance
    ("gauss d1 std1", 0.5): 0.06, ("gauss d1 std1", 0.9): 0.05, ("gauss d1 std1", 1.5): 0.07,
    ("gauss d2 std0.05", 0.5): 0.15, ("gauss d2 std0.05", 0.9): 0.06, ("gauss d2 std0.05", 1.5): 0.05,
    ("uniform [2]", 0.5): 0.012, ("uniform [2]", 0.9): 0.015, ("uniform [2]", 1.5): 0.025,
    ("uniform [0.5, 4]", 0.5): 0.08, ("uniform [0.5, 4]", 0.9): 0.08, ("uniform [0.5, 4]", 1.5): 0.08,
}


@pytest.mark.parametrize("data, q", list(RENYI_TOLERANCE), ids=[f"{d} q{q}" for d, q in RENYI_TOLERANCE])
def test_renyi_matches_closed_form(data, q):
    sample, truth = RENYI_DATA[data]
    assert est.renyi_entropy(sample(0), q) == pytest.approx(truth(q), abs=RENYI_TOLERANCE[data, q])


def test_renyi_order_one_is_kozachenko_leonenko_and_continuous_there():
    cloud = gaussian(2000, 2, 1.0, seed=5)
    shannon = est.shannon_entropy(cloud)
    assert est.renyi_entropy(cloud, 1.0) == shannon
    # Near q = 1 the Leonenko–Pronzato–Savani estimate tends to Kozachenko–Leonenko with
    # log(n - 1) in place of psi(n): a step of about 1 / (2n) at q = 1 itself.
    limit = shannon + math.log(len(cloud) - 1) - float(digamma(len(cloud)))
    for q in (1 - 1e-6, 1 + 1e-6):
        assert est.renyi_entropy(cloud, q) == pytest.approx(limit, abs=1e-5)
    assert est.gaussian_renyi(np.eye(2), 1 + 1e-8) == pytest.approx(est.gaussian_shannon(np.eye(2)), abs=1e-6)


def test_gaussian_renyi_decreases_with_order_and_uniform_renyi_does_not():
    orders = [0.3, 0.5, 0.9, 1.0, 1.5, 3.0]
    gauss = [est.gaussian_renyi(np.eye(3), q) for q in orders]
    assert all(a > b for a, b in zip(gauss, gauss[1:]))
    assert {est.uniform_renyi([2.0, 3.0], q) for q in orders} == {math.log(6.0)}


# --------------------------------------------------------------------------- behavioral entropy

def test_prelec_beta_matches_the_papers_table():
    table = {0.2: 4.3257, 0.5: 2.4977, 0.7: 1.7319, 0.9: 1.2009, 1.5: 0.4004, 2.0: 0.1603,
             3.0: 0.0257, 5.0: 6.6e-4}
    for alpha, beta in table.items():
        assert est.prelec_beta(alpha) == pytest.approx(beta, rel=2e-3)
    assert est.prelec_beta(1.0) == 1.0


def test_behavioral_alpha_one_is_the_plugin_shannon_estimate():
    cloud = gaussian(10_000, 2, 0.05, seed=0)  # density up to 64: negative entropy
    plugin = float(-est.knn_log_density(cloud, 10).mean())
    assert est.behavioral_entropy(cloud, 1.0) == pytest.approx(plugin, rel=1e-12)
    # The plug-in keeps a bias of about log k - psi(k) ~ 1 / (2k) = 0.05 nats (observed
    # -0.065 on average over seeds 0-4), which Kozachenko–Leonenko removes.
    truth = est.gaussian_shannon(0.05**2 * np.eye(2))
    assert plugin == pytest.approx(truth, abs=0.15)
    assert est.shannon_entropy(cloud) == pytest.approx(truth, abs=0.06)


BE_BELOW_ONE = [  # (name, points, alpha, truth, tolerance); n = 10000, k = 10; f < 1 everywhere
    ("uniform [8] a0.5", lambda s: uniform(10_000, [8.0], s), 0.5, est.uniform_behavioral([8.0], 0.5), 0.015),
    ("uniform [4, 4] a0.5", lambda s: uniform(10_000, [4.0, 4.0], s), 0.5,
     est.uniform_behavioral([4.0, 4.0], 0.5), 0.01),
    ("gauss d1 std2 a0.5", lambda s: gaussian(10_000, 1, 2.0, s), 0.5, est.gaussian_behavioral(2.0, 1, 0.5), 0.06),
    ("uniform [8] a2", lambda s: uniform(10_000, [8.0], s), 2.0, est.uniform_behavioral([8.0], 2.0), 0.15),
    ("uniform [4, 4] a2", lambda s: uniform(10_000, [4.0, 4.0], s), 2.0,
     est.uniform_behavioral([4.0, 4.0], 2.0), 0.35),
    ("gauss d1 std2 a2", lambda s: gaussian(10_000, 1, 2.0, s), 2.0, est.gaussian_behavioral(2.0, 1, 2.0), 0.2),
    ("gauss d2 std2 a2", lambda s: gaussian(10_000, 2, 2.0, s), 2.0, est.gaussian_behavioral(2.0, 2, 2.0), 0.6),
]


@pytest.mark.parametrize("name, sample, alpha, truth, tolerance", BE_BELOW_ONE, ids=[c[0] for c in BE_BELOW_ONE])
def test_behavioral_matches_ground_truth_for_densities_below_one(name, sample, alpha, truth, tolerance):
    assert est.behavioral_entropy(sample(0), alpha) == pytest.approx(truth, abs=tolerance)


BE_ABOVE_ONE = [  # same, with f > 1 somewhere: the signed-power convention of the module
    ("uniform [0.5] a0.5", lambda s: uniform(10_000, [0.5], s), 0.5, est.uniform_behavioral([0.5], 0.5), 0.6),
    ("uniform [0.5, 0.5] a0.5", lambda s: uniform(10_000, [0.5, 0.5], s), 0.5,
     est.uniform_behavioral([0.5, 0.5], 0.5), 0.6),
    ("gauss d1 std0.05 a0.5", lambda s: gaussian(10_000, 1, 0.05, s), 0.5,
     est.gaussian_behavioral(0.05, 1, 0.5), 0.3),
    ("uniform [0.5, 0.5] a2", lambda s: uniform(10_000, [0.5, 0.5], s), 2.0,
     est.uniform_behavioral([0.5, 0.5], 2.0), 0.015),
    ("gauss d2 std0.05 a2", lambda s: gaussian(10_000, 2, 0.05, s), 2.0,
     est.gaussian_behavioral(0.05, 2, 2.0), 0.12),
]


@pytest.mark.parametrize("name, sample, alpha, truth, tolerance", BE_ABOVE_ONE, ids=[c[0] for c in BE_ABOVE_ONE])
def test_behavioral_matches_ground_truth_for_densities_above_one(name, sample, alpha, truth, tolerance):
    # Under the signed power (-log f)^alpha -> -|log f|^alpha, a density above 1 everywhere
    # gives a negative BE (clamping at f = 1 would give 0), and the estimator follows it.
    assert truth < 0
    assert est.behavioral_entropy(sample(0), alpha) == pytest.approx(truth, abs=tolerance)


def test_signed_power_lets_a_dense_cluster_dominate_for_alpha_above_one():
    # The documented price of the convention: f >> 1 weighs exp(beta |log f|^alpha) / f.
    rng = np.random.default_rng(14)
    cloud = np.concatenate([rng.standard_normal((1800, 4)), 0.01 * rng.standard_normal((200, 4))])
    assert est.behavioral_entropy(cloud, 3.0) < -1e10
    assert 0 < est.behavioral_entropy(cloud, 0.5) < 1e4  # below 1 the same cluster stays tame


# --------------------------------------------------------------------------- corrected BE

CORRECTED_DATA = {  # name: (points of (seed, dim), truth of (dim, alpha)); n = 20000
    "gauss std1": (lambda s, d: gaussian(20_000, d, 1.0, s), lambda d, a: est.gaussian_behavioral(1.0, d, a)),
    "gauss std0.05": (lambda s, d: gaussian(20_000, d, 0.05, s), lambda d, a: est.gaussian_behavioral(0.05, d, a)),
    "uniform side4": (lambda s, d: uniform(20_000, [4.0] * d, s), lambda d, a: est.uniform_behavioral([4.0] * d, a)),
    "uniform side0.5": (lambda s, d: uniform(20_000, [0.5] * d, s),
                        lambda d, a: est.uniform_behavioral([0.5] * d, a)),
}


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("data", list(CORRECTED_DATA))
def test_corrected_behavioral_is_within_5_percent_of_the_integrated_truth(data, dim):
    # Mean of seeds 0 and 1 at k = 10; the worst cell of this grid was 2.8 % (uniform side
    # 0.5, d = 3, alpha = 2), where the paper's estimator misses by up to 18 %.
    sample, truth = CORRECTED_DATA[data]
    alphas = [0.5, 1.0, 1.5, 2.0]
    runs = [est.behavioral_estimates(est.knn_distances(sample(seed, dim), 10), dim, 10, alphas,
                                     method="corrected") for seed in (0, 1)]
    for alpha, mean in zip(alphas, np.mean(runs, axis=0)):
        assert mean == pytest.approx(truth(dim, alpha), rel=0.05), alpha


def test_paper_estimator_is_the_one_biased_low_at_alpha_below_one():
    # A 3-D standard Gaussian at alpha = 0.5: the paper's estimator comes out 18 % low (seeds
    # 0-4: 17.6-19.4 %), the corrected one within 1 % of the truth on the same distances.
    cloud = gaussian(20_000, 3, 1.0, seed=0)
    truth = est.gaussian_behavioral(1.0, 3, 0.5)
    assert est.behavioral_entropy(cloud, 0.5) < 0.9 * truth
    assert est.behavioral_entropy(cloud, 0.5, method="corrected") == pytest.approx(truth, rel=0.05)


def test_corrected_law_tells_a_flat_density_from_a_light_tail():
    law = est.LogDensityLaw.fit(est.knn_distances(uniform(20_000, [4.0] * 3, 0), 10), 3, 10)
    assert (law.family, law.u_min) == ("flat", pytest.approx(3 * math.log(4.0), abs=0.05))
    assert 0.2 < law.spread < 0.7  # the share of points whose ball a face cuts (about 0.26)
    law = est.LogDensityLaw.fit(est.knn_distances(gaussian(20_000, 3, 1.0, 0), 10), 3, 10)
    assert (law.family, law.spread) == ("light_tail", pytest.approx(1.5, abs=0.1))  # shape d / 2
    assert law.u_min == pytest.approx(1.5 * math.log(2 * math.pi), abs=0.1)


EULER_GAMMA = 0.5772156649015329


@pytest.mark.parametrize("k, mean, variance", [
    (1, -EULER_GAMMA, math.pi**2 / 6),  # E log G = psi(1), Var log G = psi'(1) for G ~ Exp(1)
    (2, 1 - EULER_GAMMA - math.log(2), math.pi**2 / 6 - 1),  # psi(2) - log 2, psi'(2)
])
def test_noise_model_has_kozachenko_leonenkos_moments(k, mean, variance):
    # The k-NN error eta = log(G / k), G ~ Gamma(k, 1), on the grid the corrected estimator uses.
    start, mass = est._noise_kernel(k)
    eta = (start + np.arange(len(mass))) * est.GRID_STEP
    assert mass.sum() == pytest.approx(1.0, abs=1e-9)
    assert mass @ eta == pytest.approx(mean, abs=1e-4)
    assert mass @ (eta - mean) ** 2 == pytest.approx(variance, abs=1e-3)


def test_edge_model_raises_log_density_by_the_share_of_the_ball_cut_off():
    # On a line a point at depth x R_k (x ~ U(0, 1)) inside the edge keeps (1 + x) / 2 of its
    # ball, so u_hat rises by -log((1 + x) / 2): 1 - log 2 on average (∫ log(1 + x) = 2 log 2 - 1).
    # With every point at an edge (share 1) and k = 1, u_hat - u_min = eta + that rise.
    position, mass = est._observed_law("flat", 0.0, 1.0, 1, 10.0, *est._noise_kernel(1))
    assert mass.sum() == pytest.approx(1.0, abs=1e-9)
    assert mass @ position == pytest.approx(-EULER_GAMMA + 1 - math.log(2), abs=1e-3)


def test_gamma_law_behavioral_matches_closed_forms():
    # Shape 1, u_min 0: u ~ Exp(1) under f, the level set {u <= s} has volume s, so
    # H_B = ∫_0^inf g(u) du: at alpha 2, ∫ beta u^2 exp(-beta u^2) du = sqrt(pi / beta) / 4;
    # at alpha 1/2 (u = t^2), ∫ 2 beta t^2 exp(-beta t) dt = 4 / beta^2.
    for beta in (0.5, 2.0):
        assert est.behavioral_of_gamma_law(0.0, 1.0, 2.0, beta) == pytest.approx(math.sqrt(math.pi / beta) / 4,
                                                                                 rel=1e-8)
        assert est.behavioral_of_gamma_law(0.0, 1.0, 0.5, beta) == pytest.approx(4 / beta**2, rel=1e-8)
    assert est.behavioral_of_gamma_law(1.5, 2.0, 1.0, 1.0) == pytest.approx(3.5)  # Shannon: E u = u_min + shape
    # A vanishing shape leaves a flat density: volume * g(log volume).
    assert est.behavioral_of_gamma_law(math.log(8.0), 1e-9, 0.5) == pytest.approx(
        est.uniform_behavioral([8.0], 0.5), rel=1e-6)


# --------------------------------------------------------------------------- ground truths

@pytest.mark.parametrize("dim, std", [(1, 1.0), (1, 0.05), (2, 2.0), (5, 0.3), (24, 1.0), (512, 1.0)])
def test_gaussian_behavioral_at_alpha_one_is_shannon(dim, std):
    assert est.gaussian_behavioral(std, dim, 1.0, 1.0) == pytest.approx(
        est.gaussian_shannon(std**2 * np.eye(dim)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("std", [0.05, 0.5, 2.0])
def test_gaussian_behavioral_matches_direct_integration(alpha, std):
    beta = est.prelec_beta(alpha)
    c1 = 0.5 * math.log(2 * math.pi * std**2)

    def over_line(x: float) -> float:  # d = 1: integrate over x itself
        return be_integrand(c1 + x * x / (2 * std**2), alpha, beta)

    def over_plane(r: float) -> float:  # d = 2: over the radius, ring area 2 pi r dr
        return 2 * math.pi * r * be_integrand(2 * c1 + r * r / (2 * std**2), alpha, beta)

    line = 2 * integrate.quad(over_line, 0, np.inf, limit=500)[0]
    plane = integrate.quad(over_plane, 0, np.inf, limit=500)[0]
    assert est.gaussian_behavioral(std, 1, alpha) == pytest.approx(line, rel=1e-7, abs=1e-9)
    assert est.gaussian_behavioral(std, 2, alpha) == pytest.approx(plane, rel=1e-7, abs=1e-9)


def test_gaussian_behavioral_matches_monte_carlo_with_the_true_density():
    # E_f[g(-log f) / f] with the exact density; alpha = 2 keeps the weights' variance finite.
    std, dim, alpha = 0.7, 3, 2.0
    beta = est.prelec_beta(alpha)
    x = gaussian(400_000, dim, std, seed=6)
    u = 0.5 * dim * math.log(2 * math.pi * std**2) + (x**2).sum(axis=1) / (2 * std**2)
    weights = beta * u**alpha * np.exp(u - beta * u**alpha)
    standard_error = weights.std() / math.sqrt(len(weights))
    assert abs(weights.mean() - est.gaussian_behavioral(std, dim, alpha)) < 4 * standard_error


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("lengths", [[8.0], [0.5, 0.5], [2.0, 0.25, 3.0]])
def test_uniform_behavioral_matches_integration_over_the_box(alpha, lengths):
    beta = est.prelec_beta(alpha)
    volume = float(np.prod(lengths))

    def integrand(*x: float) -> float:
        return be_integrand(-math.log(1 / volume), alpha, beta)

    expected = integrate.nquad(integrand, [(0, length) for length in lengths])[0]
    assert est.uniform_behavioral(lengths, alpha) == pytest.approx(expected, rel=1e-9)
    if alpha == 1.0:
        assert est.uniform_behavioral(lengths, alpha) == pytest.approx(est.uniform_shannon(lengths))


# --------------------------------------------------------------------------- bad input

CLOUD = gaussian(50, 2, 1.0, seed=7)


@pytest.mark.parametrize("call, message", [
    (lambda: est.knn_distances(CLOUD[:, 0], 3), "2-D"),
    (lambda: est.knn_distances(CLOUD[None], 3), "2-D"),
    (lambda: est.knn_distances(CLOUD, 0), "k must be"),
    (lambda: est.knn_distances(CLOUD, 2.5), "k must be"),
    (lambda: est.knn_distances(CLOUD, 50), "smaller than the number of points"),
    (lambda: est.knn_distances(np.where(np.arange(100).reshape(50, 2) == 7, np.nan, CLOUD), 3), "1 non-finite"),
    (lambda: est.knn_distances(np.where(np.arange(100).reshape(50, 2) == 7, np.inf, CLOUD), 3), "1 non-finite"),
    (lambda: est.knn_distances(CLOUD, 3, index="hnsw"), "index must be"),
    (lambda: est.knn_distances(CLOUD, 3, index="ivf", nprobe=0), "nprobe"),
    (lambda: est.neighbour_distances(CLOUD, 50), "smaller than the number of points"),
    (lambda: est.nearest_distances(CLOUD, CLOUD[:, :1]), "columns"),
    (lambda: est.nearest_distances(CLOUD, CLOUD[:0]), "non-empty"),
    (lambda: est.shannon_from_distances(np.array([1.0, -1.0, 2.0]), 1, 1), "non-negative"),
    (lambda: est.shannon_from_distances(np.ones((3, 2)), 1, 1), "1-D"),
    (lambda: est.renyi_from_distances(np.ones(3), 1, 3, 0.5), "k must be"),
    (lambda: est.behavioral_from_distances(np.ones(3), 1, 1, -0.5), "alpha must be positive"),
    (lambda: est.behavioral_from_distances(np.ones(3), 1, 1, 0.5, method="knn"), "method must be one of"),
    (lambda: est.behavioral_estimates(np.ones(3), 1, 1, [0.5], method="knn"), "method must be one of"),
    (lambda: est.behavioral_of_gamma_law(0.0, 0.0, 0.5), "shape must be positive"),
    (lambda: est.shannon_entropy(CLOUD, k=50), "smaller than the number of points"),
    (lambda: est.renyi_entropy(CLOUD, 0.0), "q must be > 0"),
    (lambda: est.renyi_entropy(CLOUD, 4.0, k=3), "k > q - 1"),
    (lambda: est.behavioral_entropy(CLOUD, 0.0), "alpha must be positive"),
    (lambda: est.behavioral_entropy(CLOUD, -1.0, 1.0), "alpha must be positive"),
    (lambda: est.behavioral_entropy(CLOUD, 0.5, 0.0), "beta must be positive"),
    (lambda: est.behavioral_entropy(CLOUD, 0.5, -2.0), "beta must be positive"),
    (lambda: est.behavioral_entropy(CLOUD, 0.5, k=0), "k must be"),
    (lambda: est.prelec_beta(0.5, representation_size=1), "representation_size"),
    (lambda: est.gaussian_behavioral(0.0, 2, 0.5), "std"),
    (lambda: est.gaussian_behavioral(1.0, 0, 0.5), "dim"),
    (lambda: est.gaussian_shannon(np.array([[1.0, 2.0], [2.0, 1.0]])), "positive definite"),
    (lambda: est.gaussian_shannon(np.ones((2, 3))), "symmetric square"),
    (lambda: est.gaussian_renyi(np.eye(2), -1.0), "q must be > 0"),
    (lambda: est.uniform_shannon([1.0, 0.0]), "lengths"),
    (lambda: est.uniform_behavioral([1.0], 0.5, 0.0), "beta must be positive"),
])
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_k_or_more_duplicates_are_rejected_with_their_count():
    cloud = gaussian(200, 2, 1.0, seed=8)
    cloud[:4] = cloud[4]  # five copies: each has 4 others at distance 0
    assert est.knn_distances(cloud, 4)[:5].tolist() == [0.0] * 5
    assert math.isfinite(est.shannon_entropy(cloud, k=5))  # the 5th neighbour is a real one
    for estimate in (est.shannon_entropy, est.knn_log_density,
                     lambda x, k: est.renyi_entropy(x, 0.5, k),
                     lambda x, k: est.behavioral_entropy(x, 0.5, k=k)):
        with pytest.raises(ValueError, match="5 of 200 points have at least k=4 exact duplicates"):
            estimate(cloud, k=4)
