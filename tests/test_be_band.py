"""The banded behavioral-entropy estimator: its parts against closed forms and quadrature,
and the whole on samples of known BE."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import gammainc, gammaincinv, gammaln

from berl.core.constants import prelec_beta
from berl.coverage import be_band, estimators


def _phi(u: float, alpha: float) -> float:
    """g(u) e^u by hand: beta u^alpha exp(-beta u^alpha) e^u (u > 0)."""
    beta = prelec_beta(alpha)
    return beta * u**alpha * math.exp(-beta * u**alpha + u)


def _gamma_law_between(u_min: float, shape: float, low: float, high: float, alpha: float) -> float:
    """E[phi(u); low < u < high] for u = u_min + Gamma(shape, 1), by quadrature."""
    beta = prelec_beta(alpha)

    def integrand(s: float) -> float:
        """phi(u) times the density of u, its e^u and e^-s multiplied out by hand."""
        u = u_min + s
        return beta * u**alpha * math.exp(-beta * u**alpha + u_min + (shape - 1) * math.log(s) - gammaln(shape))
    return integrate.quad(integrand, max(low - u_min, 0.0), high - u_min, limit=200, epsrel=1e-10)[0]


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_unreached_alternatives_are_the_conditioned_gamma_laws(alpha):
    u_min, cut, dim = 3.0, 7.0, 4
    above = be_band._unreached_alternatives(cut, 0.01, alpha, prelec_beta(alpha), above=True, u_min=u_min, dim=dim)
    below = be_band._unreached_alternatives(cut, 0.01, alpha, prelec_beta(alpha), above=False, u_min=u_min, dim=dim)
    # All of the share at the cut.
    assert above[0] == below[0] == pytest.approx(0.01 * _phi(cut, alpha), rel=1e-12)
    for shape, upper, lower in zip((dim / 2, dim), above[1:], below[1:]):
        # share * E[phi | beyond the cut] under u_min + Gamma(shape, 1).
        mass_above = 1 - gammainc(shape, cut - u_min)
        expected_above = 0.01 * _gamma_law_between(u_min, shape, cut, np.inf, alpha) / mass_above
        expected_below = 0.01 * _gamma_law_between(u_min, shape, u_min, cut, alpha) / (1 - mass_above)
        assert upper == pytest.approx(expected_above, rel=1e-3)
        assert lower == pytest.approx(expected_below, rel=1e-3)


def test_integral_over_levels_is_the_law_between_its_quantiles():
    shape, u_min, alpha = 2.5, 1.0, 0.7
    levels = be_band._levels(1e-3)
    quantiles = u_min + gammaincinv(shape, levels)
    value = be_band._integral_over_levels(quantiles, levels, alpha, prelec_beta(alpha))
    expected = _gamma_law_between(u_min, shape, quantiles[0], quantiles[-1], alpha)
    assert value == pytest.approx(expected, rel=2e-3)


def test_a_gaussian_sample_gives_the_closed_form_inside_a_narrow_band():
    points = 1.5 * np.random.default_rng(3).standard_normal((4000, 2))
    alphas = [0.7, 1.0, 2.0]
    for alpha, band in zip(alphas, be_band.behavioral_band(points, alphas, k=10)):
        truth = estimators.gaussian_behavioral(1.5, 2, alpha)
        assert band.covers(truth)
        assert band.value == pytest.approx(truth, rel=0.03)
        assert band.half_width < 0.1 and band.reached > 0.95 and not band.extrapolated


def test_shannon_of_a_shell_is_within_its_band():
    """Mass near a circle of radius 3 (radial noise 0.3), outside the Gaussian mixtures the
    estimator reads samples against: at alpha = beta = 1 BE is Shannon's entropy, whose truth
    is 1-D quadrature over the radius."""
    rng = np.random.default_rng(4)
    radius = 3.0 + 0.3 * rng.standard_normal(4000)
    angle = rng.uniform(0, 2 * math.pi, 4000)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)

    def radial(r: float) -> float:
        """f at radius r times its circle's length, and -log f there."""
        density = math.exp(-0.5 * ((r - 3.0) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi)) / (2 * math.pi * r)
        return 2 * math.pi * r * density * -math.log(density)

    truth = integrate.quad(radial, 1e-6, 6.0, limit=200)[0]
    (band,) = be_band.behavioral_band(points, [1.0], k=10, betas=[1.0])
    assert band.covers(truth) and band.value == pytest.approx(truth, rel=0.02)


def test_tails_no_sample_reaches_are_flagged():
    """At alpha = 0.2 a 6-D Gaussian's BE comes almost wholly (99.8 %) from densities below any
    a sample of thousands reaches: the value is the model's, and says so."""
    points = np.random.default_rng(5).standard_normal((3000, 6))
    (band,) = be_band.behavioral_band(points, [0.2], k=10)
    assert band.reached < 0.1 and band.extrapolated
    assert band.covers(estimators.gaussian_behavioral(1.0, 6, 0.2))


def test_extrapolated_flag_thresholds():
    assert not be_band.BehavioralBand(1.0, 0.95, 1.05, 0.6).extrapolated
    assert be_band.BehavioralBand(1.0, 0.95, 1.11, 0.6).extrapolated  # band over +10 %
    assert be_band.BehavioralBand(1.0, 0.95, 1.05, 0.4).extrapolated  # reached under a half
    assert be_band.BehavioralBand(0.0, -1.0, 1.0, 1.0).extrapolated  # no relative width at all


def test_too_few_points_are_refused():
    with pytest.raises(ValueError, match="needs more than"):
        be_band.behavioral_band(np.random.default_rng(0).standard_normal((30, 2)), [1.0], k=10)
