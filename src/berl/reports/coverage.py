"""Coverage reports: the coverage table, the joint embeddings, coverage versus return, and
the estimator study's figure."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from scipy.stats import kendalltau, spearmanr  # noqa: E402

from berl.core.constants import FAMILIES, family_of  # noqa: E402
from berl.core.io import atomic_path, write_text  # noqa: E402
from berl.coverage.measures import SCALE_SUFFIX, SPACES  # noqa: E402
from berl.reports.common import (  # noqa: E402
    FAMILY_COLOURS, RETURN_COLUMNS, collection_seed_of, log_axis_at, provenance_line, read_table, save_figure,
    table_page, tex_table, write_csv,
)

VOLUMETRIC = {"grid_occupancy": "grid occupancy", "ball_volume": "k-NN ball volume"}
# Measures set against returns: both volumetric ones and the Shannon estimate.
AGAINST_RETURN = {**VOLUMETRIC, "shannon": "Shannon entropy"}
METHOD_STYLES = {"": "-", "corrected": "-", "paper": "--", "banded": ":"}  # the estimator study's line style per BE method
# A column whose estimator is off by more than this on some known density of the estimator
# study, at the table's own dimension, sample size and k, is marked.
UNRELIABLE_ERROR = 0.10


def dataset_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by family in Table 1's order, then by alpha or q, then by name."""
    rank = frame.family.map({family: i for i, family in enumerate(FAMILIES)})
    return (frame.assign(_rank=rank, _parameter=frame.alpha.fillna(frame.q))
            .sort_values(["_rank", "_parameter", "dataset"], na_position="first", kind="stable")
            .drop(columns=["_rank", "_parameter"]))


def read_coverage(coverage_csvs: list[Path]) -> pd.DataFrame:
    """Every coverage file, with its collection seed (the ``seed<k>`` folder) as a column."""
    return pd.concat([read_table(path, ("dataset",)).assign(collection_seed=collection_seed_of(path))
                      for path in coverage_csvs], ignore_index=True)


def mean_coverage(frame: pd.DataFrame) -> pd.DataFrame:
    """Each dataset's measures averaged over its collection seeds, with their number."""
    keys = ["domain", "space", "dataset", "family", "alpha", "q", "components", "k", "be_estimator", "points"]
    numeric = [c for c in frame.select_dtypes("number") if c not in keys + ["collection_seed"]]
    grouped = frame.groupby(keys, sort=False, dropna=False)
    return grouped[numeric].mean().join(grouped.size().rename("collection_seeds")).reset_index()


def measure_columns(frame: pd.DataFrame) -> list[str]:
    """The table's columns: volumetric measures, Shannon, Rényi and BE (as log10 BE, at the
    shared scale)."""
    entropies = ["shannon"] + [c for c in frame if c.startswith("renyi_q")] + \
                [c for c in frame if re.fullmatch(r"log10_be_a[0-9.]+", c)]
    return list(VOLUMETRIC) + entropies


def _quantity(column: str) -> str:
    """The estimator study's name of the quantity a column estimates."""
    if column.startswith("renyi_q"):
        return f"Rényi q={column[7:]}"
    if column.startswith("log10_be_a"):
        return f"BE α={column[10:]}"
    return "Shannon"


def _label(column: str) -> str:
    if column in VOLUMETRIC:
        return VOLUMETRIC[column]
    return ("log10 " if column.startswith("log10_be_a") else "") + _quantity(column)


def read_study(study_csv: Path) -> pd.DataFrame:
    """The estimator study's rows (``berl.coverage.estimator_study``), BE method "" for the
    entropies other than BE."""
    study = read_table(study_csv, ("sweep", "distribution", "dim", "n", "k", "quantity", "method", "relative_error"))
    study["method"] = study.method.fillna("")
    return study


