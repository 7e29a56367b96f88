"""Table 2: how well a few distilled pairs train a policy, per source dataset and task."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from .envs import domain_of  # noqa: E402
from .figures import FAMILY_COLOURS, save_figure  # noqa: E402
from .io import atomic_path, read_json, write_text  # noqa: E402
from .report import family_of, provenance_line, table_page, tex_table, write_csv  # noqa: E402

def _load(paths: list[Path]) -> list[tuple[str, dict]]:
    """(source dataset, distillation result) per file (the dataset is the folder above the task's)."""
    return [(Path(p).parent.parent.name, torch.load(p, map_location="cpu", weights_only=False)) for p in paths]


COLUMNS = {"random": "random pairs", "dbc": "DBC", "pbc": "PBC", "av_pbc": "Av-PBC",
           "whole_data_bc": "BC, all data", "teacher": "teacher"}


def score_rows(distilled: list[Path], baselines: list[Path]) -> pd.DataFrame:
    """One row per (dataset, task, method, evaluation seed) with its mean return."""
    rows, started = [], set()
    for dataset, result in _load(distilled):
        task = result["task"]
        scored = [(result["objective"], result["final"])]
        if (dataset, task) not in started:  # every objective starts from the same random pairs
            started.add((dataset, task))
            scored.append(("random", result["random_pairs"]))
        for method, returns in scored:
            rows += [{"dataset": dataset, "task": task, "method": method, "seed": seed,
                      "return": value} for seed, value in enumerate(returns)]
    for path in baselines:
        result = read_json(path)
        dataset = Path(path).parent.parent.name
        rows += [{"dataset": dataset, "task": result["task"], "method": "whole_data_bc", "seed": seed,
                  "return": value} for seed, value in enumerate(result["whole_data_bc"])]
        if result["teacher"] is not None:
            rows.append({"dataset": dataset, "task": result["task"], "method": "teacher", "seed": 0,
                         "return": result["teacher"]})
    return pd.DataFrame(rows)


def write_table2(distilled: list[Path], baselines: list[Path], datasets: list[dict], out_prefix: Path,
                 meta: dict) -> pd.DataFrame:
    """Mean ± std over evaluation seeds per (dataset, task) and method; the best
    distillation objective of a row in bold. Writes ``.pdf``, ``.tex`` and ``.csv``."""
    scores = score_rows(distilled, baselines)
    stats = (scores.groupby(["dataset", "task", "method"], sort=False)["return"]
             .agg(mean="mean", std=lambda r: r.std(ddof=0), seeds="count").reset_index())
    specs = {spec["name"]: spec for spec in datasets}
    stats.insert(0, "family", [family_of(specs[d]) for d in stats.dataset])
    stats.insert(0, "domain", [domain_of(t) for t in stats.task])
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), stats, meta)

    methods = [m for m in COLUMNS if m in set(stats.method)]
    labels = ["dataset", "task"] + [COLUMNS[m] for m in methods]
    rows, bold = [], []
    for (dataset, task), group in stats.groupby(["dataset", "task"], sort=False):
        cell = group.set_index("method")
        rows.append([dataset, task.replace("_", " ")] + [
            f"{cell.at[m, 'mean']:.1f} ± {cell.at[m, 'std']:.1f}" if m in cell.index else "–"
            for m in methods])
        objectives = [m for m in ("dbc", "pbc", "av_pbc") if m in cell.index]
        top = max(objectives, key=lambda m: cell.at[m, "mean"]) if objectives else None
        bold.append({2 + methods.index(top)} if top else set())
    title = "Table 2: return of BC on distilled pairs, per source dataset (mean ± std over seeds)"
    write_text(out_prefix.with_suffix(".tex"), "% " + provenance_line(meta) + f"\n% {title}\n"
               + tex_table(labels, rows, bold, text_columns=2))
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        table_page(pdf, title, labels, rows, bold, meta)
    return stats
def _task_axes(tasks: list[str]):
    fig, axes = plt.subplots(1, len(tasks), squeeze=False, figsize=(4.2 * len(tasks), 3.2))
    for ax, task in zip(axes[0], tasks):
        ax.set_title(task.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("return of BC on the set")
    return fig, axes[0]


def write_size_figure(distilled: list[Path], datasets: list[dict], out: Path, meta: dict) -> None:
    """Av-PBC score versus N_syn, one line per source dataset in its family's colour."""
    specs = {spec["name"]: spec for spec in datasets}
    rows = [{"dataset": d, "task": r["task"], "size": r["config"]["synthetic"], "return": float(np.mean(r["final"]))}
            for d, r in _load(distilled)]
    frame = pd.DataFrame(rows).sort_values("size")
    tasks = list(dict.fromkeys(frame.task))
    fig, axes = _task_axes(tasks)
    for ax, task in zip(axes, tasks):
        for dataset, line in frame[frame.task == task].groupby("dataset", sort=False):
            family = family_of(specs[dataset])
            ax.plot(line["size"], line["return"], marker="o", color=FAMILY_COLOURS[family], label=family)
        ax.set_xscale("log")
        ax.set_xticks(sorted(set(frame["size"])), [str(n) for n in sorted(set(frame["size"]))])
        ax.minorticks_off()
        ax.set_xlabel("synthetic pairs N_syn")
    handles = dict(zip(*reversed(axes[0].get_legend_handles_labels())))
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 1.08))
    fig.suptitle("Av-PBC: score versus the size of the distilled set (mean over evaluation seeds)", y=1.15)
    save_figure(fig, out, meta)


def write_convergence_figure(distilled: list[Path], out: Path, meta: dict) -> None:
    """Score versus outer step per objective: mean over datasets (thick), single datasets (thin)."""
    colours = {"dbc": "tab:gray", "pbc": "tab:orange", "av_pbc": "tab:blue"}
    rows = []
    for dataset, result in _load(distilled):
        points = [{"step": 0, "returns": result["random_pairs"]}] + result["curve"]
        rows += [{"dataset": dataset, "task": result["task"], "objective": result["objective"],
                  "step": point["step"], "return": float(np.mean(point["returns"]))} for point in points]
    frame = pd.DataFrame(rows)
    tasks = list(dict.fromkeys(frame.task))
    fig, axes = _task_axes(tasks)
    for ax, task in zip(axes, tasks):
        part = frame[frame.task == task]
        for objective, group in part.groupby("objective", sort=False):
            for _, line in group.groupby("dataset", sort=False):
                ax.plot(line.step, line["return"], color=colours[objective], alpha=0.25, linewidth=0.8)
            mean = group.groupby("step")["return"].mean()
            ax.plot(mean.index, mean.values, color=colours[objective], linewidth=2.2, marker="o",
                    label=COLUMNS[objective])
        ax.set_xlabel("outer step")
    axes[0].legend(fontsize=8)
    fig.suptitle("Distillation: score versus outer step (mean over source datasets and evaluation seeds)", y=1.04)
    save_figure(fig, out, meta)
