"""Behavioral entropy with a 90 % band and the share of it a sample reaches (method "banded").

BE depends on a density f only through the law of u = -log f(X), X ~ f:
``H_B = E[phi(u)] = ∫_0^1 phi(Q(p)) dp``, ``phi(u) = g(u) e^u`` (``estimators`` module
docstring), Q the quantile function of u. A sample of n points sees Q only between the
levels ``REACH_POINTS / n`` and ``1 - REACH_POINTS / n``; beyond them (the sparse tails that
carry BE at alpha < 1, the dense peak that carries it at large alpha) no sample can tell.
``behavioral_band`` estimates the three parts of the integral differently.

Reached part. The k-NN reading u_hat = -log f_hat is noisy (a Gamma(k) count) and biased:
by d = 8 the k-NN balls span the density's curvature and compress the law of u_hat (an 8-D
Gaussian's varentropy 4 reads as 2.7 at n = 50000). Both are measured on a reference density
that looks like the sample: a Gaussian mixture fitted by maximum likelihood (components
chosen by BIC), whose u is known exactly. An n-point sample of the mixture is read the same
way, and the quantiles of u are mapped: ``Q(p) = Q_mixture(p) + Q_data_hat(p) -
Q_mixture_sample_hat(p)``. Where the sample comes from the mixture the two readings share
their law and Q is the mixture's; where it does not, the readings' difference moves the
mixture's quantiles by what the k-NN reading sees, with the reading's own bias and noise
cancelled as far as the mixture shares them.

Unreached parts: the mixture's own tails beyond the cuts, moved by the readings' difference
at the cut, for the value.

The value and reached share are read against the mixture of best BIC; the band spans the
bands read against the ``REFERENCES`` best, as the choice between near-equal mixtures is
itself uncertain (a Gaussian sample of 5000 points in 8-D sometimes prefers two components).

Band (``BAND_LEVEL``), the sum of three widths:
- sampling: percentiles of the estimate over ``BOOTSTRAPS`` resamples of both readings;
- the mapping's residual error, gauged on the data: the same estimate from the readings at
  2k neighbours (both samples) differs from the one at k by the part of the error that
  grows with the balls. k-NN bias grows as (k / n)^(1/d) at the slowest (at a support's
  edge), so the error left at k is at most that difference over 2^(1/d) - 1; errors of the
  k-NN noise, which falls with k, are within it too;
- the unreached parts: the alternatives the sample cannot exclude, the mass beyond a cut
  (REACH_POINTS / n) all at the cut (a support that ends there), or spread as a level-set
  volume growing as (u - u_min)^a beyond it, a = d / 2 (Gaussian tails) and a = d
  (exponential tails).

``reached`` is the share of |BE| from the reached part. A value whose reached share is below
``EXTRAPOLATED_REACH``, or whose band is wider than ``EXTRAPOLATED_HALF_WIDTH``, is flagged
extrapolated: the number is then the mixture's rather than the sample's. Accuracy and
calibration on densities inside and outside the mixtures: bench/bench_be_estimator.py,
bench/results/be_estimator_cpu.json.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from berl.core.constants import prelec_beta
from berl.coverage.estimators import (
    BEHAVIORAL_K,
    _check_alpha_beta,
    _log_density_from_distances,
    _log_weighted_integrand,
    _signed_exp,
    _weighted_integrand,
    log_unit_ball_volume,
    neighbour_distances,
)

BAND_LEVEL = 0.9
BOOTSTRAPS = 200
REACH_POINTS = 10  # points beyond each cut: the reached range runs from the 10th densest to the 10th sparsest
EXTRAPOLATED_REACH = 0.5
EXTRAPOLATED_HALF_WIDTH = 0.1
MIXTURE_COMPONENTS = (1, 2, 4, 8)
REFERENCES = 2  # mixtures of best BIC read against: the band spans the choice between them
MIXTURE_FIT_POINTS = 20_000  # points the mixture is fitted on (a fixed subsample beyond that)
MIXTURE_DRAWS = (100_000, 1_000_000)  # least and most Monte Carlo draws of the mixture's law of u
MIXTURE_DRAWS_PER_POINT = 20  # draws per sample point: its extreme quantiles need many beyond them
SEED = 0


@dataclass(frozen=True)
class BehavioralBand:
    """A BE estimate, its BAND_LEVEL band and the share of |BE| from densities the sample reaches."""

    value: float
    low: float
    high: float
    reached: float

    @property
    def half_width(self) -> float:
        """The band's larger half-width, relative to |value| (inf where value is 0)."""
        spread = max(self.high - self.value, self.value - self.low)
        return spread / abs(self.value) if self.value else math.inf

    @property
    def extrapolated(self) -> bool:
        return self.reached < EXTRAPOLATED_REACH or not self.half_width <= EXTRAPOLATED_HALF_WIDTH

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