def study_errors(study: pd.DataFrame, page: pd.DataFrame, columns: list[str]) -> dict[str, pd.Series]:
    """Per entropy column of a table page, the estimator study's mean relative error on each
    of its densities (over repeats) at the page's dimension, sample size and k, by the BE
    estimator the page used; no entry where the study has no such rows."""
    at_page = study[(study.sweep == "coverage") & (study.dim == page.components.iloc[0])
                    & (study.n == page.points.iloc[0]) & (study.k == page.k.iloc[0])]
    errors = {}
    for column in columns:
        if column in VOLUMETRIC:
            continue
        method = page.be_estimator.iloc[0] if column.startswith("log10_be_a") else ""
        rows = at_page[(at_page.quantity == _quantity(column)) & (at_page.method == method)]
        if len(rows):
            errors[column] = rows.groupby("distribution", sort=False).relative_error.mean()
    return errors


def band_coverage(study: pd.DataFrame, page: pd.DataFrame) -> dict[str, str]:
    """Per BE column of a table page, the share of the estimator study's cases at the page's
    dimension, sample size and k whose banded 90 % band covered the truth."""
    if "covers" not in study:
        return {}
    banded = study[(study.sweep == "coverage") & (study.method == "banded") & (study.dim == page.components.iloc[0])
                   & (study.n == page.points.iloc[0]) & (study.k == page.k.iloc[0])]
    return {f"log10_be_a{quantity.split('=')[1]}": f"{rows.covers.astype(bool).mean():.0%} of {len(rows)}"
            for quantity, rows in banded.groupby("quantity", sort=False)}


def _cell(row: dict, column: str) -> str:
    """A measure's value; log10 BE with the banded 90 % band, "≤0" for a bound that is not
    positive, and * where the value is extrapolated for some collection seed."""
    if not re.fullmatch(r"log10_be_a[0-9.]+", column) or f"{column}_low" not in row:
        return f"{row[column]:.3g}"
    low, high = (f"{row[f'{column}_{side}']:.3g}" if row[f"{column}_{side}"] == row[f"{column}_{side}"] else "≤0"
                 for side in ("low", "high"))
    extrapolated = row[f"be_a{column[10:]}_extrapolated"] > 0
    return f"{row[column]:.3g} [{low}, {high}]" + "*" * extrapolated


def _percent(share: float) -> str:
    """A relative error in per cent: whole numbers, powers of ten past ±1000 %."""
    value = share * 100
    if abs(value) >= 1000:
        return f"{value:+.0e}"
    return "0" if round(value) == 0 else f"{value:+.0f}"


def _error_range(errors: pd.Series) -> str:
    low, high = _percent(errors.min()), _percent(errors.max())
    return f"{low} %" if low == high else f"{low}…{high} %"


def _order_holds(page: pd.DataFrame, column: str) -> str:
    """Whether the datasets' order by a BE column is the same with the space stretched by
    SCALE_CHECK; Kendall's tau between the two where it is not."""
    here, stretched = page[column], page[column + SCALE_SUFFIX]
    if len(page) < 2 or (here.rank().tolist() == stretched.rank().tolist()):
        return "same"
    return f"changes (τ {kendalltau(here, stretched, nan_policy='omit').statistic:.2f})"


