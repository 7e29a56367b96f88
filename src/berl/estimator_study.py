"""Bias and spread of the k-NN entropy estimators against known entropies, versus n and k.

Four distributions per dimension d, two of them with densities above 1 (where behavioral
entropy needs its signed-power convention, ``berl.estimators``):

- ``gaussian σ=1`` and ``gaussian σ=0.05``: isotropic Gaussians,
- ``uniform side=4`` and ``uniform side=0.5``: uniform cubes.

Estimates: Shannon (Kozachenko–Leonenko), Rényi of order 0.5 and 1.5, and BE with
alpha 0.5 and 2 (beta from the paper's tie to the representation size), each BE by the
paper's estimator and by the corrected one (``berl.estimators``, methods "paper" and
"corrected"). Each sample's neighbour distances are searched once for the largest k and
shared by every k and estimator; the corrected BE fits its law once per sample and k.

CSV columns: distribution, dim, n, k, repeat, estimator (a unique name), quantity (what is
estimated: the panel of the figure), method (the BE estimator; empty for the others),
estimate, truth, error, relative_error.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
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
ESTIMATES = {  # name: (quantity, kind, parameter, BE method)
    "Shannon": ("Shannon", "shannon", None, ""),
    "Rényi q=0.5": ("Rényi q=0.5", "renyi", 0.5, ""),
    "Rényi q=1.5": ("Rényi q=1.5", "renyi", 1.5, ""),
    "BE α=0.5": ("BE α=0.5", "be", 0.5, "paper"),
    "BE α=2": ("BE α=2", "be", 2.0, "paper"),
    "BE α=0.5 corrected": ("BE α=0.5", "be", 0.5, "corrected"),
    "BE α=2 corrected": ("BE α=2", "be", 2.0, "corrected"),
}
METHOD_STYLES = {"": "-", "corrected": "-", "paper": "--"}  # line style of each BE method


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


def default_k(ks: list[int]) -> int:
    """The k shown against n: the paper's suggested range tops at 15; take the largest k <= 10."""
    return max([k for k in ks if k <= 10] or [min(ks)])


def _error_band(ax, frame: pd.DataFrame, x: str, colour, style: str) -> None:
    stats = frame.groupby(x)["relative_error"].agg(["mean", "std"]).reset_index()
    ax.plot(stats[x], stats["mean"], marker="o", color=colour, linestyle=style)
    ax.fill_between(stats[x], stats["mean"] - stats["std"].fillna(0),
                    stats["mean"] + stats["std"].fillna(0), color=colour, alpha=0.2)


def write_figure(study_csv: Path, out: Path, meta: dict) -> None:
    """Rows: estimated quantities; columns: relative error versus n (at one k) and versus k (at
    the largest n), one colour per (distribution, dimension), mean ± std over repeats; BE rows
    draw the paper's estimator dashed and the corrected one solid."""
    study = pd.read_csv(study_csv, keep_default_na=False)  # method "" stays a string
    quantities = list(dict.fromkeys(study.quantity))
    k_fixed, n_fixed = default_k(sorted(set(study.k))), study.n.max()
    fig, axes = plt.subplots(len(quantities), 2, squeeze=False, figsize=(10, 2.6 * len(quantities)))
    series = list(study.groupby(["distribution", "dim"], sort=False).groups)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(series), 2)))
    for i, quantity in enumerate(quantities):
        part = study[study.quantity == quantity]
        for method, by_method in part.groupby("method", sort=False):
            for colour, (dist, dim) in zip(colours, series):
                line = by_method[(by_method.distribution == dist) & (by_method.dim == dim)]
                _error_band(axes[i, 0], line[line.k == k_fixed], "n", colour, METHOD_STYLES[method])
                _error_band(axes[i, 1], line[line.n == n_fixed], "k", colour, METHOD_STYLES[method])
        axes[i, 0].set_xscale("log")
        axes[i, 0].xaxis.set_minor_locator(NullLocator())
        axes[i, 0].set_xticks(sorted(set(study.n)), [f"{n:g}" for n in sorted(set(study.n))])
        axes[i, 0].set_ylabel(f"{quantity}\n(estimate − truth) / |truth|")
        for ax in axes[i]:
            # Linear within ±0.1, logarithmic beyond: small k can miss by orders of magnitude.
            ax.set_yscale("symlog", linthresh=0.1)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"versus n (k = {k_fixed})")
    axes[0, 1].set_title(f"versus k (n = {n_fixed})")
    axes[-1, 0].set_xlabel("sample size n")
    axes[-1, 1].set_xlabel("neighbour k")
    handles = [Line2D([], [], color=colour, marker="o", label=f"{dist}, d={dim}")
               for colour, (dist, dim) in zip(colours, series)]
    handles += [Line2D([], [], color="grey", linestyle=METHOD_STYLES[method], label=f"BE: {label}")
                for method, label in (("paper", "the paper's estimator"), ("corrected", "corrected estimator"))
                if method in set(study.method)]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, 1.04))
    fig.suptitle("k-NN entropy estimators against known entropies (mean ± std over repeats)", y=1.07)
    fig.tight_layout()
    save_figure(fig, out, meta)
