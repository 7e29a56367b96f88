"""Aggregate evaluation files and write Table 1 (PDF, CSV and LaTeX).

Every report carries its provenance: the preset, the configuration hash and the versions
of the packages that produced it.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from . import envs  # noqa: E402
from .io import atomic_path, read_json, write_text  # noqa: E402

PROVENANCE_PACKAGES = ("berl", "torch", "numpy", "dm-control", "mujoco", "snakemake")
ROW_KEYS = ["domain", "dataset", "algorithm"]  # one row each in the full table
KEYS = ROW_KEYS + ["task"]
# Dataset families of Table 1, in its column order; "random" is our extra baseline.
FAMILIES = ["BE", "Rényi", "Shannon", "SMM", "RND", "ExORL", "random"]


def family_of(spec: dict) -> str:
    """A dataset's family. BE with alpha = 1 (and beta = 1) is Shannon's objective."""
    agent = spec["agent"]
    if agent == "apt":
        if spec["reward"] == "be":
            shannon = spec["alpha"] == 1 and spec.get("beta", 1) == 1
            return "Shannon" if shannon else "BE"
        return {"renyi": "Rényi", "shannon": "Shannon"}[spec["reward"]]
    return {"random": "random", "smm": "SMM", "rnd": "RND", "exorl": "ExORL"}[agent]


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


# ----------------------------------------------------------------------------- returns


def aggregate(eval_files: list[Path], out_csv: Path, datasets: list[dict]) -> pd.DataFrame:
    """One row per (dataset, algorithm, task, seed): the final evaluation's mean episode
    return (``return``), the best mean return over the learning curve (``best_return``),
    and the dataset's family and its alpha (BE) or q (Rényi) from ``datasets`` (the
    configuration's dataset entries)."""
    specs = {spec["name"]: spec for spec in datasets}
    rows = []
    for path in eval_files:
        result = read_json(path)
        if result["dataset"] not in specs:
            raise ValueError(f"{path}: dataset {result['dataset']!r} is not in the configuration")
        spec = specs[result["dataset"]]
        episodes = len(result["curve"][-1]["returns"][0])
        for member, final, best in zip(
            result["members"], result["final_return"], result["best_return"], strict=True
        ):
            rows.append({
                "domain": envs.domain_of(member["task"]),
                "dataset": result["dataset"],
                "family": family_of(spec),
                "alpha": spec.get("alpha", np.nan),  # the schema allows alpha with BE only
                "q": spec.get("q", np.nan),
                "algorithm": result["algorithm"],
                "task": member["task"],
                "seed": member["seed"],
                "return": final,
                "best_return": best,
                "episodes": episodes,
            })
    if not rows:
        raise ValueError("no evaluation results to aggregate")
    frame = pd.DataFrame(rows)
    frame["domain"] = pd.Categorical(frame["domain"], categories=envs.DOMAINS, ordered=True)
    # Domains in a fixed order; within a domain, rows keep the order of the files given
    # (the configuration's order of datasets, algorithms and tasks).
    frame = frame.sort_values("domain", kind="stable", ignore_index=True)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def seed_statistics(returns: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof=0) and count of ``return`` over seeds, per ``keys``."""
    return (
        returns.groupby(keys, sort=False, observed=True, dropna=False)["return"]
        .agg(mean="mean", std=lambda r: r.std(ddof=0), seeds="count")
        .reset_index()
    )


def summarise(returns: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """The full table: one row per (domain, dataset, algorithm), mean and std per task."""
    stats = seed_statistics(returns, KEYS)
    wide = stats.pivot_table(index=ROW_KEYS, columns="task", values=["mean", "std"],
                             sort=False, observed=True)
    columns = {}
    for task in tasks:
        for stat in ("mean", "std"):
            columns[f"{task}_{stat}"] = wide[(stat, task)] if (stat, task) in wide else float("nan")
    table = pd.DataFrame(columns, index=wide.index).reset_index()
    seeds = stats.groupby(ROW_KEYS, sort=False, observed=True)["seeds"].min()
    return table.merge(seeds.rename("seeds").reset_index(), on=ROW_KEYS)


def family_best(returns: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """The paper's Table 1: per task and family, the best (dataset, algorithm) by mean
    return over seeds, with that pair's mean and std."""
    stats = seed_statistics(returns, ["task", "family", "dataset", "algorithm"])
    best = stats.loc[stats.groupby(["task", "family"], sort=False)["mean"].idxmax()]
    best = best[best.task.isin(tasks)]
    order = {task: i for i, task in enumerate(tasks)} | {f: i for i, f in enumerate(FAMILIES)}
    return best.sort_values(["task", "family"], key=lambda col: col.map(order)).reset_index(drop=True)


