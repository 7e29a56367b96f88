"""Aggregate evaluation files and write Table 1 (PDF, CSV and LaTeX).

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

from . import envs  # noqa: E402
from .io import atomic_path, read_json, write_text  # noqa: E402
from .stats import MIN_BOOTSTRAP_RUNS, bootstrap_candidates  # noqa: E402

PROVENANCE_PACKAGES = ("berl", "torch", "numpy", "dm-control", "mujoco", "snakemake")
ROW_KEYS = ["domain", "dataset", "algorithm"]  # one row each in the full table
KEYS = ROW_KEYS + ["task"]
RUN_KEYS = ["collection_seed", "seed"]  # one run: a replicate dataset and a training seed
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


def collection_seed_of(path: Path) -> int:
    """The collection seed of a result: the ``seed<k>`` folder its path runs through."""
    for part in reversed(Path(path).parts[:-1]):
        if re.fullmatch(r"seed\d+", part):
            return int(part[4:])
    raise ValueError(f"{path}: no seed<k> folder (the collection seed) in the path")


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
    """One row per (dataset, collection seed, algorithm, task, seed): the final evaluation's
    mean episode return (``return``), the best mean return over the learning curve
    (``best_return``), and the dataset's family and its alpha (BE) or q (Rényi) from
    ``datasets`` (the configuration's dataset entries). The collection seed is the
    ``seed<k>`` folder of each file."""
    specs = {spec["name"]: spec for spec in datasets}
    rows = []
    for path in eval_files:
        result = read_json(path)
        if result["dataset"] not in specs:
            raise ValueError(f"{path}: dataset {result['dataset']!r} is not in the configuration")
        spec = specs[result["dataset"]]
        collection_seed = collection_seed_of(path)
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
                "collection_seed": collection_seed,
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
        raise ValueError("candidates were not run with the same collection and training seeds: "
                         "paired comparisons need every run of every candidate")
    return matrix


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
    runs = stats.groupby(ROW_KEYS, sort=False, observed=True)["runs"].min()
    return table.merge(runs.rename("runs").reset_index(), on=ROW_KEYS)


def winner_label(dataset: str, alpha: float, q: float, algorithm: str) -> str:
    """A cell's winner in small print: BE's alpha or Rényi's q (else the dataset) and the algorithm."""
    source = f"α={alpha:g}" if pd.notna(alpha) else f"q={q:g}" if pd.notna(q) else dataset
    return f"{source}, {algorithm.upper()}"


def family_best(returns: pd.DataFrame, tasks: list[str], *, resamples: int = 2000) -> pd.DataFrame:
    """The paper's Table 1: per task and family, the best (dataset, algorithm) by mean
    return over runs, with that pair's mean, sample std and runs, and a 95 % bootstrap
    interval of the family's best mean (``ci_low``, ``ci_high``) that reselects the best
    pair in every resample, so the selection's optimism is inside the interval."""
    stats = seed_statistics(returns, ["task", "family", "dataset", "algorithm", "alpha", "q"])
    best = stats.loc[stats.groupby(["task", "family"], sort=False)["mean"].idxmax()]
    best = best[best.task.isin(tasks)].copy()
    intervals = []
    for row in best.itertuples():
        part = returns[(returns.task == row.task) & (returns.family == row.family)]
        matrix = run_matrix(part, ["dataset", "algorithm"]).to_numpy()
        intervals.append(bootstrap_candidates([matrix], lambda m: m[0].max(axis=1), resamples=resamples)[1:])
    best["ci_low"], best["ci_high"] = zip(*intervals) if intervals else ((), ())
    best["winner"] = [winner_label(r.dataset, r.alpha, r.q, r.algorithm) for r in best.itertuples()]
    order = {task: i for i, task in enumerate(tasks)} | {f: i for i, f in enumerate(FAMILIES)}
    return best.sort_values(["task", "family"], key=lambda col: col.map(order)).reset_index(drop=True)


def outcome(low: float, high: float) -> str:
    """A difference's outcome from its interval: ``better``, ``worse``, ``tie`` (the interval
    holds 0) or ``no interval`` (too few runs)."""
    if np.isnan(low):
        return "no interval"
    return "better" if low > 0 else "worse" if high < 0 else "tie"


def fair_comparison(returns: pd.DataFrame, tasks: list[str], *, resamples: int = 2000) -> pd.DataFrame:
    """Every BE dataset against every dataset of another family, one candidate each, per
    algorithm and task: the difference of mean returns (BE minus the other) with a 95 %
    paired bootstrap interval over runs, and its ``outcome``. Unlike best-of-family, no
    family has more candidates."""
    rows = []
    for (task, algorithm), part in returns[returns.task.isin(tasks)].groupby(["task", "algorithm"], sort=False):
        matrix = run_matrix(part, ["dataset", "family"])
        names = list(matrix.index)
        values = matrix.to_numpy()
        for i, (be, family) in enumerate(names):
            if family != "BE":
                continue
            for j, (other, other_family) in enumerate(names):
                if other_family == "BE":
                    continue
                difference, low, high = bootstrap_candidates(
                    [values[[i, j]]], lambda m: m[0][:, 0] - m[0][:, 1], resamples=resamples)
                rows.append({"task": task, "algorithm": algorithm, "be_dataset": be, "other": other,
                             "other_family": other_family, "difference": difference,
                             "ci_low": low, "ci_high": high,
                             "outcome": outcome(low, high)})
    return pd.DataFrame(rows, columns=["task", "algorithm", "be_dataset", "other", "other_family",
                                       "difference", "ci_low", "ci_high", "outcome"])


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


def _tex(cell: str) -> str:
    return cell.replace("±", r"$\pm$").replace("_", r"\_").replace("α", r"$\alpha$")


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


# ------------------------------------------------------------------------------ table 1


def _best_rows(best: pd.DataFrame, tasks: list[str], families: list[str], cell) -> tuple[list, list]:
    """Rows of a per-task, per-family table with cells ``cell(row)``; the best family bold."""
    rows, bold = [], []
    for task in tasks:
        part = best[best.task == task].set_index("family")
        rows.append([task.replace("_", " ")] + [cell(part.loc[f]) if f in part.index else "–" for f in families])
        top = part["mean"].idxmax() if len(part) else None
        bold.append({1 + families.index(top)} if top is not None else set())
    return rows, bold


def fair_summary(fair: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The fair comparison as one row per (algorithm, BE dataset) and a column per other
    dataset: mean difference over tasks and the better–worse–tie counts over tasks."""
    others = list(dict.fromkeys(fair.other))
    rows = []
    for (algorithm, be), part in fair.groupby(["algorithm", "be_dataset"], sort=False):
        cells = []
        for other in others:
            pair = part[part.other == other]
            counts = [int((pair.outcome == o).sum()) for o in ("better", "worse", "tie")]
            tally = "no interval" if pair.outcome.eq("no interval").all() else "–".join(map(str, counts))
            cells.append(f"{pair.difference.mean():+.1f} ({tally})")
        rows.append([algorithm.upper(), be] + cells)
    return ["algorithm", "BE dataset"] + others, rows


def fair_details(fair: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The fair comparison per task: each difference with its 95 % paired interval."""
    others = list(dict.fromkeys(fair.other))
    rows = []
    for (task, algorithm, be), part in fair.groupby(["task", "algorithm", "be_dataset"], sort=False):
        cell = part.set_index("other")
        rows.append([task.replace("_", " "), algorithm.upper(), be] + [
            interval_text(cell.at[o, "difference"], cell.at[o, "ci_low"], cell.at[o, "ci_high"], signed=True)
            if o in cell.index else "–" for o in others])
    return ["task", "algorithm", "BE dataset"] + others, rows


def write_table1(returns_csv: Path, tasks: list[str], out_prefix: Path, meta: dict) -> pd.DataFrame:
    """Table 1 and its companions. Pages of ``<prefix>.pdf`` (all also in ``.tex``):

    1. per task, the best return of each dataset family, mean ± sample std over runs, its
       winning dataset (α or q) and algorithm in small print, the best family in bold;
    2. the same cells as 95 % bootstrap intervals of the family's best mean;
    3. the fair comparison: each BE dataset against each other dataset, per algorithm,
       summarised over tasks, then (page 4) task by task with paired intervals;
    5. every (dataset, algorithm) and task, mean ± std over runs.

    CSVs: ``.csv`` (page 1 with the intervals), ``_fair.csv`` (page 4) and ``_full.csv``
    (page 5)."""
    returns = pd.read_csv(returns_csv)
    best = family_best(returns, tasks)
    fair = fair_comparison(returns, tasks)
    full = summarise(returns, tasks)
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), best, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_fair.csv"), fair, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_full.csv"), full, meta)
    preset = meta.get("preset", "?")
    runs = f"{returns.collection_seed.nunique()} collection x {returns.seed.nunique()} training seeds"

    families = [f for f in FAMILIES if f in set(best.family)]
    best_labels = ["task"] + families
    best_rows, best_bold = _best_rows(best, tasks, families,
                                      lambda r: f"{mean_std_text(r['mean'], r['std'])}\n{r['winner']}")
    ci_rows, ci_bold = _best_rows(best, tasks, families,
                                  lambda r: interval_text(r["mean"], r["ci_low"], r["ci_high"]))
    fair_labels, fair_rows = fair_summary(fair) if len(fair) else (["BE dataset"], [["no BE datasets"]])
    detail_labels, detail_rows = fair_details(fair) if len(fair) else (["BE dataset"], [["no BE datasets"]])
    full_labels = ROW_KEYS + [t.replace("_", " ") for t in tasks]
    full_rows = [[row.domain, row.dataset, row.algorithm] + [
        mean_std_text(getattr(row, f"{t}_mean"), getattr(row, f"{t}_std")) for t in tasks
    ] for row in full.itertuples()]
    no_bold = [set() for _ in range(max(len(full_rows), len(detail_rows)))]

    titles = [
        f"Table 1 ({preset}): best offline return per dataset family, mean ± sample std over {runs}",
        f"Table 1 ({preset}): 95 % bootstrap interval of each family's best mean (best reselected per resample)",
        f"Fair comparison ({preset}): BE dataset minus other dataset, mean over tasks "
        "(tasks where BE is better–worse–tied, 95 % paired bootstrap)",
        f"Fair comparison per task ({preset}): BE dataset minus other dataset, 95 % paired bootstrap interval",
        f"Offline return per dataset, algorithm and task ({preset}), mean ± sample std over {runs}",
    ]
    pages = [
        (best_labels, best_rows, best_bold, 1),
        (best_labels, ci_rows, ci_bold, 1),
        (fair_labels, fair_rows, no_bold[:len(fair_rows)], 2),
        (detail_labels, detail_rows, no_bold[:len(detail_rows)], 3),
        (full_labels, full_rows, no_bold[:len(full_rows)], len(ROW_KEYS)),
    ]
    tex = "% " + provenance_line(meta) + "\n"
    for title, (labels, rows, bold, text_columns) in zip(titles, pages):
        tex_rows = [[c.replace("\n", " {\\scriptsize (") + ")}" if "\n" in c else c for c in row] for row in rows]
        tex += f"% {title}\n" + tex_table(labels, tex_rows, bold, text_columns)
    write_text(out_prefix.with_suffix(".tex"), tex)
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        for title, (labels, rows, bold, _) in zip(titles, pages):
            table_page(pdf, title, labels, rows, bold, meta)
    return best
