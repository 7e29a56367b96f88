"""k-nearest-neighbour entropy estimators (Shannon, Rényi, behavioral) and ground truths.

Every estimator starts from R_k(x_i), the distance from sample i to its k-th nearest other
sample, found with faiss (``knn_distances``; ``neighbour_distances`` gives all of the first
k, so that a sweep over k needs one search). Each estimator exists in two forms, on the
points (``shannon_entropy``) and on the distances (``shannon_from_distances``):

* Shannon: the Kozachenko–Leonenko estimator
  ``psi(n) - psi(k) + log V_d + (d/n) sum_i log R_k(x_i)``, V_d the volume of the unit ball.
* Rényi of order q: the Leonenko–Pronzato–Savani estimator of ``I_q = ∫ f^q``,
  ``H_q = log(I_q) / (1 - q)``.
* Behavioral entropy (BE, Suttle et al. 2025): with the Prelec weight
  ``w(p) = exp(-beta (-log p)^alpha)``, ``H_B(f) = ∫ -w(f) log w(f) dx``, estimated from the
  k-NN density ``f_hat`` by importance sampling, since the samples come from f and the
  integral is over x: ``mean_i -w(f_hat_i) log w(f_hat_i) / f_hat_i`` (method "paper").
  It carries the plug-in bias of log f_hat, and at alpha < 1 it comes out far too low on
  densities with tails (-18 % for a 3-D standard Gaussian at alpha = 0.5, n = 20000).
  Method "corrected" (``LogDensityLaw``) is described below.

Corrected behavioral entropy. BE depends on f only through the law of u = -log f(X), X ~ f:
``H_B = E[phi(u)]``, ``phi(u) = g(u) e^u``, g(u) = -w log w (importance sampling is
this identity). Three things make the plug-in of u_hat = -log f_hat inaccurate, and each
is modelled rather than ignored:

1. Noise. Where f is locally constant, n f V_d R_k^d ~ Gamma(k, 1), so u_hat = u + eta
   with eta = log(G / k), G ~ Gamma(k, 1), independent of u: the fact behind
   Kozachenko–Leonenko (E eta = psi(k) - log k). The law of eta is known exactly, so the
   law of u_hat is modelled as (law of u) convolved with it, on a grid.
2. Tail. For the sparsest points the k-NN ball reaches into denser regions and u_hat is
   too low (by over a nat in the top 0.1 % of a 3-D Gaussian), and beyond the sample the
   weights e^u, which carry the integral at alpha < 1, are not seen at all. The top
   TAIL_FRACTION of u_hat is therefore censored (counted, not used), and the law of u there
   comes from a model: u = u_min + Gamma(shape, 1). This is the law of every Gaussian (shape
   d/2) and of every exp(-|A x|^p) (shape d/p): the volume of {u <= u_min + s} grows as
   s^shape, so P(u > t) ~ e^-t times a power of t, the form of any light tail (mass e^-u per
   unit volume). Its BE is a 1-D integral (``behavioral_of_gamma_law``).
3. Edges. A flat density on a bounded set gives u = const, but points within R_k of the
   edge see their ball cut and u_hat too high. A second family, "flat", models this: u =
   u_min, plus, for a share of the points at a uniform depth inside a flat edge, the log of
   the share of the ball that the edge cuts off. Without it, the edge points would read as a
   small Gamma tail, which alpha = 0.5 weighs heavily (+8 % on a 3-D cube).

Both families are fitted by maximum likelihood on the uncensored u_hat, with u_min set so
that the model's share above the upper cut equals the sample's. The family is then chosen by
the likelihood of every u_hat, the censored ones included: their values are too biased to fit
a model to, but still tell a bounded excess (flat: noise and edges) from an exponential one. The
estimate is a control variate: ``H_model + S_sample - S_model``, with S the
importance-sampling sum of phi(u_hat) between the cuts, over the sample and in expectation
under the model. Where the sample follows the model the two sums cancel and the model's BE
remains, free of noise and tail bias; where it does not, the sample's own sum corrects the
model between the cuts, and only the censored tails rest on the model. At alpha = beta = 1
every part is linear in u and the estimate is Kozachenko–Leonenko's up to the tail model.
Limits: heavy tails (Student-t; their BE is infinite at alpha < 1), densities that fall to
0 at a bounded support's edge (rate 2 instead of 1: +16 % on Beta(2, 2) at alpha = 2), and
high dimensions at small n (8-D, n = 5000: -60 % at alpha = 0.5, the paper's -84 %).

Densities above 1. ``(-log f)^alpha`` is real only where f <= 1 unless alpha is an integer.
Everywhere in this module (estimator and ground truths alike) the power is the signed real
power ``s(u) = sign(u) |u|^alpha`` of ``u = -log f``, so the BE integrand
``g(u) = beta s(u) exp(-beta s(u))`` is finite, and negative, where f > 1. This keeps BE a
continuous function of alpha and makes alpha = beta = 1 equal Shannon entropy for every
density, including concentrated ones (clamping u at 0 would break both). The price is paid
for alpha > 1: where f > 1 the weight ``g(u) / f = -beta |u|^alpha exp(beta |u|^alpha - |u|)``
grows faster than any power of f, so a dense cluster dominates the integral (and any point
whose k-NN density is overestimated dominates the estimate). An 8-D standardised sample
with a tenth of its points in a cluster 100 times tighter has BE about -1e34 at alpha = 2
and -inf at alpha = 5; clamping would give that cluster no weight instead.

All sums over samples are done in log space (log-gamma for the ball volume,
logsumexp for the averages), so dimensions up to the 512 of the representation work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import faiss
import numpy as np
from scipy import integrate, optimize
from scipy.special import (
    betainc,
    digamma,
    gammainc,
    gammainccinv,
    gammaincinv,
    logsumexp,
)

from berl.core.constants import REPRESENTATION_SIZE, prelec_beta

DEFAULT_K = 5
# The paper's BE estimator has no bias correction: its plug-in bias (about 1 / (2k) nats at
# alpha = 1) shrinks with k, so it defaults to more neighbours than Kozachenko–Leonenko.
BEHAVIORAL_K = 10
DEFAULT_NPROBE = 16
SPARE_CANDIDATES = 2  # beyond k + 1, so float32 near-ties at the k-th place are settled in float64
BEHAVIORAL_METHODS = ("paper", "corrected")
# Corrected BE: the shares of the sparsest and of the densest points whose k-NN log density
# is not used, only counted. The sparsest: their ball reaches into denser regions (in 3-D at
# n = 20000 the k = 10 density of the top tenth is already 0.1-0.2 nats too high). The densest:
# at alpha > 1 and f > 1 the heavy lower tail of the k-NN noise would dominate the sum.
TAIL_FRACTION = 0.1
DENSE_FRACTION = 0.02
GRID_STEP = 0.01  # nats: the grid of the laws of -log f and of the k-NN noise
BOUNDARY_DEPTHS = 32  # quadrature points over the depth of a point inside a support's edge


# --------------------------------------------------------------------------- k-NN search

def neighbour_distances(points: np.ndarray, k: int, *, index: str = "exact",
                        nprobe: int = DEFAULT_NPROBE, threads: int | None = None) -> np.ndarray:
    """Distances from every point to its 1st..k-th nearest *other* points, (n, k) float64.

    index="exact" scans all pairs (faiss IndexFlatL2). index="ivf" is approximate, for
    millions of points: an inverted file (IndexIVFFlat) of about sqrt(n) k-means cells, of
    which each query visits ``nprobe``; a missed neighbour can only lengthen a distance.

    Self-exclusion: k + 1 (plus SPARE_CANDIDATES) candidates are searched and the query
    point itself is removed by its index; when it is missing (it tied at distance 0 with
    duplicates) the first k remaining candidates are still the k nearest other points.
    Duplicated points give exact zeros here; the estimators reject those (``_safe_log``).
    """
    x = _check_points(points, k)
    labels = _search(x, x, k + 1 + SPARE_CANDIDATES, index, nprobe, threads)
    distance = _candidate_distances(x, x, labels)
    distance[labels == np.arange(len(x))[:, None]] = np.inf
    nearest = np.sort(distance, axis=1)[:, :k]
    unfilled = int(np.count_nonzero(np.isinf(nearest[:, -1])))
    if unfilled:  # only IVF leaves slots empty: the probed cells held too few points
        raise ValueError(f"the IVF search found fewer than k={k} neighbours for {unfilled} "
                         "points: raise nprobe")
    return nearest


def knn_distances(points: np.ndarray, k: int, *, index: str = "exact",
                  nprobe: int = DEFAULT_NPROBE, threads: int | None = None) -> np.ndarray:
    """Distance from every point to its k-th nearest other point, (n,) float64: R_k."""
    return neighbour_distances(points, k, index=index, nprobe=nprobe, threads=threads)[:, -1]


def nearest_distances(points: np.ndarray, queries: np.ndarray, *,
                      threads: int | None = None) -> np.ndarray:
    """Exact distance from every query to its nearest point, (m,) float64 (no self-exclusion:
    the queries are not among the points)."""
    x = _as_points(points)
    q = _as_points(queries)
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} columns, points {x.shape[1]}")
    labels = _search(x, q, 1 + SPARE_CANDIDATES, "exact", DEFAULT_NPROBE, threads)
    return _candidate_distances(x, q, labels).min(axis=1)


def _search(base: np.ndarray, queries: np.ndarray, candidates: int, index: str, nprobe: int,
            threads: int | None) -> np.ndarray:
    """Labels of the ``candidates`` nearest base points of every query, by faiss in float32.

    Precision: faiss's BLAS kernel computes |x|^2 + |y|^2 - 2 x.y in float32, which loses
    every digit when neighbours are much closer than the cloud's radius (many points in few
    dimensions), so the exact search forces faiss's direct (x - y)^2 kernel, and both sets
    are centred on the base's mean (smaller coordinates, smaller float32 rounding; distances
    unchanged). The callers recompute the candidates' distances in float64 and re-rank them.
    """
    n, d = base.shape
    centre = base.mean(axis=0)
    base32 = np.ascontiguousarray(base - centre, dtype=np.float32)
    queries32 = base32 if queries is base else np.ascontiguousarray(queries - centre, dtype=np.float32)
    previous_threads = faiss.omp_get_max_threads()
    previous_blas = faiss.cvar.distance_compute_blas_threshold
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    try:
        if index == "exact":
            searcher = faiss.IndexFlatL2(d)
            faiss.cvar.distance_compute_blas_threshold = len(queries32) + 1  # direct kernel throughout
        elif index == "ivf":
            searcher = _ivf_index(base32, nprobe)
        else:
            raise ValueError(f"index must be 'exact' or 'ivf', got {index!r}")
        searcher.add(base32)
        _, labels = searcher.search(queries32, min(candidates, n))
    finally:
        faiss.cvar.distance_compute_blas_threshold = previous_blas
        faiss.omp_set_num_threads(previous_threads)
    return labels


def _ivf_index(x32: np.ndarray, nprobe: int) -> faiss.IndexIVFFlat:
    if nprobe < 1:
        raise ValueError(f"nprobe must be >= 1, got {nprobe}")
    n, d = x32.shape
    # About sqrt(n) cells, but at least the 39 training points per cell faiss asks for.
    nlist = max(1, min(math.isqrt(n), n // 39))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
    # 64 points per cell train k-means well; a fixed subsample keeps the index reproducible.
    sample = np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)
    index.train(x32[np.sort(sample)])
    index.nprobe = min(nprobe, nlist)
    return index


def _candidate_distances(base: np.ndarray, queries: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """float64 distance from each query to each of its candidates; inf where faiss left -1."""
    out = np.empty(labels.shape)
    rows_per_chunk = max(1, 2**24 // (labels.shape[1] * base.shape[1]))  # ~128 MiB of float64
    for start in range(0, len(queries), rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        candidates = labels[rows]
        out[rows] = np.linalg.norm(base[np.maximum(candidates, 0)] - queries[rows, None, :], axis=2)
    out[labels < 0] = np.inf
    return out


# --------------------------------------------------------------------------- estimators

def log_unit_ball_volume(d: int) -> float:
    """log V_d, V_d = pi^(d/2) / Gamma(d/2 + 1)."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)


