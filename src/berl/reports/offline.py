"""Offline RL's reports: the aggregated returns, Table 1 (PDF, CSV and LaTeX), Figure 4,
the learning curves and the IQM plot.

- Table 1: per task, the best return of each dataset family, with intervals and the fair
  one-to-one comparison of every BE dataset.
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
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from berl.core.constants import FAMILIES, family_of  # noqa: E402
from berl.core.io import atomic_path, read_json, write_text  # noqa: E402
from berl.core.stats import bootstrap_candidates, stratified_bootstrap_ci  # noqa: E402
from berl.core.validate import InputError  # noqa: E402
from berl.datasets import envs  # noqa: E402
from berl.datasets.envs import MAX_EPISODE_RETURN  # noqa: E402
from berl.reports.common import (  # noqa: E402
    FAMILY_COLOURS, RETURN_COLUMNS, collection_seed_of, interval_text, log_axis_at, mean_std_text, provenance_line,
    read_table, run_matrix, save_figure, seed_statistics, table_page, tex_table, write_csv,
)

ROW_KEYS = ["domain", "dataset", "algorithm"]  # one row each in the full table
KEYS = ROW_KEYS + ["task"]
REFERENCES = {"Shannon": "tab:green", "SMM": "tab:purple", "RND": "tab:brown"}


# What the reports read from an evaluation record (offline.evaluate.evaluation_record).
EVALUATION_KEYS = ("dataset", "algorithm", "members", "curve", "final_return", "best_return")
RANDOM_POLICY = "random policy"  # the uniform-random policy's returns, the no-learning reference


def random_policy_table(paths: list[Path], tasks: list[str], *, resamples: int = 2000) -> pd.DataFrame:
    """Per task of ``tasks``, the uniform-random policy's mean return over its episodes,
    sample std and a 95 % bootstrap interval of the mean (from ``random-reference`` records),
    indexed by task."""
    rows = []
    for path in paths:
        record = read_json(path, ("task", "returns"))
        returns = np.asarray(record["returns"], dtype=float)
        mean, low, high = stratified_bootstrap_ci([returns], np.mean, resamples=resamples)
        rows.append({"task": record["task"], "mean": mean, "std": returns.std(ddof=1) if len(returns) > 1 else np.nan,
                     "episodes": len(returns), "ci_low": low, "ci_high": high})
    table = pd.DataFrame(rows, columns=["task", "mean", "std", "episodes", "ci_low", "ci_high"]).set_index("task")
    missing = [task for task in tasks if task not in table.index]
    if missing:
        raise InputError(f"no random-policy reference for {', '.join(missing)} among {', '.join(map(str, paths))}")
    return table.loc[tasks]


def beyond_random(best: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per task, the best family's mean and interval against the random policy's: whether
    learning shows (the intervals do not overlap and the best is above)."""
    rows = []
    for task, part in best.groupby("task", sort=False):
        top = part.loc[part["mean"].idxmax()]
        ref = reference.loc[task]
        verdict = ("no interval" if np.isnan(top.ci_low)
                   else "above" if top.ci_low > ref.ci_high else "below" if top.ci_high < ref.ci_low else "overlap")
        rows.append({"task": task, "best_family": top.family, "best_winner": top.winner, "best_mean": top["mean"],
                     "best_ci_low": top.ci_low, "best_ci_high": top.ci_high, "random_mean": ref["mean"],
                     "random_ci_low": ref.ci_low, "random_ci_high": ref.ci_high, "learning": verdict})
    return pd.DataFrame(rows)


def aggregate(eval_files: list[Path], out_csv: Path, datasets: list[dict]) -> pd.DataFrame:
    """One row per (dataset, collection seed, algorithm, task, seed): the final evaluation's
    mean episode return (``return``), the best mean return over the learning curve
    (``best_return``), and the dataset's family and its alpha (BE) or q (Rényi) from
    ``datasets`` (the configuration's dataset entries). The collection seed is the
    ``seed<k>`` folder of each file."""
    specs = {spec["name"]: spec for spec in datasets}
    rows = []
    for path in eval_files:
        result = read_json(path, EVALUATION_KEYS)
        if result["dataset"] not in specs:
            raise InputError(f"{path}: dataset {result['dataset']!r} is not in the configuration")
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
        raise InputError("no evaluation results to aggregate")
    frame = pd.DataFrame(rows)
    frame["domain"] = pd.Categorical(frame["domain"], categories=envs.DOMAINS, ordered=True)
    # Domains in a fixed order; within a domain, rows keep the order of the files given
    # (the configuration's order of datasets, algorithms and tasks).
    frame = frame.sort_values("domain", kind="stable", ignore_index=True)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


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


