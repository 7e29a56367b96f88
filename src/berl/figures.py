"""The paper's figures and our aggregate statistics, drawn from the aggregated returns.

- Figure 4: return versus BE's alpha and Rényi's q, per task and algorithm.
- Learning curves: mean evaluation return versus gradient step.
- IQM: interquartile mean of normalised scores across tasks and seeds, with stratified
  bootstrap confidence intervals, per dataset and algorithm.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from .envs import MAX_EPISODE_RETURN  # noqa: E402
from .io import atomic_path, read_json  # noqa: E402
from .report import family_of, provenance_line, seed_statistics, write_csv  # noqa: E402
from .stats import stratified_bootstrap_ci  # noqa: E402

REFERENCES = {"Shannon": "tab:green", "SMM": "tab:purple", "RND": "tab:brown"}
FAMILY_COLOURS = {"BE": "tab:blue", "Rényi": "tab:orange", "Shannon": "tab:green",
                  "SMM": "tab:purple", "RND": "tab:brown", "ExORL": "tab:olive", "random": "tab:gray"}


def save_figure(fig, out: Path, meta: dict) -> None:
    fig.text(0.01, 0.002, provenance_line(meta), fontsize=6)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)


def _grid(tasks: list[str], algorithms: list[str]):
    fig, axes = plt.subplots(len(tasks), len(algorithms), squeeze=False, sharex=True,
                             figsize=(3.2 * len(algorithms), 2.4 * len(tasks)))
    for ax, algorithm in zip(axes[0], algorithms):
        ax.set_title(algorithm.upper())
    for ax, task in zip(axes[:, 0], tasks):
        ax.set_ylabel(f"{task.replace('_', ' ')}\nreturn")
    return fig, axes


def _finish_grid(fig, axes, xlabel: str, title: str) -> None:
    """x labels on the bottom row, one legend entry per label, and the title."""
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:  # a panel may have nothing to label (no BE, Rényi or reference datasets)
        fig.legend(unique.values(), unique.keys(), loc="upper center", ncol=len(unique),
                   bbox_to_anchor=(0.5, 1.02))
    fig.suptitle(title, y=1.06)


def write_fig4(returns_csv: Path, out: Path, meta: dict) -> None:
    """Return versus alpha (BE, every APT-BE dataset) and q (Rényi), mean ± std over seeds,
    with APT-Shannon, SMM and RND as horizontal reference lines."""
    returns = pd.read_csv(returns_csv)
    stats = seed_statistics(returns, ["task", "algorithm", "dataset", "family", "alpha", "q"])
    tasks, algorithms = list(dict.fromkeys(stats.task)), list(dict.fromkeys(stats.algorithm))
    ticks = sorted(set(stats.alpha.dropna()) | set(stats.q.dropna()))
    fig, axes = _grid(tasks, algorithms)
    for i, task in enumerate(tasks):
        for j, algorithm in enumerate(algorithms):
            ax = axes[i, j]
            cell = stats[(stats.task == task) & (stats.algorithm == algorithm)]
            for parameter, label, colour in (("alpha", "BE (α)", "tab:blue"),
                                             ("q", "Rényi (q)", "tab:orange")):
                line = cell[cell[parameter].notna()].sort_values(parameter)
                if len(line):
                    ax.errorbar(line[parameter], line["mean"], yerr=line["std"], marker="o",
                                capsize=3, color=colour, label=label)
            for family, colour in REFERENCES.items():
                # APT-Shannon only: BE with alpha = 1 is already a point of the BE curve.
                ref = cell[(cell.family == family) & cell.alpha.isna()]
                for value in ref["mean"]:
                    ax.axhline(value, linestyle="--", color=colour, linewidth=1, label=family)
            if ticks:
                ax.set_xscale("log")
                ax.xaxis.set_minor_locator(NullLocator())  # ticks at the grid's own α and q
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            else:  # a grid of, e.g., ExORL datasets only: nothing to sweep, references only
                ax.text(0.5, 0.5, "no BE or Rényi datasets", transform=ax.transAxes, ha="center")
            ax.grid(alpha=0.3)
    _finish_grid(fig, axes, "α (BE) or q (Rényi)",
                 "Offline return versus α and q (mean ± std over seeds)")
    save_figure(fig, out, meta)


def write_learning_curves(eval_files: list[Path], datasets: list[dict], out: Path, meta: dict) -> None:
    """Mean evaluation return over seeds versus gradient step, one line per dataset,
    coloured by family, per task (rows) and algorithm (columns)."""
    family = {spec["name"]: family_of(spec) for spec in datasets}
    rows = []
    for path in eval_files:
        result = read_json(path)
        for point in result["curve"]:
            for member, returns in zip(result["members"], point["returns"], strict=True):
                rows.append({"task": member["task"], "algorithm": result["algorithm"],
                             "dataset": result["dataset"], "step": point["step"],
                             "return": float(np.mean(returns))})
    if not rows:
        raise ValueError("no learning curves to draw")
    curves = pd.DataFrame(rows).groupby(["task", "algorithm", "dataset", "step"], sort=False)
    curves = curves["return"].mean().reset_index()
    tasks, algorithms = list(dict.fromkeys(curves.task)), list(dict.fromkeys(curves.algorithm))
    fig, axes = _grid(tasks, algorithms)
    for i, task in enumerate(tasks):
        for j, algorithm in enumerate(algorithms):
            cell = curves[(curves.task == task) & (curves.algorithm == algorithm)]
            for dataset, line in cell.groupby("dataset", sort=False):
                axes[i, j].plot(line.step, line["return"], marker=".",
                                color=FAMILY_COLOURS[family[dataset]], alpha=0.8,
                                label=family[dataset])
            axes[i, j].grid(alpha=0.3)
    _finish_grid(fig, axes, "gradient step",
                 "Learning curves: mean return over seeds, one line per dataset")
    save_figure(fig, out, meta)


def iqm_table(returns: pd.DataFrame, *, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (dataset, algorithm): IQM of final returns / 1000 pooled over tasks and seeds,
    with a 95 % stratified bootstrap interval (runs resampled within each task)."""
    rows = []
    for (dataset, family, algorithm), group in returns.groupby(
        ["dataset", "family", "algorithm"], sort=False
    ):
        strata = [g["return"].to_numpy() / MAX_EPISODE_RETURN for _, g in group.groupby("task", sort=False)]
        iqm, low, high = stratified_bootstrap_ci(strata, resamples=resamples, seed=seed)
        rows.append({"dataset": dataset, "family": family, "algorithm": algorithm,
                     "iqm": iqm, "ci_low": low, "ci_high": high, "runs": len(group),
                     "tasks": len(strata)})
    return pd.DataFrame(rows)


