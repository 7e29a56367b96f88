"""Bias and spread of the k-NN entropy estimators against known entropies, versus n, k and d.

Six distributions per dimension d, two of them with densities above 1 (where behavioral
entropy needs its signed-power convention, ``berl.coverage.estimators``):

- ``gaussian σ=1`` and ``gaussian σ=0.05``: isotropic Gaussians,
- ``anisotropic σ≤3``: a Gaussian whose axes' standard deviations are log-spaced over a
  decade up to 3 (as principal components are: one long axis, short ones),
- ``laplace b=1``: a product of Laplace laws, a density with a cusp and kinks along the axes,
- ``uniform side=4`` and ``uniform side=0.5``: uniform cubes.

Every truth is in closed form or a 1-D integral: for the Gaussians and the Laplace product
u = -log f(X) is u_min + Gamma(shape, 1) (shape d / 2 and d), whose BE is
``estimators.behavioral_of_gamma_law``.

Estimates: Shannon (Kozachenko–Leonenko), Rényi of order 0.5 and 1.5, and BE at each alpha
the coverage stage estimates (beta from the paper's tie to the representation size), each BE
by the paper's estimator and by the corrected one (``berl.coverage.estimators``, methods
"paper" and "corrected"). Each sample's neighbour distances are searched once for the
largest k and shared by every k and estimator; the corrected BE fits its law once per sample
and k.

Two sweeps (column ``sweep``):

- ``grid``: the block's sizes x ks x dims, to show how the errors fall with n and k;
- ``coverage``: d = 1 ... the coverage stage's components at its own n (states per dataset)
  and k: the errors of the values the coverage table prints, which it quotes beside them.
  This sweep also runs the banded estimator (``berl.coverage.be_band``, method "banded";
  its first ``BANDED_REPEATS`` repeats),
  whose rows add its band (low, high), reached share, whether the band covers the truth
  (covers) and whether the value is flagged extrapolated.

CSV columns: sweep, distribution, dim, n, k, repeat, estimator (a unique name), quantity
(what is estimated: the panel of the figure), method (the BE estimator; empty for the
others), estimate, truth, error, relative_error; and low, high, reached, covers,
extrapolated for the banded rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from berl.core.io import atomic_path
from berl.core.log import get_logger
from berl.coverage import estimators
from berl.coverage.be_band import behavioral_band
from berl.coverage.settings import CoverageSettings, StudySettings

log = get_logger(__name__)

DISTRIBUTIONS = {  # name: (kind, scale)
    "gaussian σ=1": ("gaussian", 1.0),
    "gaussian σ=0.05": ("gaussian", 0.05),
    "anisotropic σ≤3": ("anisotropic", 3.0),
    "laplace b=1": ("laplace", 1.0),
    "uniform side=4": ("uniform", 4.0),
    "uniform side=0.5": ("uniform", 0.5),
}
ENTROPIES = {  # name: (kind, parameter)
    "Shannon": ("shannon", None),
    "Rényi q=0.5": ("renyi", 0.5),
    "Rényi q=1.5": ("renyi", 1.5),
}
# The banded estimator's repeats in the coverage sweep: a call takes about a minute at the
# paper preset's 50 000 points, where the other estimators take seconds.
BANDED_REPEATS = 2
def estimate_names(alphas) -> dict[str, tuple[str, str, float | None, str]]:
    """name: (quantity, kind, parameter, BE method) of every estimate, BE at ``alphas``."""
    names = {name: (name, kind, parameter, "") for name, (kind, parameter) in ENTROPIES.items()}
    for method in estimators.BEHAVIORAL_METHODS:
        for alpha in alphas:
            quantity = f"BE α={alpha:g}"
            names[quantity + ("" if method == "paper" else f" {method}")] = (quantity, "be", alpha, method)
    return names


def standard_deviations(kind: str, scale: float, dim: int) -> np.ndarray:
    """The axes' standard deviations of a Gaussian kind: ``scale`` on every axis, or
    log-spaced from ``scale`` / 10 to ``scale`` (anisotropic)."""
    return np.geomspace(scale / 10, scale, dim) if kind == "anisotropic" else np.full(dim, scale)


def sample(distribution: str, n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    kind, scale = DISTRIBUTIONS[distribution]
    if kind in ("gaussian", "anisotropic"):
        return rng.normal(size=(n, dim)) * standard_deviations(kind, scale, dim)
    if kind == "laplace":
        return rng.laplace(scale=scale, size=(n, dim))
    return rng.uniform(0.0, scale, size=(n, dim))


def truth(distribution: str, dim: int, measure: str, parameter: float | None) -> float:
    kind, scale = DISTRIBUTIONS[distribution]
    if kind in ("gaussian", "anisotropic"):
        stds = standard_deviations(kind, scale, dim)
        cov = np.diag(stds**2)
        if measure == "shannon":
            return estimators.gaussian_shannon(cov)
        if measure == "renyi":
            return estimators.gaussian_renyi(cov, parameter)
        # u = (d log 2 pi) / 2 + sum log sigma + |z|^2 / 2, |z|^2 / 2 ~ Gamma(d / 2, 1)
        u_min = 0.5 * dim * np.log(2 * np.pi) + float(np.log(stds).sum())
        return estimators.behavioral_of_gamma_law(u_min, dim / 2, parameter)
    if kind == "laplace":
        # u = d log 2b + |x|_1 / b, |x|_1 / b ~ Gamma(d, 1); per axis ∫ f^q = (2b)^(1-q) / q
        log_width = np.log(2 * scale)
        if measure == "shannon":
            return dim * (1 + log_width)
        if measure == "renyi":
            return dim * (log_width - np.log(parameter) / (1 - parameter))
        return estimators.behavioral_of_gamma_law(dim * log_width, dim, parameter)
    sides = [scale] * dim
    if measure == "shannon":
        return estimators.uniform_shannon(sides)
    if measure == "renyi":
        return estimators.uniform_renyi(sides, parameter)
    return estimators.uniform_behavioral(sides, parameter)


def estimates(radius: np.ndarray, dim: int, k: int, names: dict) -> dict[str, float]:
    """Every estimate of ``names`` (``estimate_names``) from one R_k; each BE method sees all
    its alphas at once."""
    values = {}
    for name, (_, measure, parameter, _) in names.items():
        if measure == "shannon":
            values[name] = estimators.shannon_from_distances(radius, dim, k)
        elif measure == "renyi":
            values[name] = estimators.renyi_from_distances(radius, dim, k, parameter)
    for method in estimators.BEHAVIORAL_METHODS:
        of_method = [name for name, (_, measure, _, m) in names.items() if measure == "be" and m == method]
        alphas = [names[name][2] for name in of_method]
        values.update(zip(of_method, estimators.behavioral_estimates(radius, dim, k, alphas, method=method)))
    return values


def banded_rows(points: np.ndarray, coverage: CoverageSettings, truths: dict[str, float],
                common: dict) -> list[dict]:
    """The banded estimator's rows of one sample: estimate, band, reached share, and whether
    the band covers the truth."""
    rows = []
    for alpha, band in zip(coverage.be_alphas, behavioral_band(points, coverage.be_alphas, coverage.k)):
        truth_value = truths[f"BE α={alpha:g}"]
        rows.append({**common, "k": coverage.k, "estimator": f"BE α={alpha:g} banded", "quantity": f"BE α={alpha:g}",
                     "method": "banded", "estimate": band.value, "truth": truth_value, "low": band.low,
                     "high": band.high, "reached": band.reached, "covers": band.covers(truth_value),
                     "extrapolated": band.extrapolated})
    return rows


def run_study(settings: StudySettings, coverage: CoverageSettings, out_csv: Path) -> pd.DataFrame:
    """Every (sweep, distribution, dim, n, k, repeat, estimate): estimate, truth and error."""
    names = estimate_names(coverage.be_alphas)
    rng = np.random.default_rng(settings.seed)
    sweeps = {"grid": (settings.dims, settings.sizes, settings.ks),
              "coverage": (range(1, coverage.components + 1), [coverage.points], [coverage.k])}
    rows = []
    for sweep, (dims, sizes, ks) in sweeps.items():
        for dist in DISTRIBUTIONS:
            for dim in dims:
                truths = {name: truth(dist, dim, measure, parameter)
                          for name, (_, measure, parameter, _) in names.items()}
                for n in sizes:
                    usable = [k for k in ks if k < n]
                    for repeat in range(settings.repeats):
                        points = sample(dist, n, dim, rng)
                        neighbours = estimators.neighbour_distances(points, max(usable))
                        common = {"sweep": sweep, "distribution": dist, "dim": dim, "n": n, "repeat": repeat}
                        for k in usable:
                            for name, value in estimates(neighbours[:, k - 1], dim, k, names).items():
                                quantity, _, _, method = names[name]
                                rows.append({**common, "k": k, "estimator": name, "quantity": quantity,
                                             "method": method, "estimate": value, "truth": truths[name]})
                        if sweep == "coverage" and repeat < BANDED_REPEATS:  # where the coverage table uses it
                            rows += banded_rows(points, coverage, truths, common)
            log.info("%s sweep, %s: dims %s done", sweep, dist, list(dims))
    frame = pd.DataFrame(rows)
    frame["error"] = frame.estimate - frame.truth
    # Entropies of different distributions differ in scale (BE by orders of magnitude): the
    # figure compares errors relative to the truth, none of which is near zero here.
    frame["relative_error"] = frame.error / frame.truth.abs()
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