def knn_log_density(points: np.ndarray, k: int = DEFAULT_K, *, index: str = "exact",
                    nprobe: int = DEFAULT_NPROBE, threads: int | None = None) -> np.ndarray:
    """log f_hat(x_i) = log k - log n - log V_d - d log R_k(x_i), shape (n,).

    Raises ValueError when some point has k or more exact duplicates (R_k = 0, an infinite
    density): deduplicate, add noise below the data's resolution, or raise k.
    """
    radius = knn_distances(points, k, index=index, nprobe=nprobe, threads=threads)
    return _log_density_from_distances(radius, np.shape(points)[1], k)


def shannon_entropy(points: np.ndarray, k: int = DEFAULT_K, *, index: str = "exact",
                    nprobe: int = DEFAULT_NPROBE, threads: int | None = None) -> float:
    """Kozachenko–Leonenko estimate of the differential Shannon entropy, in nats."""
    radius = knn_distances(points, k, index=index, nprobe=nprobe, threads=threads)
    return shannon_from_distances(radius, np.shape(points)[1], k)


def shannon_from_distances(radius: np.ndarray, dim: int, k: int) -> float:
    """Kozachenko–Leonenko from R_k: psi(n) - psi(k) + log V_d + (d/n) sum_i log R_k(x_i)."""
    log_radius = _safe_log(radius, k)
    return float(digamma(len(log_radius)) - digamma(k) + log_unit_ball_volume(dim)
                 + dim * log_radius.mean())


