"""Table 2: how well a few distilled pairs train a policy, per source dataset and task.

Scores are normalised (``berl.datasets.envs.normalised_score``: % of dm_control's 1000 maximum) and pool
the replicate datasets (collection seeds) with the distillation seeds (random selection: the
draws) and the evaluation seeds of each. A distilled set's score is OBD's
(``berl.distill.obd.set_score``): the mean over its last evaluated checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from berl.core.checkpoint import load_torch  # noqa: E402
from berl.core.constants import OBJECTIVES, family_of  # noqa: E402
from berl.core.io import atomic_path, read_json, write_text  # noqa: E402
from berl.datasets.envs import domain_of, normalised_score  # noqa: E402
from berl.distill.obd import ENSEMBLE, set_score, smoothed  # noqa: E402
from berl.distill.settings import ARCHITECTURES, DistillConfig  # noqa: E402
from berl.reports.common import (  # noqa: E402
    FAMILY_COLOURS, collection_seed_of, mean_std_text, provenance_line, save_figure, seed_statistics, table_page,
    tex_table, write_csv,
)


def source_of(path: Path) -> tuple[str, int]:
    """(dataset, collection seed) of a distillation result at ``<dataset>/seed<k>/<task>/<file>``."""
    return Path(path).parents[2].name, collection_seed_of(path)


# What the tables read from a distillation's result file.
DISTILLED_KEYS = ("task", "objective", "config", "final", "curve", "random_pairs", "generalisation")

BASELINE_KEYS = ("task", "whole_data_bc", "teacher")


def load_results(paths: list[Path], source=source_of) -> list[tuple[str, int, dict]]:
    """(source dataset, collection seed, distillation result) per file, the first two read
    from its path by ``source``."""
    return [(*source(p), load_torch(p, "cpu", DISTILLED_KEYS, "distillation")) for p in paths]


def dm_control_score(rows: pd.DataFrame) -> np.ndarray:
    return normalised_score(rows["return"])


COLUMNS = {"random": "random selection", "dbc": "DBC", "pbc": "PBC", "av_pbc": "Av-PBC",
           "whole_data_bc": "BC, all data", "teacher": "teacher"}
LEARNERS = {"default": "as distilled", "mlp2": "2 layers", "mlp3": "3 layers", "mlp4": "4 layers",
            "mlp5": "5 layers", "mlp6": "6 layers", "res_mlp": "residual MLP", ENSEMBLE: "10-policy ensemble"}
assert set(LEARNERS) == {"default", *ARCHITECTURES, ENSEMBLE}


def score_rows(results: list[tuple[str, int, dict]], baselines: list[Path], source=source_of,
               normalise=dm_control_score) -> pd.DataFrame:
    """One row per (dataset, collection seed, task, method, seed) with its mean return and
    its score ``normalise(rows)``, from distillation ``results`` (``load_results``) and
    baseline files (whose dataset and collection seed ``source`` reads from their paths).
    An objective's rows are its set's score (``set_score``) per distillation seed x
    evaluation seed, random selection's per draw x evaluation seed, the teacher's per
    training seed; ``seed`` numbers them."""
    rows, started = [], set()

    def add(dataset, collection_seed, task, method, returns):
        rows.extend({"dataset": dataset, "collection_seed": collection_seed, "task": task, "method": method,
                     "seed": seed, "return": value} for seed, value in enumerate(returns))

    for dataset, collection_seed, result in results:
        task = result["task"]
        add(dataset, collection_seed, task, result["objective"], set_score(result))
        if (dataset, collection_seed, task) not in started:  # every objective draws the same random pairs
            started.add((dataset, collection_seed, task))
            add(dataset, collection_seed, task, "random", result["random_pairs"])
    for path in baselines:
        result = read_json(path, BASELINE_KEYS)
        dataset, collection_seed = source(path)
        add(dataset, collection_seed, result["task"], "whole_data_bc", result["whole_data_bc"])
        add(dataset, collection_seed, result["task"], "teacher", result["teacher"])
    frame = pd.DataFrame(rows)
    frame["score"] = normalise(frame)
    return frame


def generalisation_rows(results: list[tuple[str, int, dict]]) -> pd.DataFrame:
    """One row per (dataset, collection seed, task, objective, learner, seed): the
    normalised score, over the sets of the last ``generalisation_checkpoints`` evaluated
    checkpoints, with the inner loop's learner (``default``) and each learner of OBD's
    generalisation study, where the sets were scored with them; ``seed`` numbers the
    distillation seed x evaluation seed entries."""
    rows = []
    for dataset, collection_seed, result in results:
        if not result["generalisation"]:
            continue
        default = smoothed(result["curve"], DistillConfig(**result["config"]).generalisation_checkpoints)
        for learner, returns in {"default": default, **result["generalisation"]}.items():
            rows += [{"dataset": dataset, "collection_seed": collection_seed, "task": result["task"],
                      "objective": result["objective"], "learner": learner, "seed": seed,
                      "score": float(normalised_score(value))} for seed, value in enumerate(returns)]
    return pd.DataFrame(rows, columns=["dataset", "collection_seed", "task", "objective", "learner", "seed",
                                       "score"])


def _label(key: str, value) -> str:
    """A row label: tasks with spaces, objectives by their names, datasets as configured."""
    return {"task": lambda v: v.replace("_", " "), "objective": COLUMNS.get}.get(key, str)(value)


def _wide(stats: pd.DataFrame, index: list[str], column: str, columns: list[str]) -> list[list[str]]:
    """Rows of ``index`` labels and ``mean ± std`` cells per ``columns`` value, then an
    average row (the mean over rows of each column's means, as OBD averages)."""
    rows = []
    for labels, group in stats.groupby(index, sort=False):
        cell = group.set_index(column)
        rows.append([_label(key, value) for key, value in zip(index, labels)] + [
            mean_std_text(cell.at[c, "mean"], cell.at[c, "std"]) if c in cell.index else "–" for c in columns])
    means = stats.groupby(column, sort=False)["mean"].mean()
    rows.append(["average"] + [""] * (len(index) - 1) + [f"{means[c]:.1f}" if c in means else "–" for c in columns])
    return rows


def write_table2(distilled: list[Path], baselines: list[Path], datasets: list[dict], out_prefix: Path,
                 meta: dict) -> pd.DataFrame:
    """Table 2 and OBD's generalisation table, in normalised scores (mean ± sample std over
    collection seeds x distillation seeds or random draws x evaluation seeds; the teacher
    over its training seeds).

    Page 1: per (dataset, task), random selection, DBC, PBC, Av-PBC, BC on all data and the
    teacher, the best objective in bold, and an average row. Page 2: each objective's last
    sets scored by the learners of OBD's generalisation study (where ``distill.generalisation``
    computed them). Writes ``.pdf``, ``.tex``, ``.csv`` and ``_generalisation.csv``."""
    results = load_results(distilled)
    scores = score_rows(results, baselines)
    stats = seed_statistics(scores, ["dataset", "task", "method"], value="score")
    specs = {spec["name"]: spec for spec in datasets}
    stats.insert(0, "family", [family_of(specs[d]) for d in stats.dataset])
    stats.insert(0, "domain", [domain_of(t) for t in stats.task])
    general = seed_statistics(generalisation_rows(results), ["dataset", "task", "objective", "learner"], value="score")
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), stats, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_generalisation.csv"), general, meta)
    preset = meta.get("preset", "?")

    methods = [m for m in COLUMNS if m in set(stats.method)]
    labels = ["dataset", "task"] + [COLUMNS[m] for m in methods]
    rows = _wide(stats, ["dataset", "task"], "method", methods)
    bold = []
    for (_, _), group in stats.groupby(["dataset", "task"], sort=False):
        means = group.set_index("method")["mean"]
        objectives = [m for m in OBJECTIVES if m in means.index]
        bold.append({2 + methods.index(max(objectives, key=means.get))} if objectives else set())
    bold.append(set())
    title = (f"Table 2 ({preset}): normalised score (% of 1000) of BC on distilled pairs, "
             "mean ± sample std over collection x distillation x evaluation seeds")
    if len(general):
        learners = [name for name in LEARNERS if name in set(general.learner)]
        general_labels = ["dataset", "task", "objective"] + [LEARNERS[name] for name in learners]
        general_rows = _wide(general, ["dataset", "task", "objective"], "learner", learners)
    else:
        general_labels, general_rows = ["generalisation"], [["not computed at this preset (distill.generalisation)"]]
    general_title = (f"Generalisation ({preset}): the last sets scored by other architectures (Adam) "
                     "and 10-policy ensembles, normalised score, mean ± sample std")
    write_text(out_prefix.with_suffix(".tex"), "% " + provenance_line(meta) + f"\n% {title}\n"
               + tex_table(labels, rows, bold, text_columns=2) + f"% {general_title}\n"
               + tex_table(general_labels, general_rows, [set()] * len(general_rows), text_columns=3))
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        table_page(pdf, title, labels, rows, bold, meta)
        table_page(pdf, general_title, general_labels, general_rows, [set()] * len(general_rows), meta)
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
    rows = [{"dataset": d, "task": r["task"], "size": r["config"]["synthetic"], "return": float(np.mean(set_score(r)))}
            for d, _, r in load_results(distilled)]
    frame = pd.DataFrame(rows).groupby(["dataset", "task", "size"], sort=False)["return"].mean().reset_index()
    frame = frame.sort_values("size")
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
    fig.suptitle("Av-PBC: score versus the size of the distilled set (mean over collection and evaluation seeds)", y=1.15)
    save_figure(fig, out, meta)


