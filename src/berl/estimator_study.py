"""Bias and spread of the k-NN entropy estimators against known entropies, versus n and k.

Four distributions per dimension d, two of them with densities above 1 (where behavioral
entropy needs its signed-power convention, ``berl.estimators``):

- ``gaussian σ=1`` and ``gaussian σ=0.05``: isotropic Gaussians,
- ``uniform side=4`` and ``uniform side=0.5``: uniform cubes.

Estimates: Shannon (Kozachenko–Leonenko), Rényi of order 0.5 and 1.5, and BE with
alpha 0.5 and 2 (beta from the paper's tie to the representation size). Each sample's
neighbour distances are searched once for the largest k and shared by every k and
estimator.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from . import estimators  # noqa: E402
from .figures import save_figure  # noqa: E402
from .io import atomic_path  # noqa: E402
from .log import get_logger  # noqa: E402

log = get_logger(__name__)

DISTRIBUTIONS = {  # name: (kind, scale)
    "gaussian σ=1": ("gaussian", 1.0),
    "gaussian σ=0.05": ("gaussian", 0.05),
    "uniform side=4": ("uniform", 4.0),
    "uniform side=0.5": ("uniform", 0.5),
}
ESTIMATES = {  # name: (kind, parameter)
    "Shannon": ("shannon", None),
    "Rényi q=0.5": ("renyi", 0.5),
    "Rényi q=1.5": ("renyi", 1.5),
    "BE α=0.5": ("be", 0.5),
    "BE α=2": ("be", 2.0),
}


def sample(distribution: str, n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    kind, scale = DISTRIBUTIONS[distribution]
    if kind == "gaussian":
        return rng.normal(scale=scale, size=(n, dim))
    return rng.uniform(0.0, scale, size=(n, dim))


def truth(distribution: str, dim: int, estimate: str) -> float:
    kind, scale = DISTRIBUTIONS[distribution]
    measure, parameter = ESTIMATES[estimate]
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


def estimate(measure: str, parameter: float | None, radius: np.ndarray, dim: int, k: int) -> float:
    if measure == "shannon":
        return estimators.shannon_from_distances(radius, dim, k)
    if measure == "renyi":
        return estimators.renyi_from_distances(radius, dim, k, parameter)
    return estimators.behavioral_from_distances(radius, dim, k, parameter)


def run_study(sizes: list[int], ks: list[int], dims: list[int], repeats: int, out_csv: Path,
              seed: int = 0) -> pd.DataFrame:
    """Every (distribution, dim, n, k, repeat, estimate): estimate, truth and error."""
    rng = np.random.default_rng(seed)
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
                        for name, (measure, parameter) in ESTIMATES.items():
                            value = estimate(measure, parameter, neighbours[:, k - 1], dim, k)
                            rows.append({"distribution": dist, "dim": dim, "n": n, "k": k,
                                         "repeat": repeat, "estimator": name, "estimate": value,
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


def default_k(ks: list[int]) -> int:
    """The k shown against n: the paper's suggested range tops at 15; take the largest k <= 10."""
    return max([k for k in ks if k <= 10] or [min(ks)])


def _error_band(ax, frame: pd.DataFrame, x: str, colour, label: str) -> None:
    stats = frame.groupby(x)["relative_error"].agg(["mean", "std"]).reset_index()
    ax.plot(stats[x], stats["mean"], marker="o", color=colour, label=label)
    ax.fill_between(stats[x], stats["mean"] - stats["std"].fillna(0),
                    stats["mean"] + stats["std"].fillna(0), color=colour, alpha=0.2)


def write_figure(study_csv: Path, out: Path, meta: dict) -> None:
    """Rows: estimators; columns: relative error versus n (at one k) and versus k (at the largest n),
    one line per (distribution, dimension), mean ± std over repeats."""
    study = pd.read_csv(study_csv)
    names = list(dict.fromkeys(study.estimator))
    k_fixed, n_fixed = default_k(sorted(set(study.k))), study.n.max()
    fig, axes = plt.subplots(len(names), 2, squeeze=False, figsize=(10, 2.6 * len(names)))
    series = list(study.groupby(["distribution", "dim"], sort=False).groups)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(series), 2)))
    for i, name in enumerate(names):
        part = study[study.estimator == name]
        for colour, (dist, dim) in zip(colours, series):
            line = part[(part.distribution == dist) & (part.dim == dim)]
            label = f"{dist}, d={dim}"
            _error_band(axes[i, 0], line[line.k == k_fixed], "n", colour, label)
            _error_band(axes[i, 1], line[line.n == n_fixed], "k", colour, label)
        axes[i, 0].set_xscale("log")
        axes[i, 0].xaxis.set_minor_locator(NullLocator())
        axes[i, 0].set_xticks(sorted(set(study.n)), [f"{n:g}" for n in sorted(set(study.n))])
        axes[i, 0].set_ylabel(f"{name}\n(estimate − truth) / |truth|")
        for ax in axes[i]:
            # Linear within ±0.1, logarithmic beyond: small k can miss by orders of magnitude.
            ax.set_yscale("symlog", linthresh=0.1)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"versus n (k = {k_fixed})")
    axes[0, 1].set_title(f"versus k (n = {n_fixed})")
    axes[-1, 0].set_xlabel("sample size n")
    axes[-1, 1].set_xlabel("neighbour k")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, 1.04))
    fig.suptitle("k-NN entropy estimators against known entropies (mean ± std over repeats)", y=1.07)
    fig.tight_layout()
    save_figure(fig, out, meta)