def write_iqm(returns_csv: Path, out_prefix: Path, meta: dict) -> pd.DataFrame:
    """``<prefix>.csv`` and a dot-and-interval plot ``<prefix>.pdf``."""
    table = iqm_table(pd.read_csv(returns_csv))
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), table, meta)
    algorithms = list(dict.fromkeys(table.algorithm))
    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = plt.subplots(1, len(algorithms), sharey=True, squeeze=False,
                             figsize=(3.2 * len(algorithms), 0.9 + 0.3 * len(datasets)))
    for ax, algorithm in zip(axes[0], algorithms):
        part = table[table.algorithm == algorithm].set_index("dataset").reindex(datasets)
        y = np.arange(len(datasets))
        colours = [FAMILY_COLOURS.get(f, "black") for f in part.family]
        ax.hlines(y, part.ci_low, part.ci_high, colors=colours, linewidth=3, alpha=0.6)
        ax.scatter(part.iqm, y, color=colours, zorder=3)
        ax.set_title(algorithm.upper())
        ax.set_xlabel("IQM of return / 1000")
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(np.arange(len(datasets)), datasets)
    axes[0, 0].invert_yaxis()
    fig.suptitle("Interquartile mean over tasks and seeds, 95 % stratified bootstrap CI", y=1.02)
    save_figure(fig, out_prefix.with_suffix(".pdf"), meta)
    return table