def write_convergence_figure(distilled: list[Path], out: Path, meta: dict) -> None:
    """Score versus outer step per objective: mean over datasets (thick), single datasets
    (thin); step 0 is random selection, whose draws include the pairs each run starts from."""
    colours = {"dbc": "tab:gray", "pbc": "tab:orange", "av_pbc": "tab:blue"}
    rows = []
    for dataset, collection_seed, result in load_results(distilled):
        points = [{"step": 0, "returns": result["random_pairs"]}] + result["curve"]
        rows += [{"dataset": dataset, "collection_seed": collection_seed, "task": result["task"],
                  "objective": result["objective"], "step": point["step"], "return": float(np.mean(point["returns"]))} for point in points]
    frame = pd.DataFrame(rows)
    tasks = list(dict.fromkeys(frame.task))
    fig, axes = _task_axes(tasks)
    for ax, task in zip(axes, tasks):
        part = frame[frame.task == task]
        for objective, group in part.groupby("objective", sort=False):
            for _, line in group.groupby(["dataset", "collection_seed"], sort=False):
                ax.plot(line.step, line["return"], color=colours[objective], alpha=0.25, linewidth=0.8)
            mean = group.groupby("step")["return"].mean()
            ax.plot(mean.index, mean.values, color=colours[objective], linewidth=2.2, marker="o",
                    label=COLUMNS[objective])
        ax.set_xlabel("outer step")
    axes[0].legend(fontsize=8)
    fig.suptitle("Distillation: score versus outer step (mean over source datasets and evaluation seeds)", y=1.04)
    save_figure(fig, out, meta)
