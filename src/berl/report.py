"""Aggregate evaluation files and write the report tables (PDF, CSV and LaTeX).

Every report carries its provenance: the preset, the configuration hash and the versions
of the packages that produced it.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import envs  # noqa: E402
from .io import atomic_path, read_json, write_text  # noqa: E402

PROVENANCE_PACKAGES = ("berl", "torch", "numpy", "dm-control", "mujoco", "snakemake")
ROW_KEYS = ["domain", "dataset", "algorithm"]  # one table row each
KEYS = ROW_KEYS + ["task"]


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


# ----------------------------------------------------------------------------- returns


def aggregate(eval_files: list[Path], out_csv: Path) -> pd.DataFrame:
    """One row per (dataset, algorithm, task, seed): the final evaluation's mean episode
    return (``return``) and the best mean return over the learning curve (``best_return``)."""
    rows = []
    for path in eval_files:
        result = read_json(path)
        episodes = len(result["curve"][-1]["returns"][0])
        for member, final, best in zip(
            result["members"], result["final_return"], result["best_return"], strict=True
        ):
            rows.append({
                "domain": envs.domain_of(member["task"]),
                "dataset": result["dataset"],
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


def summarise(returns: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Mean and standard deviation (over seeds, ddof=0) per dataset row and task column."""
    stats = (
        returns.groupby(KEYS, sort=False)["return"]
        .agg(mean="mean", std=lambda r: r.std(ddof=0), seeds="count")
        .reset_index()
    )
    wide = stats.pivot_table(index=ROW_KEYS, columns="task",
                             values=["mean", "std"], sort=False)
    columns = {}
    for task in tasks:
        for stat in ("mean", "std"):
            columns[f"{task}_{stat}"] = wide[(stat, task)] if (stat, task) in wide else float("nan")
    table = pd.DataFrame(columns, index=wide.index).reset_index()
    seeds = stats.groupby(ROW_KEYS, sort=False)["seeds"].min()
    return table.merge(seeds.rename("seeds").reset_index(), on=ROW_KEYS)


def _cell(mean: float, std: float) -> str:
    return "–" if pd.isna(mean) else f"{mean:.1f} ± {std:.1f}"


# ------------------------------------------------------------------------------ table 1


def write_table1(returns_csv: Path, tasks: list[str], out_prefix: Path, meta: dict) -> pd.DataFrame:
    """Table 1: one row per dataset (and algorithm), one column per task, mean ± std."""
    table = summarise(pd.read_csv(returns_csv), tasks)
    out_prefix = Path(out_prefix)
    header = "".join(f"# {key}: {value}\n" for key, value in meta.items())

    with atomic_path(out_prefix.with_suffix(".csv")) as tmp:
        tmp.write_text(header + table.to_csv(index=False, float_format="%.4f"))

    cells = [[row.domain, row.dataset, row.algorithm] + [
        _cell(getattr(row, f"{t}_mean"), getattr(row, f"{t}_std")) for t in tasks
    ] for row in table.itertuples()]
    labels = ROW_KEYS + [t.replace("_", " ") for t in tasks]

    tex_rows = "\n".join(
        "    " + " & ".join(c.replace("±", r"$\pm$").replace("_", r"\_") for c in row) + r" \\"
        for row in cells
    )
    write_text(out_prefix.with_suffix(".tex"), (
        "% " + provenance_line(meta) + "\n"
        r"\begin{tabular}{lll" + "r" * len(tasks) + "}\n"
        r"    \toprule" + "\n"
        "    " + " & ".join(labels) + r" \\" + "\n"
        r"    \midrule" + "\n" + tex_rows + "\n"
        r"    \bottomrule" + "\n"
        r"\end{tabular}" + "\n"
    ))

    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * len(tasks), 1.4 + 0.35 * len(cells)))
    ax.axis("off")
    ax.set_title("Table 1: offline return per dataset and task (mean ± std over seeds)")
    drawn = ax.table(cellText=cells, colLabels=labels, loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.scale(1.0, 1.4)
    fig.text(0.01, 0.01, provenance_line(meta), fontsize=6, wrap=True)
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    return table