def renyi_entropy(points: np.ndarray, q: float, k: int = DEFAULT_K, *, index: str = "exact",
                  nprobe: int = DEFAULT_NPROBE, threads: int | None = None) -> float:
    """Leonenko–Pronzato–Savani estimate of the Rényi entropy of order q, in nats (see
    ``renyi_from_distances``)."""
    _check_order(q, k)
    radius = knn_distances(points, k, index=index, nprobe=nprobe, threads=threads)
    return renyi_from_distances(radius, np.shape(points)[1], k, q)


def renyi_from_distances(radius: np.ndarray, dim: int, k: int, q: float) -> float:
    """Leonenko–Pronzato–Savani from R_k.

    ``I_q = mean_i ((n - 1) C_k V_d R_k(x_i)^d)^(1 - q)``, ``C_k = (Gamma(k) /
    Gamma(k + 1 - q))^(1 / (1 - q))``, ``H_q = log(I_q) / (1 - q)``. It needs q < k + 1
    (Gamma(k + 1 - q) finite and the estimate asymptotically unbiased); q = 1 is Shannon,
    given by Kozachenko–Leonenko (the q -> 1 limit differs from it by log(n - 1) - psi(n),
    about 1 / (2n)).
    """
    _check_order(q, k)
    if q == 1:
        return shannon_from_distances(radius, dim, k)
    log_radius = _safe_log(radius, k)
    n = len(log_radius)
    log_c = (math.lgamma(k) - math.lgamma(k + 1 - q)) / (1 - q)
    log_terms = (1 - q) * (math.log(n - 1) + log_c + log_unit_ball_volume(dim) + dim * log_radius)
    return float((logsumexp(log_terms) - math.log(n)) / (1 - q))