def write_table_coverage(coverage_csvs: list[Path], study_csv: Path, out_prefix: Path, meta: dict) -> pd.DataFrame:
    """Every coverage measure of every dataset (mean over collection seeds), one page per
    (domain, space); the largest value of each measure within a page in bold. BE as log10
    BE, which spans hundreds of decades across alphas, each value with the banded
    estimator's 90 % band and * where it is extrapolated. Under the datasets, three rows: the
    estimator study's error on known densities at the page's own dimension, sample size and
    k (range over its densities; columns off by more than UNRELIABLE_ERROR on one of them
    marked †), how often the banded band covered the truth there, and whether the datasets'
    order by each BE holds with the space stretched twofold. Writes ``.pdf``, ``.tex`` and ``.csv`` (a row per collection seed)."""
    replicates = read_coverage(coverage_csvs)
    study = read_study(study_csv)
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), replicates, meta)
    frame = mean_coverage(replicates)
    columns = measure_columns(frame)
    tex = ["% " + provenance_line(meta) + "\n"]
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        for (domain, space), page in frame.groupby(["domain", "space"], sort=False):
            page = dataset_order(page)
            records = page.to_dict("records")
            errors = study_errors(study, page, columns)
            unreliable = {c for c, e in errors.items() if (e.abs() > UNRELIABLE_ERROR).any()}
            labels = ["dataset", "family"] + [_label(c) + " †" * (c in unreliable) for c in columns]
            rows = [[row["dataset"], row["family"]] + [_cell(row, c) for c in columns] for row in records]
            best = {c: page[c].max() for c in columns}
            bold = [{2 + j for j, c in enumerate(columns) if row[c] == best[c]} for row in records]
            rows.append(["estimator's error", "known densities"]
                        + [_error_range(errors[c]) if c in errors else "" for c in columns])
            covered = band_coverage(study, page)
            rows.append(["band covers truth", "known densities"] + [covered.get(c, "") for c in columns])
            rows.append(["order at scale ×2", ""]
                        + [_order_holds(page, c) if c.startswith("log10_be_a") else "" for c in columns])
            bold += [set(), set(), set()]
            points, dim = int(page.points.iloc[0]), int(page.components.iloc[0])
            seeds = int(page.collection_seeds.max())
            title = (f"Coverage of the {domain} datasets, {space} space ({points} states each, "
                     f"mean over {seeds} collection seed{'s' * (seeds > 1)}; {meta.get('preset', '?')})\n"
                     f"entropies on {dim} components, k = {int(page.k.iloc[0])}, BE by the "
                     f"{page.be_estimator.iloc[0]} estimator; † off by over {UNRELIABLE_ERROR:.0%} "
                     f"on a known density at this d and n;\n[ ] the banded estimator's 90 % band, "
                     f"* extrapolated (under half of BE from densities the sample reaches, or band over ±10 %)")
            table_page(pdf, title, labels, rows, bold, meta)
            tex.append(f"% {title.replace(chr(10), ' ')}\n" + tex_table(labels, rows, bold, text_columns=2))
    write_text(out_prefix.with_suffix(".tex"), "".join(tex))
    return replicates


