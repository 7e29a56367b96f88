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
  integral is over x: ``mean_i -w(f_hat_i) log w(f_hat_i) / f_hat_i``. No bias correction
  is known for it (unlike Kozachenko–Leonenko), so it carries the plug-in bias of log f_hat.

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
from scipy import integrate
from scipy.special import digamma, logsumexp

REPRESENTATION_SIZE = 512  # M in beta = (log M)^(1 - alpha): the paper's representation size
DEFAULT_K = 5
# The BE estimator has no bias correction: its plug-in bias (about 1 / (2k) nats at
# alpha = 1) shrinks with k, so it defaults to more neighbours than Kozachenko–Leonenko.
BEHAVIORAL_K = 10
DEFAULT_NPROBE = 16
SPARE_CANDIDATES = 2  # beyond k + 1, so float32 near-ties at the k-th place are settled in float64


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


def prelec_beta(alpha: float, representation_size: int = REPRESENTATION_SIZE) -> float:
    """The paper's beta = (log M)^(1 - alpha); alpha = 1 gives beta = 1 (Shannon)."""
    _check_alpha_beta(alpha, 1.0)
    if representation_size < 2:
        raise ValueError(f"representation_size must be >= 2, got {representation_size}")
    return math.log(representation_size) ** (1 - alpha)


def behavioral_entropy(points: np.ndarray, alpha: float, beta: float | None = None,
                       k: int = BEHAVIORAL_K, representation_size: int = REPRESENTATION_SIZE, *,
                       index: str = "exact", nprobe: int = DEFAULT_NPROBE,
                       threads: int | None = None) -> float:
    """k-NN estimate of the differential behavioral entropy, in nats (see
    ``behavioral_from_distances``)."""
    beta = prelec_beta(alpha, representation_size) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    radius = knn_distances(points, k, index=index, nprobe=nprobe, threads=threads)
    return behavioral_from_distances(radius, np.shape(points)[1], k, alpha, beta)


def behavioral_from_distances(radius: np.ndarray, dim: int, k: int, alpha: float,
                              beta: float | None = None,
                              representation_size: int = REPRESENTATION_SIZE) -> float:
    """BE from R_k: ``mean_i g(u_i) / f_hat_i``, ``u_i = -log f_hat(x_i)``.

    ``g(u) = beta s(u) exp(-beta s(u))`` (= -w log w), s the signed power of the module
    docstring; beta defaults to ``prelec_beta(alpha, representation_size)``. With
    alpha = beta = 1 this is exactly the plug-in Shannon estimate ``mean_i u_i``.

    For alpha < 1 and a density with unbounded support (a Gaussian) the weights
    ``g(u) / f`` have infinite variance even with the true density: the estimate converges
    slowly and is usually too low, as the rare tail points that carry the mass are missing.
    """
    beta = prelec_beta(alpha, representation_size) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    u = -_log_density_from_distances(radius, dim, k)
    # Each term is sign(u) exp(log beta + alpha log|u| + u - beta s(u)); summing in log space
    # keeps large |u| (high dimension, tiny or huge densities) from overflowing term by term.
    with np.errstate(divide="ignore"):  # u = 0 exactly contributes 0
        log_magnitude = math.log(beta) + alpha * np.log(np.abs(u)) + u - beta * _signed_power(u, alpha)
    log_sum, sign = logsumexp(log_magnitude, b=np.sign(u), return_sign=True)
    return float(sign * np.exp(log_sum - math.log(len(u))))


def _log_density_from_distances(radius: np.ndarray, dim: int, k: int) -> np.ndarray:
    log_radius = _safe_log(radius, k)
    return math.log(k) - math.log(len(log_radius)) - log_unit_ball_volume(dim) - dim * log_radius


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
    log_volume = uniform_shannon(lengths)
    s = float(_signed_power(np.float64(log_volume), alpha))
    return math.exp(log_volume) * beta * s * math.exp(-beta * s)


def gaussian_behavioral(std: float, dim: int, alpha: float, beta: float | None = None) -> float:
    """BE of the isotropic Gaussian N(0, std^2 I_dim), by 1-D numerical integration.

    With t = |x| / std, ``-log f = c + t^2 / 2``, ``c = (dim / 2) log(2 pi std^2)``, so
    ``H_B = ∫ g(u) dx = ∫_0^inf S t^(dim-1) std^dim g(c + t^2 / 2) dt`` (S the area of the
    unit sphere). The integral is taken over v = log t, in log space and scaled by its
    largest value, so that it neither overflows nor misses its peak for large dim.
    """
    beta = prelec_beta(alpha) if beta is None else beta
    _check_alpha_beta(alpha, beta)
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"std must be positive and finite, got {std}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    c = 0.5 * dim * math.log(2 * math.pi * std**2)
    # log of S std^dim, with S = 2 pi^(d/2) / Gamma(d/2): equal to c - (d/2 - 1) log 2 - lgamma(d/2).
    log_front = c - (0.5 * dim - 1) * math.log(2) - math.lgamma(0.5 * dim)

    def log_integrand(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = c + 0.5 * np.exp(2 * v)
        with np.errstate(divide="ignore"):
            log_g = math.log(beta) + alpha * np.log(np.abs(u)) - beta * _signed_power(u, alpha)
        return log_front + dim * v + log_g, np.sign(u)  # dim * v: t^(dim-1) times dt = t dv

    # Locate the mass on a coarse grid of v, then integrate only where it is non-negligible.
    grid = np.linspace(-40.0, 40.0, 8001)
    log_values, _ = log_integrand(grid)
    peak = float(log_values.max())
    live = np.flatnonzero(log_values > peak - 60.0)
    low, high = grid[max(live[0] - 1, 0)], grid[min(live[-1] + 1, len(grid) - 1)]
    breaks = [float(grid[np.argmax(log_values)])]
    if c < 0:  # u changes sign at t = sqrt(-2c), where s(u) has a kink for alpha < 1
        breaks.append(0.5 * math.log(-2 * c))
    breaks = [b for b in breaks if low < b < high]

    def scaled(v: float) -> float:
        log_value, sign = log_integrand(np.array([v]))
        return float(sign[0] * np.exp(log_value[0] - peak))

    value, _ = integrate.quad(scaled, low, high, points=breaks or None, limit=500,
                              epsabs=0.0, epsrel=1e-10)
    return value * math.exp(peak)


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