def behavioral_entropy(points: np.ndarray, alpha: float, beta: float | None = None,
                       k: int = BEHAVIORAL_K, representation_size: int = REPRESENTATION_SIZE, *,
                       method: str = "paper", index: str = "exact", nprobe: int = DEFAULT_NPROBE,
                       threads: int | None = None) -> float:
    """k-NN estimate of the differential behavioral entropy, in nats (see
    ``behavioral_from_distances``)."""
    beta = prelec_beta(alpha, representation_size) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    radius = knn_distances(points, k, index=index, nprobe=nprobe, threads=threads)
    return behavioral_from_distances(radius, np.shape(points)[1], k, alpha, beta, method=method)


def behavioral_from_distances(radius: np.ndarray, dim: int, k: int, alpha: float,
                              beta: float | None = None,
                              representation_size: int = REPRESENTATION_SIZE, *,
                              method: str = "paper") -> float:
    """BE from R_k by ``method``: "paper" (below) or "corrected" (``LogDensityLaw``).

    The paper's estimator is ``mean_i g(u_i) / f_hat_i``, ``u_i = -log f_hat(x_i)``,
    ``g(u) = beta s(u) exp(-beta s(u))`` (= -w log w), s the signed power of the module
    docstring; beta defaults to ``prelec_beta(alpha, representation_size)``. With
    alpha = beta = 1 this is exactly the plug-in Shannon estimate ``mean_i u_i``.

    For alpha < 1 and a density with unbounded support (a Gaussian) the weights
    ``g(u) / f`` have infinite variance even with the true density: the estimate converges
    slowly and is usually too low, as the rare tail points that carry the mass are missing.
    """
    beta = prelec_beta(alpha, representation_size) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    if method == "corrected":
        return LogDensityLaw.fit(radius, dim, k).behavioral(alpha, beta)
    if method != "paper":
        raise ValueError(f"method must be one of {BEHAVIORAL_METHODS}, got {method!r}")
    return _signed_exp(_paper_log_estimate(radius, dim, k, alpha, beta))


def _paper_log_estimate(radius: np.ndarray, dim: int, k: int, alpha: float, beta: float) -> tuple[float, float]:
    """log |BE| and its sign by the paper's estimator. Summing in log space keeps large |u|
    (high dimension, tiny or huge densities) from overflowing term by term, and the log
    itself from under- or overflowing where BE is past float64."""
    u = -_log_density_from_distances(radius, dim, k)
    log_terms, sign = _log_weighted_integrand(u, alpha, beta)
    log_sum, sum_sign = logsumexp(log_terms, b=sign, return_sign=True)
    return float(log_sum - math.log(len(u))), float(sum_sign)


def behavioral_estimates(radius: np.ndarray, dim: int, k: int, alphas: Sequence[float], *,
                         method: str = "paper") -> list[float]:
    """BE at several alphas (beta from ``prelec_beta``) from one R_k; "corrected" fits the
    law of -log f once for all of them."""
    if method == "corrected":
        law = LogDensityLaw.fit(radius, dim, k)
        return [law.behavioral(alpha) for alpha in alphas]
    return [behavioral_from_distances(radius, dim, k, alpha, method=method) for alpha in alphas]