def write_embedding_figure(embedding_csvs: dict[str, Path], datasets: list[dict], method: str,
                           out: Path, meta: dict) -> None:
    """One page per domain: a panel per dataset, its states in its family's colour over
    every dataset's states in grey (all embedded jointly)."""
    specs = {spec["name"]: spec for spec in datasets}
    name = {"tsne": "t-SNE", "phate": "PHATE"}[method]
    with atomic_path(out) as tmp, PdfPages(tmp) as pdf:
        for domain, path in embedding_csvs.items():
            points = read_table(path, ("dataset", "x", "y"))
            present = pd.DataFrame([{**specs[d], "family": family_of(specs[d]), "dataset": d}
                                    for d in dict.fromkeys(points.dataset)])
            present["alpha"] = present.get("alpha", np.nan)
            present["q"] = present.get("q", np.nan)
            order = list(dataset_order(present).dataset)
            per_dataset = len(points) // len(order)
            columns = min(4, len(order))
            rows = math.ceil(len(order) / columns)
            fig, axes = plt.subplots(rows, columns, squeeze=False, sharex=True, sharey=True,
                                     figsize=(2.6 * columns, 2.5 * rows))
            for ax, dataset in zip(axes.flat, order):
                ax.scatter(points.x, points.y, s=1, color="0.85", rasterized=True)
                mine = points[points.dataset == dataset]
                ax.scatter(mine.x, mine.y, s=2, color=FAMILY_COLOURS[family_of(specs[dataset])],
                           rasterized=True)
                ax.set_title(dataset, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
            for ax in axes.flat[len(order):]:
                ax.axis("off")
            fig.suptitle(f"{name} of the {domain} datasets, embedded jointly: {per_dataset} states "
                         f"per dataset, {len(points)} in all", y=1.01)
            fig.text(0.01, 0.002, provenance_line(meta), fontsize=6)
            pdf.savefig(fig, bbox_inches="tight")
            plt.close(fig)


def coverage_return_table(coverage: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """Per (space, measure, task): Spearman's rank correlation over datasets between the
    measure (mean over collection seeds) and the dataset's return (mean over algorithms and runs)."""
    mean_return = returns.groupby(["dataset", "task"], sort=False)["return"].mean().reset_index()
    rows = []
    for space in SPACES:
        measured = coverage[coverage.space == space]
        for column in AGAINST_RETURN:
            for task, group in mean_return.groupby("task", sort=False):
                joined = group.merge(measured[["dataset", column]], on="dataset")
                rho, p = (spearmanr(joined[column], joined["return"]) if len(joined) >= 3
                          else (np.nan, np.nan))
                rows.append({"space": space, "measure": column, "task": task,
                             "datasets": len(joined), "spearman_rho": rho, "p_value": p})
    return pd.DataFrame(rows)


def write_coverage_vs_return(coverage_csvs: list[Path], returns_csv: Path, out_prefix: Path,
                             meta: dict) -> pd.DataFrame:
    """Scatter of each dataset's coverage measures against its return per task (mean over
    algorithms and seeds), with Spearman's rho per panel; the correlations go to ``.csv``."""
    coverage = mean_coverage(read_coverage(coverage_csvs))
    returns = read_table(returns_csv, RETURN_COLUMNS)
    table = coverage_return_table(coverage, returns)
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), table, meta)
    mean_return = returns.groupby(["dataset", "family", "task"], sort=False)["return"].mean().reset_index()
    tasks = list(dict.fromkeys(mean_return.task))
    panels = [(space, column) for space in SPACES for column in AGAINST_RETURN]
    fig, axes = plt.subplots(len(panels), len(tasks), squeeze=False,
                             figsize=(3.0 * len(tasks), 2.4 * len(panels)))
    for i, (space, column) in enumerate(panels):
        measured = coverage[coverage.space == space][["dataset", column]]
        for j, task in enumerate(tasks):
            ax = axes[i, j]
            joined = mean_return[mean_return.task == task].merge(measured, on="dataset")
            for family, group in joined.groupby("family", sort=False):
                ax.scatter(group[column], group["return"], color=FAMILY_COLOURS[family], label=family, s=18)
            rho = table[(table.space == space) & (table.measure == column) & (table.task == task)]
            ax.set_title(f"{task.replace('_', ' ')}: ρ = {rho.spearman_rho.iloc[0]:.2f}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            if j == 0:
                ax.set_ylabel("mean return")
            ax.set_xlabel(f"{AGAINST_RETURN[column]} ({space})", fontsize=8)
    handles = {}
    for ax in axes.flat:
        handles.update(zip(*reversed(ax.get_legend_handles_labels())))
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=len(handles),
               bbox_to_anchor=(0.5, 1.01))
    fig.suptitle("Coverage versus offline return (mean over algorithms and seeds), "
                 "Spearman's ρ over datasets", y=1.03)
    fig.tight_layout()
    save_figure(fig, out_prefix.with_suffix(".pdf"), meta)
    return table


# ---------------------------------------------------------------- estimator study


def default_k(ks: list[int]) -> int:
    """The k shown against n: the paper's suggested range tops at 15; take the largest k <= 10."""
    return max([k for k in ks if k <= 10] or [min(ks)])


SYMLOG_PAD = 0.06  # share of the drawn height left above and below the data of a symlog axis


def _pad_y_in_scale(ax, fraction: float) -> None:
    """Widen the y-limits by ``fraction`` of their span as drawn (in the axis' scale):
    autoscaling pads a symlog axis in data units, which its logarithmic part shrinks to a
    pixel, leaving the outermost markers half outside the frame."""
    scale = ax.yaxis.get_transform()
    low, high = scale.transform(np.array(ax.get_ylim()))
    pad = fraction * (high - low)
    ax.set_ylim(*scale.inverted().transform(np.array([low - pad, high + pad])))