def _cell(mean: float, std: float) -> str:
    return "–" if pd.isna(mean) else f"{mean:.1f} ± {std:.1f}"


def _tex(cell: str) -> str:
    return cell.replace("±", r"$\pm$").replace("_", r"\_")


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
                bold: list[set[int]], meta: dict) -> None:
    fig, ax = plt.subplots(figsize=(2.0 + 1.5 * len(labels), 1.4 + 0.32 * len(rows)))
    ax.axis("off")
    ax.set_title(title)
    drawn = ax.table(cellText=rows, colLabels=labels, loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.scale(1.0, 1.4)
    for i, marks in enumerate(bold):
        for j in marks:
            drawn[i + 1, j].set_text_props(fontweight="bold")
    fig.text(0.01, 0.01, provenance_line(meta), fontsize=6, wrap=True)
    pdf.savefig(fig, bbox_inches="tight")
    plt.close(fig)


# ------------------------------------------------------------------------------ table 1


def write_table1(returns_csv: Path, tasks: list[str], out_prefix: Path, meta: dict) -> pd.DataFrame:
    """Table 1 in two parts: per task, the best return of each dataset family (best family
    in bold), then the full table of every (dataset, algorithm) and task, mean ± std over
    seeds. Writes ``<prefix>.pdf`` (one page each), ``.tex`` (both), ``.csv`` (the first)
    and ``_full.csv`` (the second)."""
    returns = pd.read_csv(returns_csv)
    best = family_best(returns, tasks)
    full = summarise(returns, tasks)
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), best, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_full.csv"), full, meta)

    families = [f for f in FAMILIES if f in set(best.family)]
    best_labels = ["task"] + families
    best_rows, best_bold = [], []
    for task in tasks:
        row = best[best.task == task].set_index("family")
        cells = [task.replace("_", " ")]
        for family in families:
            cells.append(_cell(row.at[family, "mean"], row.at[family, "std"])
                         if family in row.index else "–")
        best_rows.append(cells)
        top = row["mean"].idxmax() if len(row) else None
        best_bold.append({1 + families.index(top)} if top is not None else set())

    full_labels = ROW_KEYS + [t.replace("_", " ") for t in tasks]
    full_rows = [[row.domain, row.dataset, row.algorithm] + [
        _cell(getattr(row, f"{t}_mean"), getattr(row, f"{t}_std")) for t in tasks
    ] for row in full.itertuples()]
    full_bold = [set() for _ in full_rows]

    write_text(out_prefix.with_suffix(".tex"), (
        "% " + provenance_line(meta) + "\n"
        "% Best offline return per task and dataset family (best over datasets and algorithms)\n"
        + tex_table(best_labels, best_rows, best_bold, text_columns=1)
        + "% Every dataset and algorithm: mean $\\pm$ std over seeds\n"
        + tex_table(full_labels, full_rows, full_bold, text_columns=len(ROW_KEYS))
    ))
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        table_page(pdf, "Table 1: best offline return per dataset family (mean ± std over seeds)",
                    best_labels, best_rows, best_bold, meta)
        table_page(pdf, "Offline return per dataset, algorithm and task (mean ± std over seeds)",
                    full_labels, full_rows, full_bold, meta)
    return best