def behavioral_log10_estimates(radius: np.ndarray, dim: int, k: int, alphas: Sequence[float], *,
                               method: str = "paper") -> list[float]:
    """log10 of BE at several alphas, NaN where BE is not positive.

    BE spans hundreds of decades across alphas and scales (on 8 components of 5000 states:
    about 1e+23 at alpha = 0.2 and 1e-149 at alpha = 3, and 0 in float64 at alpha = 5), so
    the coverage table shows its log. The paper's estimator sums in log space, so its log is
    exact even where the value is past float64; the corrected one's value is a difference of
    sums and its log is taken from the value (NaN where that is 0 in float64).
    """
    if method == "paper":
        logs = [_paper_log_estimate(radius, dim, k, alpha, prelec_beta(alpha)) for alpha in alphas]
        return [log_value / math.log(10) if sign > 0 else math.nan for log_value, sign in logs]
    return [math.log10(value) if value > 0 else math.nan
            for value in behavioral_estimates(radius, dim, k, alphas, method=method)]


def _log_density_from_distances(radius: np.ndarray, dim: int, k: int) -> np.ndarray:
    log_radius = _safe_log(radius, k)
    return math.log(k) - math.log(len(log_radius)) - log_unit_ball_volume(dim) - dim * log_radius


class LogDensityLaw:
    """The law of u = -log f(X), X ~ f, fitted to a sample's k-NN log densities: the
    corrected BE estimator (module docstring, "Corrected behavioral entropy").

    ``fit`` models the observed u_hat = u + eta, eta = log(G / k), G ~ Gamma(k, 1), with u
    from one of two families:

    - "light_tail": u = u_min + Gamma(spread, 1), level sets of volume (u - u_min)^spread;
    - "flat": u = u_min (a density constant on its support); a share ``spread`` of the
      points lie within R_k of a flat edge of the support, which cuts their k-NN ball.

    The sparsest ``TAIL_FRACTION`` and the densest ``DENSE_FRACTION`` of the points are
    censored (only their count is used). For each spread, u_min is set so that the model's
    share above the upper cut equals the sample's; the spread maximises the censored
    likelihood; the family under which all of u_hat is likelier is kept. ``behavioral``
    returns the model's BE plus the difference between the sample's and the model's
    importance-sampling sums between the cuts.
    """

    def __init__(self, u_hat: np.ndarray, dim: int, k: int, family: str, u_min: float,
                 spread: float, cuts: tuple[float, float]):
        self.u_hat, self.dim, self.k, self.family = u_hat, dim, k, family
        self.u_min, self.spread, self.cuts = u_min, spread, cuts

    @classmethod
    def fit(cls, radius: np.ndarray, dim: int, k: int) -> "LogDensityLaw":
        u_hat = -_log_density_from_distances(radius, dim, k)
        low, high = (float(q) for q in np.quantile(u_hat, [DENSE_FRACTION, 1 - TAIL_FRACTION]))
        middle = u_hat[(u_hat >= low) & (u_hat <= high)]
        below, above = np.count_nonzero(u_hat < low), np.count_nonzero(u_hat > high)
        kernel = _noise_kernel(k)

        def law(family: str, u_min: float, spread: float,
                upto: float = high) -> tuple[np.ndarray, np.ndarray]:
            return _observed_law(family, u_min, spread, dim, upto, *kernel)

        def matched_u_min(family: str, spread: float) -> float:
            """u_min at which the model's share above the upper cut is the sample's."""
            def excess(u_min: float) -> float:
                position, mass = law(family, u_min, spread)
                return 1.0 - float(mass @ _share_between(position, -np.inf, high)) - above / len(u_hat)
            reach = float(gammainccinv(spread, TAIL_FRACTION / 10)) if family == "light_tail" else 0.0
            return optimize.brentq(excess, high - reach - 20.0, high + 20.0, xtol=1e-6)

        def log_density(position: np.ndarray, mass: np.ndarray, at: np.ndarray) -> np.ndarray:
            return np.log(np.maximum(np.interp(at, position, mass / GRID_STEP, left=0.0, right=0.0), 1e-300))

        def negative_log_likelihood(family: str, spread: float) -> float:
            position, mass = law(family, matched_u_min(family, spread), spread)
            share_below = float(mass @ _share_between(position, -np.inf, low))
            return -(float(log_density(position, mass, middle).sum())
                     + below * math.log(max(share_below, 1e-300)))

        # Spreads searched: Gamma shapes from nearly flat to far beyond a 100-D Gaussian's
        # (on a log scale); boundary shares from none to nearly all points.
        searches = {"light_tail": (lambda x: math.exp(x), (math.log(1e-3), math.log(100.0))),
                    "flat": (lambda x: x, (0.0, 0.999))}
        fits = {}
        for family, (spread_of, bounds) in searches.items():
            best = optimize.minimize_scalar(
                lambda x: negative_log_likelihood(family, spread_of(x)), bounds=bounds,
                method="bounded", options={"xatol": 1e-4})
            spread = spread_of(best.x)
            fits[family] = (matched_u_min(family, spread), spread)

        def log_likelihood_of_all(family: str) -> float:
            """The families are told apart by the censored tail itself: the flat family's
            excess above the cut is bounded (noise and edges), the light tail's exponential;
            the k-NN bias shortens a real tail but does not make it bounded."""
            position, mass = law(family, *fits[family], upto=float(u_hat.max()) + 1.0)
            return float(log_density(position, mass, u_hat).sum())

        family = max(fits, key=log_likelihood_of_all)
        return cls(u_hat, dim, k, family, *fits[family], (low, high))

    def behavioral(self, alpha: float, beta: float | None = None) -> float:
        """Corrected BE estimate: the model's BE, plus the sample's importance-sampling sum
        between the cuts, minus the model's expectation of that same sum."""
        beta = prelec_beta(alpha) if beta is None else beta
        _check_alpha_beta(alpha, beta)
        if self.family == "light_tail":
            model = behavioral_of_gamma_law(self.u_min, self.spread, alpha, beta)
        else:
            model = _weighted_integrand(np.float64(self.u_min), alpha, beta)
        if not math.isfinite(model):  # BE itself is past float64, as the paper's sum then is
            return model
        low, high = self.cuts
        middle = self.u_hat[(self.u_hat >= low) & (self.u_hat <= high)]
        log_terms, sign = _log_weighted_integrand(middle, alpha, beta)
        sample_middle = _signed_exp(logsumexp(log_terms, b=sign, return_sign=True)) / len(self.u_hat)
        position, mass = _observed_law(self.family, self.u_min, self.spread, self.dim, high,
                                       *_noise_kernel(self.k))
        log_terms, sign = _log_weighted_integrand(position, alpha, beta)
        with np.errstate(divide="ignore"):  # cells wholly outside the cuts carry weight 0
            log_terms = log_terms + np.log(mass * _share_between(position, low, high))
        model_middle = _signed_exp(logsumexp(log_terms, b=sign, return_sign=True))
        return float(model + sample_middle - model_middle)


