"""Bias and spread of the k-NN entropy estimators against known entropies, versus n and k.

Four distributions per dimension d, two of them with densities above 1 (where behavioral
entropy needs its signed-power convention, ``berl.coverage.estimators``):

- ``gaussian σ=1`` and ``gaussian σ=0.05``: isotropic Gaussians,
- ``uniform side=4`` and ``uniform side=0.5``: uniform cubes.

Estimates: Shannon (Kozachenko–Leonenko), Rényi of order 0.5 and 1.5, and BE with
alpha 0.5 and 2 (beta from the paper's tie to the representation size), each BE by the
paper's estimator and by the corrected one (``berl.coverage.estimators``, methods "paper" and
"corrected"). Each sample's neighbour distances are searched once for the largest k and
shared by every k and estimator; the corrected BE fits its law once per sample and k.

CSV columns: distribution, dim, n, k, repeat, estimator (a unique name), quantity (what is
estimated: the panel of the figure), method (the BE estimator; empty for the others),
estimate, truth, error, relative_error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from berl.core.io import atomic_path
from berl.core.log import get_logger
from berl.core.settings import setting
from berl.coverage import estimators

log = get_logger(__name__)

DISTRIBUTIONS = {  # name: (kind, scale)
    "gaussian σ=1": ("gaussian", 1.0),
    "gaussian σ=0.05": ("gaussian", 0.05),
    "uniform side=4": ("uniform", 4.0),
    "uniform side=0.5": ("uniform", 0.5),
}
ESTIMATES = {  # name: (quantity, kind, parameter, BE method)
    "Shannon": ("Shannon", "shannon", None, ""),
    "Rényi q=0.5": ("Rényi q=0.5", "renyi", 0.5, ""),
    "Rényi q=1.5": ("Rényi q=1.5", "renyi", 1.5, ""),
    "BE α=0.5": ("BE α=0.5", "be", 0.5, "paper"),
    "BE α=2": ("BE α=2", "be", 2.0, "paper"),
    "BE α=0.5 corrected": ("BE α=0.5", "be", 0.5, "corrected"),
    "BE α=2 corrected": ("BE α=2", "be", 2.0, "corrected"),
}


def sample(distribution: str, n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    kind, scale = DISTRIBUTIONS[distribution]
    if kind == "gaussian":
        return rng.normal(scale=scale, size=(n, dim))
    return rng.uniform(0.0, scale, size=(n, dim))


def truth(distribution: str, dim: int, estimate: str) -> float:
    kind, scale = DISTRIBUTIONS[distribution]
    _, measure, parameter, _ = ESTIMATES[estimate]
    if kind == "gaussian":
        cov = np.eye(dim) * scale**2
        if measure == "shannon":
            return estimators.gaussian_shannon(cov)
        if measure == "renyi":
            return estimators.gaussian_renyi(cov, parameter)
        return estimators.gaussian_behavioral(scale, dim, parameter)
    sides = [scale] * dim
    if measure == "shannon":
        return estimators.uniform_shannon(sides)
    if measure == "renyi":
        return estimators.uniform_renyi(sides, parameter)
    return estimators.uniform_behavioral(sides, parameter)


def estimates(radius: np.ndarray, dim: int, k: int) -> dict[str, float]:
    """Every estimate of ESTIMATES from one R_k; each BE method sees all its alphas at once."""
    values = {}
    for name, (_, measure, parameter, _) in ESTIMATES.items():
        if measure == "shannon":
            values[name] = estimators.shannon_from_distances(radius, dim, k)
        elif measure == "renyi":
            values[name] = estimators.renyi_from_distances(radius, dim, k, parameter)
    for method in estimators.BEHAVIORAL_METHODS:
        names = [name for name, (_, measure, _, m) in ESTIMATES.items() if measure == "be" and m == method]
        alphas = [ESTIMATES[name][2] for name in names]
        values.update(zip(names, estimators.behavioral_estimates(radius, dim, k, alphas, method=method)))
    return values


@dataclass
class StudySettings:
    """The ``estimator_study`` block: the grid of the study."""

    sizes: list[int] = setting(doc="sample sizes n")
    ks: list[int] = setting(doc="neighbours k")
    dims: list[int] = setting(doc="dimensions")
    repeats: int = setting(doc="independent samples per setting")
    seed: int = setting(0, "seed of the samples")


def run_study(settings: StudySettings, out_csv: Path) -> pd.DataFrame:
    """Every (distribution, dim, n, k, repeat, estimate): estimate, truth and error."""
    sizes, ks, dims, repeats = settings.sizes, settings.ks, settings.dims, settings.repeats
    rng = np.random.default_rng(settings.seed)
    truths = {(dist, dim, name): truth(dist, dim, name)
              for dist in DISTRIBUTIONS for dim in dims for name in ESTIMATES}
    rows = []
    for dist in DISTRIBUTIONS:
        for dim in dims:
            for n in sizes:
                usable = [k for k in ks if k < n]
                for repeat in range(repeats):
                    neighbours = estimators.neighbour_distances(sample(dist, n, dim, rng), max(usable))
                    for k in usable:
                        for name, value in estimates(neighbours[:, k - 1], dim, k).items():
                            quantity, _, _, method = ESTIMATES[name]
                            rows.append({"distribution": dist, "dim": dim, "n": n, "k": k,
                                         "repeat": repeat, "estimator": name, "quantity": quantity,
                                         "method": method, "estimate": value,
                                         "truth": truths[dist, dim, name]})
            log.info("%s: dims %s done", dist, dims)
    frame = pd.DataFrame(rows)
    frame["error"] = frame.estimate - frame.truth
    # Entropies of different distributions differ in scale (BE by orders of magnitude): the
    # figure compares errors relative to the truth, none of which is near zero here.
    frame["relative_error"] = frame.error / frame.truth.abs()
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
