"""What every report shares: provenance, per-run statistics and their text, CSV, TeX,
table pages and figures.

Every report carries its provenance: the preset, the configuration hash and the versions
of the packages that produced it. Scores pool runs: collection seeds (replicate datasets,
each result under a ``seed<k>`` folder) x training seeds; spreads are sample standard
deviations (ddof 1) and intervals 95 % bootstrap intervals over runs.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from berl.core.io import atomic_path  # noqa: E402
from berl.core.stats import MIN_BOOTSTRAP_RUNS  # noqa: E402
from berl.core.validate import InputError, one_line  # noqa: E402

PROVENANCE_PACKAGES = ("berl", "torch", "numpy", "dm-control", "mujoco", "gymnasium", "snakemake")
RUN_KEYS = ["collection_seed", "seed"]  # one run: a replicate dataset and a training seed
FAMILY_COLOURS = {"BE": "tab:blue", "Rényi": "tab:orange", "Shannon": "tab:green",
                  "SMM": "tab:purple", "RND": "tab:brown", "ExORL": "tab:olive", "random": "tab:gray"}


def collection_seed_of(path: Path) -> int:
    """The collection seed of a result: the ``seed<k>`` folder its path runs through."""
    for part in reversed(Path(path).parts[:-1]):
        if re.fullmatch(r"seed\d+", part):
            return int(part[4:])
    raise InputError(f"{path}: no seed<k> folder (the collection seed) in the path")


def provenance(preset: str, config_hash: str) -> dict[str, str]:
    versions = {}
    for package in PROVENANCE_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {"preset": preset, "config hash": config_hash, **versions}


def provenance_line(meta: dict[str, str]) -> str:
    return "; ".join(f"{key} {value}" for key, value in meta.items())


def write_csv(path: Path, frame: pd.DataFrame, meta: dict[str, str]) -> None:
    """A report's CSV, atomically, under comment lines of provenance (``# key: value``)."""
    header = "".join(f"# {key}: {value}\n" for key, value in meta.items())
    with atomic_path(path) as tmp:
        tmp.write_text(header + frame.to_csv(index=False, float_format="%.4f"))


# The columns of the aggregated returns table (offline reports' ``aggregate``) that reports read.
RETURN_COLUMNS = ("dataset", "family", "alpha", "q", "algorithm", "task", "collection_seed", "seed", "return")


def read_table(path: Path, columns: tuple[str, ...], **read_options) -> pd.DataFrame:
    """A stage's CSV (``#`` lines are provenance) holding ``columns`` and at least one row;
    anything else raises InputError naming the file."""
    try:
        frame = pd.read_csv(path, comment="#", **read_options)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise InputError(f"{path}: cannot read CSV ({one_line(exc)})") from exc
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(missing)}")
    if frame.empty:
        raise InputError(f"{path}: no rows")
    return frame


def seed_statistics(returns: pd.DataFrame, keys: list[str], value: str = "return") -> pd.DataFrame:
    """Mean, sample standard deviation (ddof 1; NaN for a single run) and number of runs
    (collection seeds x training or evaluation seeds) of ``value``, per ``keys``."""
    return (
        returns.groupby(keys, sort=False, observed=True, dropna=False)[value]
        .agg(mean="mean", std=lambda r: r.std(ddof=1), runs="count")
        .reset_index()
    )


def run_matrix(returns: pd.DataFrame, candidates: list[str], value: str = "return") -> pd.DataFrame:
    """One task's scores as a (candidates, runs) frame: a row per value combination of
    ``candidates`` columns, a column per run, so that rows compare paired, run by run."""
    matrix = returns.pivot_table(index=candidates, columns=RUN_KEYS, values=value,
                                 sort=False, observed=True)
    if matrix.isna().to_numpy().any():
        raise InputError("candidates were not run with the same collection and training seeds: "
                         "paired comparisons need every run of every candidate")
    return matrix


def mean_std_text(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.1f}" if pd.isna(std) else f"{mean:.1f} ± {std:.1f}"


def interval_text(value: float, low: float, high: float, signed: bool = False) -> str:
    """``value [low, high]``, or the value alone where there were too few runs for an interval."""
    sign = "+" if signed else ""
    if np.isnan(low):
        return f"{value:{sign}.1f} (no interval: fewer than {MIN_BOOTSTRAP_RUNS} runs)"
    return f"{value:{sign}.1f} [{low:{sign}.1f}, {high:{sign}.1f}]"


TEX_SYMBOLS = {"±": r"$\pm$", "_": r"\_", "α": r"$\alpha$", "τ": r"$\tau$", "×": r"$\times$", "†": r"$\dagger$",
               "…": r"\ldots{}", "%": r"\%"}


def _tex(cell: str) -> str:
    return "".join(TEX_SYMBOLS.get(char, char) for char in cell)


def tex_table(labels: list[str], rows: list[list[str]], bold: list[set[int]], text_columns: int) -> str:
    body = "\n".join(
        "    " + " & ".join(
            rf"\textbf{{{_tex(c)}}}" if j in marks else _tex(c) for j, c in enumerate(row)
        ) + r" \\"
        for row, marks in zip(rows, bold)
    )
    return (
        r"\begin{tabular}{" + "l" * text_columns + "r" * (len(labels) - text_columns) + "}\n"
        r"    \toprule" + "\n    " + " & ".join(_tex(label) for label in labels) + r" \\" + "\n"
        r"    \midrule" + "\n" + body + "\n    \\bottomrule\n\\end{tabular}\n"
    )


def table_page(pdf: PdfPages, title: str, labels: list[str], rows: list[list[str]],
                bold: list[set[int]], meta: dict, widths: list[int] | None = None) -> None:
    """One table on a page; ``widths`` (characters per column) sizes columns of long text."""
    lines = max((cell.count("\n") + 1 for row in rows for cell in row), default=1)
    width = 1.0 + 0.07 * sum(widths) if widths else 2.0 + 1.5 * len(labels)
    fig, ax = plt.subplots(figsize=(width, 1.4 + 0.32 * lines * len(rows)))
    ax.axis("off")
    ax.set_title(title)
    drawn = ax.table(cellText=rows, colLabels=labels, loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.scale(1.0, 1.4)
    for (i, j), cell in drawn.get_celld().items():
        if i > 0:  # body rows tall enough for their lines
            cell.set_height(cell.get_height() * lines)
        if widths:
            cell.set_width(widths[j] / sum(widths))
    for i, marks in enumerate(bold):
        for j in marks:
            drawn[i + 1, j].set_text_props(fontweight="bold")
    fig.text(0.01, 0.01, provenance_line(meta), fontsize=6, wrap=True)
    pdf.savefig(fig, bbox_inches="tight")
    plt.close(fig)


LOG_AXIS_MARGIN = 1.6  # a log axis of sweep values reaches this factor beyond the smallest and largest


def log_axis_at(ax, values) -> None:
    """A logarithmic x-axis with ticks at the sweep's own ``values`` and limits a factor
    LOG_AXIS_MARGIN beyond them: autoscaling a log axis (shared by panels) of one value
    collapses it onto that value, its points on the frame."""
    values = sorted(set(values))
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.set_xlim(values[0] / LOG_AXIS_MARGIN, values[-1] * LOG_AXIS_MARGIN)


def save_figure(fig, out: Path, meta: dict) -> None:
    fig.text(0.01, 0.002, provenance_line(meta), fontsize=6)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