def _error_band(ax, frame: pd.DataFrame, x: str, colour, style: str) -> None:
    stats = frame.groupby(x)["relative_error"].agg(["mean", "std"]).reset_index()
    ax.plot(stats[x], stats["mean"], marker="o", color=colour, linestyle=style)
    ax.fill_between(stats[x], stats["mean"] - stats["std"].fillna(0),
                    stats["mean"] + stats["std"].fillna(0), color=colour, alpha=0.2)


def write_estimator_figure(study_csv: Path, out: Path, meta: dict) -> None:
    """Rows: estimated quantities; columns: relative error versus n (at one k) and versus k (at
    the largest n), one colour per (distribution, dimension), and versus the dimension at the
    coverage stage's n and k, one colour per distribution; mean ± std over repeats. BE rows
    draw the paper's estimator dashed and the corrected one solid."""
    study = read_study(study_csv)
    grid, by_dim = study[study.sweep == "grid"], study[study.sweep == "coverage"]
    quantities = list(dict.fromkeys(study.quantity))
    k_fixed, n_fixed = default_k(sorted(set(grid.k))), grid.n.max()
    fig, axes = plt.subplots(len(quantities), 3, squeeze=False, figsize=(15, 2.6 * len(quantities)))
    series = list(grid.groupby(["distribution", "dim"], sort=False).groups)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(series), 2)))
    distributions = list(dict.fromkeys(study.distribution))
    distribution_colours = dict(zip(distributions, plt.get_cmap("Dark2")(np.arange(len(distributions)) % 8)))
    for i, quantity in enumerate(quantities):
        for method, by_method in grid[grid.quantity == quantity].groupby("method", sort=False):
            for colour, (dist, dim) in zip(colours, series):
                line = by_method[(by_method.distribution == dist) & (by_method.dim == dim)]
                _error_band(axes[i, 0], line[line.k == k_fixed], "n", colour, METHOD_STYLES[method])
                _error_band(axes[i, 1], line[line.n == n_fixed], "k", colour, METHOD_STYLES[method])
        for method, by_method in by_dim[by_dim.quantity == quantity].groupby("method", sort=False):
            for dist in distributions:
                _error_band(axes[i, 2], by_method[by_method.distribution == dist], "dim",
                            distribution_colours[dist], METHOD_STYLES[method])
        log_axis_at(axes[i, 0], grid.n)
        axes[i, 2].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[i, 0].set_ylabel(f"{quantity}\n(estimate − truth) / |truth|")
        for ax in axes[i]:
            # Linear within ±0.1, logarithmic beyond: small k can miss by orders of magnitude.
            ax.set_yscale("symlog", linthresh=0.1)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.grid(alpha=0.3)
            _pad_y_in_scale(ax, SYMLOG_PAD)
    axes[0, 0].set_title(f"versus n (k = {k_fixed})")
    axes[0, 1].set_title(f"versus k (n = {n_fixed})")
    if len(by_dim):
        axes[0, 2].set_title(f"versus dimension, at the coverage table's n = {by_dim.n.iloc[0]}, "
                             f"k = {by_dim.k.iloc[0]}")
    axes[-1, 0].set_xlabel("sample size n")
    axes[-1, 1].set_xlabel("neighbour k")
    axes[-1, 2].set_xlabel("dimension d")
    handles = [Line2D([], [], color=colour, marker="o", label=f"{dist}, d={dim}")
               for colour, (dist, dim) in zip(colours, series)]
    handles += [Line2D([], [], color=distribution_colours[dist], marker="s", label=f"{dist} (versus d)")
                for dist in distributions]
    handles += [Line2D([], [], color="grey", linestyle=METHOD_STYLES[method], label=f"BE: {label}")
                for method, label in (("paper", "the paper's estimator"), ("corrected", "corrected estimator"),
                                      ("banded", "banded estimator"))
                if method in set(study.method)]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=7, bbox_to_anchor=(0.5, 1.04))
    fig.suptitle("k-NN entropy estimators against known entropies (mean ± std over repeats)", y=1.07)
    fig.tight_layout()
    save_figure(fig, out, meta)