def write_table1(returns_csv: Path, tasks: list[str], random_reference: list[Path], out_prefix: Path,
                 meta: dict) -> pd.DataFrame:
    """Table 1 and its companions. Pages of ``<prefix>.pdf`` (all also in ``.tex``):

    1. per task, the best return of each dataset family, mean ± sample std over runs, its
       winning dataset (α or q) and algorithm in small print, the best family in bold, and
       the uniform-random policy's return (mean ± std over its episodes) as the reference;
    2. the same cells as 95 % bootstrap intervals of the family's best mean (the random
       policy's: of its mean over episodes);
    3. the fair comparison: each BE dataset against each other dataset, per algorithm,
       summarised over tasks, then (page 4) task by task with paired intervals;
    5. every (dataset, algorithm) and task, mean ± std over runs.

    CSVs: ``.csv`` (page 1 with the intervals), ``_fair.csv`` (page 4), ``_full.csv``
    (page 5) and ``_random.csv`` (per task, the best family against the random policy)."""
    returns = read_table(returns_csv, RETURN_COLUMNS)
    best = family_best(returns, tasks)
    reference = random_policy_table(random_reference, tasks)
    fair = fair_comparison(returns, tasks)
    full = summarise(returns, tasks)
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), best, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_fair.csv"), fair, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_full.csv"), full, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_random.csv"), beyond_random(best, reference), meta)
    preset = meta.get("preset", "?")
    runs = f"{returns.collection_seed.nunique()} collection x {returns.seed.nunique()} training seeds"

    families = [f for f in FAMILIES if f in set(best.family)]
    best_labels = ["task"] + families + [RANDOM_POLICY]
    best_rows, best_bold = _best_rows(best, tasks, families,
                                      lambda r: f"{mean_std_text(r['mean'], r['std'])}\n{r['winner']}")
    ci_rows, ci_bold = _best_rows(best, tasks, families,
                                  lambda r: interval_text(r["mean"], r["ci_low"], r["ci_high"]))
    for task, best_row, ci_row in zip(tasks, best_rows, ci_rows):
        ref = reference.loc[task]
        best_row.append(f"{mean_std_text(ref['mean'], ref['std'])}\n{ref.episodes:.0f} episodes")
        ci_row.append(interval_text(ref["mean"], ref.ci_low, ref.ci_high))
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


def _random_policy_lines(axes, tasks: list[str], reference: pd.DataFrame) -> None:
    """The uniform-random policy's mean return as a dotted line in every panel of its task's row."""
    for row, task in zip(axes, tasks):
        for ax in row:
            ax.axhline(reference.at[task, "mean"], linestyle=":", color="black", linewidth=1.2, label=RANDOM_POLICY)


def write_fig4(returns_csv: Path, random_reference: list[Path], out: Path, meta: dict) -> None:
    """Return versus alpha (BE, every APT-BE dataset) and q (Rényi), mean ± std over seeds,
    with APT-Shannon, SMM, RND and the uniform-random policy as horizontal reference lines."""
    returns = read_table(returns_csv, RETURN_COLUMNS)
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
                log_axis_at(ax, ticks)  # ticks at the grid's own α and q
            else:  # a grid of, e.g., ExORL datasets only: nothing to sweep, references only
                ax.text(0.5, 0.5, "no BE or Rényi datasets", transform=ax.transAxes, ha="center")
            ax.grid(alpha=0.3)
    _random_policy_lines(axes, tasks, random_policy_table(random_reference, tasks))
    _finish_grid(fig, axes, "α (BE) or q (Rényi)",
                 "Offline return versus α and q (mean ± std over seeds)")
    save_figure(fig, out, meta)


def write_learning_curves(eval_files: list[Path], datasets: list[dict], random_reference: list[Path], out: Path,
                          meta: dict) -> None:
    """Mean evaluation return over seeds versus gradient step, one line per dataset,
    coloured by family, per task (rows) and algorithm (columns), with the uniform-random
    policy's return as a dotted line."""
    family = {spec["name"]: family_of(spec) for spec in datasets}
    rows = []
    for path in eval_files:
        result = read_json(path, EVALUATION_KEYS)
        for point in result["curve"]:
            for member, returns in zip(result["members"], point["returns"], strict=True):
                rows.append({"task": member["task"], "algorithm": result["algorithm"],
                             "dataset": result["dataset"], "step": point["step"],
                             "return": float(np.mean(returns))})
    if not rows:
        raise InputError("no learning curves to draw")
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
    _random_policy_lines(axes, tasks, random_policy_table(random_reference, tasks))
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
    table = iqm_table(read_table(returns_csv, RETURN_COLUMNS))
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