def behavioral_band(points: np.ndarray, alphas: Sequence[float], k: int = BEHAVIORAL_K, *,
                    betas: Sequence[float] | None = None, threads: int | None = None,
                    seed: int = SEED) -> list[BehavioralBand]:
    """BE at each alpha (beta from ``prelec_beta`` unless given) with its band and reached
    share (module docstring): the value and reached share against the mixture of best BIC,
    the band spanning the bands against the REFERENCES best."""
    x = np.asarray(points, dtype=np.float64)
    n, dim = x.shape
    betas = [prelec_beta(alpha) for alpha in alphas] if betas is None else list(betas)
    for alpha, beta in zip(alphas, betas):
        _check_alpha_beta(alpha, beta)
    if n <= 4 * max(2 * k, REACH_POINTS):
        raise ValueError(f"behavioral_band needs more than {4 * max(2 * k, REACH_POINTS)} points, got {n}")
    rng = np.random.default_rng(seed)

    def read(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u_hat at k and at 2k neighbours, from one search."""
        distances = neighbour_distances(sample, 2 * k, threads=threads)
        return tuple(-_log_density_from_distances(distances[:, j - 1], dim, j) for j in (k, 2 * k))

    data = read(x)
    against = [_against_reference(mixture, data, read(_sample_mixture(mixture, n, rng)), alphas, betas, dim, rng)
               for mixture in _fit_mixtures(x, rng)[:REFERENCES]]
    return [BehavioralBand(bands[0].value, min(band.low for band in bands), max(band.high for band in bands),
                           bands[0].reached) for bands in zip(*against)]


def _against_reference(mixture: GaussianMixture, data: tuple[np.ndarray, np.ndarray],
                       simulated: tuple[np.ndarray, np.ndarray], alphas: Sequence[float], betas: Sequence[float],
                       dim: int, rng: np.random.Generator) -> list[BehavioralBand]:
    """The bands read against one reference mixture, from the k-NN readings (at k and 2k)
    of the data and of an equally large sample of the mixture."""
    (data_u, data_u2), (sim_u, sim_u2) = data, simulated
    n = len(data_u)
    share = REACH_POINTS / n
    levels = _levels(share)
    shift = np.quantile(data_u, levels) - np.quantile(sim_u, levels)
    shift_at_2k = np.quantile(data_u2, levels) - np.quantile(sim_u2, levels)
    resample = rng.integers(0, n, (2, BOOTSTRAPS, n))
    boot_shift = (np.quantile(data_u[resample[0]], levels, axis=1)
                  - np.quantile(sim_u[resample[1]], levels, axis=1)).T
    draws = min(max(MIXTURE_DRAWS_PER_POINT * n, MIXTURE_DRAWS[0]), MIXTURE_DRAWS[1])
    draws_u, draws_log_weight, plain_u = _mixture_draws(mixture, draws, rng)
    model_u = np.quantile(plain_u, levels)
    # The draws beyond each cut, taken out once: every alpha and resample sums over them.
    beyond = [(draws_u[mask], draws_log_weight[mask]) for mask in (draws_u < model_u[0], draws_u > model_u[-1])]
    tail = (1 - BAND_LEVEL) / 2
    bands = []
    for alpha, beta in zip(alphas, betas):
        def parts(moved: np.ndarray) -> tuple[float, float, float]:
            """(densest unreached, reached, sparsest unreached) BE with the k-NN reading's
            quantile shifts ``moved`` applied to the mixture's law of u."""
            reached = _integral_over_levels(model_u + moved, levels, alpha, beta)
            lower = _tail_integral(*beyond[0], moved[0], len(draws_u), alpha, beta)
            upper = _tail_integral(*beyond[1], moved[-1], len(draws_u), alpha, beta)
            return lower, reached, upper

        lower, reached, upper = parts(shift)
        value = lower + reached + upper
        # The unreached parts move with the shift at their cut only: tabulated over the
        # bootstrap's range of it, not summed over a million draws for every resample.
        tails = [_tabulated(lambda c, part=part: _tail_integral(*part, c, len(draws_u), alpha, beta),
                            boot_shift[:, end]) for end, part in zip((0, -1), beyond)]
        boot = np.array([tails[0][i] + _integral_over_levels(model_u + row, levels, alpha, beta) + tails[1][i]
                         for i, row in enumerate(boot_shift)])
        # The k-NN bias grows with the balls, as (k / n)^(1/d) at the slowest (an edge):
        # what doubling k changes, over 2^(1/d) - 1, bounds what remains at k.
        residual = abs(value - sum(parts(shift_at_2k))) / (2 ** (1 / dim) - 1)
        u_min = float(plain_u.min() + shift[0])
        lower_options = _unreached_alternatives(float(model_u[0] + shift[0]), share, alpha, beta, above=False,
                                                u_min=u_min, dim=dim)
        upper_options = _unreached_alternatives(float(model_u[-1] + shift[-1]), share, alpha, beta, above=True,
                                                u_min=u_min, dim=dim)
        low = (min(float(np.quantile(boot, tail)), value) - residual
               + min(min(lower_options) - lower, 0.0) + min(min(upper_options) - upper, 0.0))
        high = (max(float(np.quantile(boot, 1 - tail)), value) + residual
                + max(max(lower_options) - lower, 0.0) + max(max(upper_options) - upper, 0.0))
        total = abs(lower) + abs(reached) + abs(upper)
        bands.append(BehavioralBand(value, low, high, abs(reached) / total if total else 1.0))
    return bands


def _tabulated(function, at: np.ndarray, points: int = 17) -> np.ndarray:
    """A smooth monotone scalar function at many arguments, from ``points`` evaluations
    spanning them, interpolated linearly (it is evaluated exactly where they coincide)."""
    grid = np.linspace(at.min(), at.max(), points) if at.max() > at.min() else at[:1]
    values = np.array([function(float(c)) for c in grid])
    return np.interp(at, grid, values) if len(grid) > 1 else np.full(len(at), values[0])


def _levels(share: float, count: int = 801) -> np.ndarray:
    """Probability levels from ``share`` to 1 - ``share``, evenly spaced in logit, so that
    both tails are resolved."""
    edge = math.log(share / (1 - share))
    return 1 / (1 + np.exp(-np.linspace(edge, -edge, count)))


def _integral_over_levels(u: np.ndarray, levels: np.ndarray, alpha: float, beta: float) -> float:
    """∫ phi(Q(p)) dp over the levels (trapezoid), Q the quantile function given at them."""
    log_terms, sign = _log_weighted_integrand(u, alpha, beta)
    widths = np.gradient(levels)
    return _signed_exp(logsumexp(log_terms, b=sign * widths, return_sign=True))


def _tail_integral(u: np.ndarray, log_weight: np.ndarray, shift: float, draws: int, alpha: float,
                   beta: float) -> float:
    """The BE integral over the draws beyond a cut, their u moved by ``shift``: the sum of
    weight * phi(u + shift) over them, divided by all ``draws``, in log space."""
    if not len(u):
        return 0.0
    log_terms, sign = _log_weighted_integrand(u + shift, alpha, beta)
    return _signed_exp(logsumexp(log_terms + log_weight - math.log(draws), b=sign, return_sign=True))


def _fit_mixtures(x: np.ndarray, rng: np.random.Generator) -> list[GaussianMixture]:
    """Gaussian mixtures of MIXTURE_COMPONENTS components (those with at least ten points per
    parameter of a component) fitted by maximum likelihood, best BIC first."""
    fit_on = x if len(x) <= MIXTURE_FIT_POINTS else x[np.sort(rng.choice(len(x), MIXTURE_FIT_POINTS, replace=False))]
    fits = [GaussianMixture(c, covariance_type="full", random_state=SEED).fit(fit_on)
            for c in MIXTURE_COMPONENTS if c == 1 or c * (x.shape[1] + 2) < len(fit_on) / 10]
    return sorted(fits, key=lambda fit: fit.bic(fit_on))


def _mixture_draws(mixture: GaussianMixture, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u = -log f at ``draws`` draws from a defensive proposal (half the mixture, half a
    radial law with log-uniform radius reaching 1e3 times the mixture's scale), their log
    importance weights log(f / proposal), and u at the mixture's own draws.
    ``mean(weight * phi(u) * mask)`` is the BE integral over the mask; the tails that carry
    it at small alpha are sampled."""
    dim = mixture.means_.shape[1]
    half = draws // 2
    own = _sample_mixture(mixture, half, rng)
    centre = own.mean(axis=0)
    scale = math.sqrt(float(own.var(axis=0).sum()) / dim)
    log_low, log_high = math.log(1e-3 * scale), math.log(1e3 * scale)
    direction = rng.standard_normal((half, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = np.exp(rng.uniform(log_low, log_high, half))
    points = np.vstack([own, centre + radius[:, None] * direction])
    log_f = mixture.score_samples(points)
    distance = np.linalg.norm(points - centre, axis=1)
    log_sphere = math.log(dim) + log_unit_ball_volume(dim)  # the unit sphere's surface, d V_d
    log_radial = -math.log(log_high - log_low) - log_sphere - dim * np.log(distance)
    log_proposal = np.logaddexp(log_f, log_radial) - math.log(2)
    return -log_f, log_f - log_proposal, -log_f[:half]


def _sample_mixture(mixture: GaussianMixture, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` draws of a fitted mixture from ``rng`` (sklearn's own sampler restarts its
    fixed stream at every call)."""
    component = rng.choice(len(mixture.weights_), size=count, p=mixture.weights_)
    out = rng.standard_normal((count, mixture.means_.shape[1]))
    for c, (mean, covariance) in enumerate(zip(mixture.means_, mixture.covariances_)):
        mine = component == c
        out[mine] = mean + out[mine] @ np.linalg.cholesky(covariance).T
    return out


def _unreached_alternatives(cut: float, share: float, alpha: float, beta: float, *, above: bool,
                            u_min: float, dim: int) -> list[float]:
    """BE from beyond a cut that holds ``share`` of the mass, under the alternatives the
    sample cannot exclude: all of that mass at the cut, or spread as a level-set volume
    growing as (u - u_min)^a for a = dim / 2 and a = dim (u - u_min ~ Gamma(a, 1),
    conditioned on lying beyond the cut)."""
    out = [share * _weighted_integrand(np.float64(cut), alpha, beta)]
    span = max(cut - u_min, 1e-6)
    for shape in (dim / 2, float(dim)):
        if above:  # at small alpha the integrand peaks thousands of nats out
            excess = span + np.geomspace(1e-8, 1e7, 8001)
        else:
            excess = span * np.linspace(1e-6, 1.0, 4001)
        # The conditional law of u - u_min beyond the cut, normalised on its own grid (the
        # Gamma's mass there can be past float64 when the cut is far out).
        log_mass = (shape - 1) * np.log(excess) - excess + np.log(np.gradient(excess))
        log_terms, sign = _log_weighted_integrand(u_min + excess, alpha, beta)
        out.append(share * _signed_exp(logsumexp(log_terms + log_mass - logsumexp(log_mass), b=sign,
                                                 return_sign=True)))
    return out