def _noise_kernel(k: int) -> tuple[int, np.ndarray]:
    """The law of eta = log(G / k), G ~ Gamma(k, 1), as masses on the grid j * GRID_STEP,
    j = start, start + 1, ...: the k-NN log-density error of a locally constant density."""
    low = math.log(float(gammaincinv(k, 1e-12)) / k)
    high = math.log(float(gammainccinv(k, 1e-12)) / k)
    start = math.floor(low / GRID_STEP)
    edges = (np.arange(start, math.ceil(high / GRID_STEP) + 1) + 0.5) * GRID_STEP
    cdf = np.concatenate([[0.0], gammainc(k, k * np.exp(edges)), [1.0]])
    return start, np.diff(cdf)


def _observed_law(family: str, u_min: float, spread: float, dim: int, upto: float,
                  kernel_start: int, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid positions and masses of u_hat = u (+ boundary shift) + eta under a model.

    u - u_min is laid on the grid up to where eta can no longer bring it below ``upto``;
    the rest of its mass sits in the last cell, wholly above ``upto``.
    """
    cells = max(math.ceil((upto - u_min - kernel_start * GRID_STEP) / GRID_STEP), 0) + 2
    edges = np.arange(cells + 1) * GRID_STEP
    if family == "light_tail":
        # Cell masses of Gamma(shape, 1), each placed at its own mean (split between the two
        # nearest grid points), so that the narrow peak near 0 of a small shape keeps its mean.
        mass = np.diff(gammainc(spread, edges))
        mean = spread * np.diff(gammainc(spread + 1, edges)) / np.maximum(mass, 1e-300)
        offsets = np.append(np.where(mass > 0, mean, edges[:-1]), edges[-1])
        mass = np.append(mass, 1.0 - gammainc(spread, edges[-1]))
    else:
        # Depth rho = x R_k, x ~ U(0, 1), inside the edge: the ball keeps the share
        # 1 - I_{1-x^2}((d+1)/2, 1/2) / 2 of its volume, so u_hat rises by minus its log.
        depth = (np.arange(BOUNDARY_DEPTHS) + 0.5) / BOUNDARY_DEPTHS
        offsets = np.append(0.0, -np.log1p(-0.5 * betainc((dim + 1) / 2, 0.5, 1 - depth**2)))
        mass = np.append(1.0 - spread, np.full(BOUNDARY_DEPTHS, spread / BOUNDARY_DEPTHS))
    grid = np.zeros(cells + 2)
    lower = np.minimum(np.floor(offsets / GRID_STEP).astype(np.int64), cells)
    upper_share = offsets / GRID_STEP - lower
    np.add.at(grid, lower, mass * (1 - upper_share))
    np.add.at(grid, lower + 1, mass * upper_share)
    observed = np.convolve(grid, kernel)
    return u_min + (kernel_start + np.arange(len(observed))) * GRID_STEP, observed


def _share_between(position: np.ndarray, low: float, high: float) -> np.ndarray:
    """Share of each grid cell (width GRID_STEP, centred on ``position``) in [low, high]."""
    return np.clip(np.minimum(high - position, position - low) / GRID_STEP + 0.5, 0.0, 1.0)


def _signed_exp(log_and_sign: tuple[float, float]) -> float:
    log_value, sign = log_and_sign
    with np.errstate(over="ignore"):  # past float64: +-inf
        return float(sign * np.exp(log_value))


def _log_weighted_integrand(u: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """log |g(u) e^u| and its sign, g(u) = beta s(u) exp(-beta s(u)): the BE integrand per
    unit of probability at density f = e^-u (u = 0 exactly gives 0)."""
    with np.errstate(divide="ignore"):
        log_magnitude = math.log(beta) + alpha * np.log(np.abs(u)) + u - beta * _signed_power(u, alpha)
    return log_magnitude, np.sign(u)


def _weighted_integrand(u: np.ndarray, alpha: float, beta: float) -> float:
    return _signed_exp(tuple(float(part) for part in _log_weighted_integrand(u, alpha, beta)))


# --------------------------------------------------------------------------- ground truths

def gaussian_shannon(cov: np.ndarray | float) -> float:
    """Shannon entropy of N(mu, cov): 0.5 log det(2 pi e cov)."""
    cov = _check_cov(cov)
    return 0.5 * (len(cov) * math.log(2 * math.pi * math.e) + _logdet(cov))


def gaussian_renyi(cov: np.ndarray | float, q: float) -> float:
    """Rényi entropy of order q of N(mu, cov): 0.5 log det(2 pi cov) + d log(q) / (2 (q - 1))."""
    if not q > 0:
        raise ValueError(f"q must be > 0, got {q}")
    if q == 1:
        return gaussian_shannon(cov)
    cov = _check_cov(cov)
    d = len(cov)
    return 0.5 * (d * math.log(2 * math.pi) + _logdet(cov)) + d * math.log(q) / (2 * (q - 1))


def uniform_shannon(lengths: Sequence[float]) -> float:
    """Shannon entropy of the uniform density on a box with these side lengths: log volume."""
    return float(np.log(_check_lengths(lengths)).sum())


def uniform_renyi(lengths: Sequence[float], q: float = 1.0) -> float:
    """Rényi entropy of a uniform box, log volume for every order q > 0 (q is only checked)."""
    if not q > 0:
        raise ValueError(f"q must be > 0, got {q}")
    return uniform_shannon(lengths)


def uniform_behavioral(lengths: Sequence[float], alpha: float,
                       beta: float | None = None) -> float:
    """BE of the uniform density on a box: volume * g(log volume), since f = 1 / volume."""
    beta = prelec_beta(alpha) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    return _weighted_integrand(np.float64(uniform_shannon(lengths)), alpha, beta)


def gaussian_behavioral(std: float, dim: int, alpha: float, beta: float | None = None) -> float:
    """BE of the isotropic Gaussian N(0, std^2 I_dim), by numerical integration.

    With t = |x| / std, ``-log f = c + t^2 / 2``, ``c = (dim / 2) log(2 pi std^2)``, and
    t^2 / 2 ~ Gamma(dim / 2, 1) under f: ``behavioral_of_gamma_law(c, dim / 2, ...)``.
    """
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"std must be positive and finite, got {std}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return behavioral_of_gamma_law(0.5 * dim * math.log(2 * math.pi * std**2), 0.5 * dim, alpha, beta)


def behavioral_of_gamma_law(u_min: float, shape: float, alpha: float,
                            beta: float | None = None) -> float:
    """BE of a density whose ``u = -log f(X)``, X ~ f, is ``u_min + Gamma(shape, 1)``, by 1-D
    numerical integration.

    Equivalently the level set {u <= u_min + s} has volume ``e^u_min s^shape /
    Gamma(shape + 1)``: every Gaussian (shape d/2) and every density exp(-|A x|^p) (shape d/p).
    ``H_B = ∫ g(u) dV = ∫ g(u_min + s) e^u_min s^(shape-1) / Gamma(shape) ds``, taken over
    v = log s, in log space and scaled by its largest value, so that it neither overflows nor
    misses its peak; below s = e^-40 g is taken as constant.
    """
    beta = prelec_beta(alpha) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    if not (shape > 0 and math.isfinite(shape) and math.isfinite(u_min)):
        raise ValueError(f"shape must be positive and finite and u_min finite, got {shape}, {u_min}")
    log_front = u_min - math.lgamma(shape)

    def log_integrand(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = u_min + np.exp(v)
        with np.errstate(divide="ignore"):
            log_g = math.log(beta) + alpha * np.log(np.abs(u)) - beta * _signed_power(u, alpha)
        return log_front + shape * v + log_g, np.sign(u)

    # Locate the mass on a coarse grid of v, then integrate only where it is non-negligible.
    grid = np.linspace(-40.0, 40.0, 8001)
    log_values, _ = log_integrand(grid)
    peak = float(log_values.max())
    live = np.flatnonzero(log_values > peak - 60.0)
    low, high = grid[max(live[0] - 1, 0)], grid[min(live[-1] + 1, len(grid) - 1)]
    breaks = [float(grid[np.argmax(log_values)])]
    if u_min < 0:  # u changes sign at s = -u_min, where s(u) has a kink for alpha < 1
        breaks.append(math.log(-u_min))
    breaks = [b for b in breaks if low < b < high]

    def scaled(v: float) -> float:
        log_value, sign = log_integrand(np.array([v]))
        return float(sign[0] * np.exp(log_value[0] - peak))

    value, _ = integrate.quad(scaled, low, high, points=breaks or None, limit=500,
                              epsabs=0.0, epsrel=1e-10)
    # The mass below s = e^-40 (a small shape puts much of it there): g(u_min) times it.
    below = _weighted_integrand(np.float64(u_min), alpha, beta) * math.exp(
        grid[0] * shape - math.lgamma(shape + 1))
    with np.errstate(over="ignore"):  # past float64 (hundreds of dimensions): +-inf
        return float(value * np.exp(peak)) + (below if low == grid[0] else 0.0)


# --------------------------------------------------------------------------- helpers

def _signed_power(u: np.ndarray, alpha: float) -> np.ndarray:
    return np.sign(u) * np.abs(u) ** alpha


def _safe_log(radius: np.ndarray, k: int) -> np.ndarray:
    radius = np.asarray(radius, dtype=np.float64)
    if radius.ndim != 1 or not (np.isfinite(radius).all() and (radius >= 0).all()):
        raise ValueError("distances must be a 1-D array of finite non-negative values")
    if not isinstance(k, (int, np.integer)) or not 1 <= k < len(radius):
        raise ValueError(f"k must be an integer in [1, n), got k={k!r} for n={len(radius)}")
    zero = int(np.count_nonzero(radius == 0))
    if zero:
        raise ValueError(
            f"{zero} of {len(radius)} points have at least k={k} exact duplicates (k-th "
            "neighbour distance 0, infinite density): deduplicate, jitter or raise k")
    return np.log(radius)


def _check_points(points: np.ndarray, k: int) -> np.ndarray:
    x = _as_points(points)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if k >= len(x):
        raise ValueError(f"k must be smaller than the number of points, got k={k}, n={len(x)}")
    return x


def _as_points(points: np.ndarray) -> np.ndarray:
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"points must be a non-empty 2-D array (n, d), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"points contain {int(np.count_nonzero(~np.isfinite(x)))} "
                         "non-finite values")
    return x


def _check_order(q: float, k: int) -> None:
    if not q > 0:
        raise ValueError(f"q must be > 0, got {q}")
    if not k > q - 1:
        raise ValueError(f"the Rényi estimator of order q={q} needs k > q - 1, got k={k}")


def _check_alpha_beta(alpha: float, beta: float) -> None:
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be positive and finite, got {alpha}")
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be positive and finite, got {beta}")


def _check_cov(cov: np.ndarray | float) -> np.ndarray:
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    if cov.shape[0] != cov.shape[1] or not np.allclose(cov, cov.T):
        raise ValueError(f"cov must be a symmetric square matrix, got shape {cov.shape}")
    return cov


def _logdet(cov: np.ndarray) -> float:
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("cov must be positive definite")
    return float(logdet)


def _check_lengths(lengths: Sequence[float]) -> np.ndarray:
    lengths = np.atleast_1d(np.asarray(lengths, dtype=np.float64))
    if lengths.ndim != 1 or not (np.all(lengths > 0) and np.isfinite(lengths).all()):
        raise ValueError(f"lengths must be positive finite side lengths, got {lengths}")
    return lengths
