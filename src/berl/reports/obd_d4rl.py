"""OBD's Table 1 on its own benchmark: D4RL normalised scores beside the published ones.

Rows: random selection (``random_draws`` draws of random real pairs, among them the pairs
each distillation starts from), DBC, PBC, Av-PBC (OBD's smoothed score of each set,
``berl.distill.obd.set_score``), BC on the whole dataset and the teacher; columns: the
datasets in OBD's order and their average. A cell is our mean ± sample std over the
distillation seeds (random selection: the draws) x evaluation seeds (policies trained on a
set; the teacher over its training seeds), with OBD's number beside it.
Scores are D4RL's normalised scores, from each dataset's reference returns (its info file).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from berl.core.constants import OBJECTIVES  # noqa: E402
from berl.core.io import atomic_path, read_json, write_text  # noqa: E402
from berl.datasets.d4rl import normalised_score  # noqa: E402
from berl.reports.common import mean_std_text, provenance_line, seed_statistics, table_page, tex_table, write_csv  # noqa: E402
from berl.reports.distill import COLUMNS, load_results, score_rows  # noqa: E402

# OBD's Table 1 (N_syn = 256, D4RL v2), by method and (environment, level).
ENVIRONMENTS = {"halfcheetah": "HC", "hopper": "Hop", "walker2d": "W2d"}
LEVELS = {"medium-replay": "M-R", "medium": "M", "medium-expert": "M-E"}
PUBLISHED_ROWS = {
    "random": [0.9, 1.8, 2.0, 19.1, 19.2, 11.6, 1.9, 4.9, 6.7],
    "dbc": [2.5, 28.2, 29.0, 12.1, 37.8, 31.1, 6.1, 29.3, 11.7],
    "pbc": [19.4, 30.9, 20.5, 35.6, 25.1, 33.4, 41.5, 33.2, 34.0],
    "av_pbc": [35.9, 36.9, 22.0, 40.9, 32.5, 38.7, 55.0, 39.5, 42.1],
    "whole_data_bc": [14.0, 42.3, 59.8, 22.9, 50.2, 51.7, 14.6, 65.9, 89.6],
    "teacher": [45.8, 47.6, 50.8, 98.0, 56.4, 107.3, 87.4, 84.0, 109.0],
}
PUBLISHED_AVERAGE = {"random": 7.6, "dbc": 20.9, "pbc": 30.4, "av_pbc": 38.2, "whole_data_bc": 45.7, "teacher": 70.1}
PUBLISHED_COLUMNS = [(env, level) for env in ENVIRONMENTS for level in LEVELS]
PUBLISHED = {method: dict(zip(PUBLISHED_COLUMNS, values)) for method, values in PUBLISHED_ROWS.items()}
ROWS = {"random": "random selection", **{m: COLUMNS[m] for m in (*OBJECTIVES, "whole_data_bc")},
        "teacher": "teacher"}


def d4rl_source(path: Path) -> tuple[str, int]:
    """(dataset folder, 0) of a result at ``d4rl/<dataset>/distill/<file>``: one dataset
    per D4RL name, so a single collection seed."""
    return Path(path).parents[1].name, 0


def level_of(info: dict) -> tuple[str, str]:
    """(environment, data level) of a dataset's info: ``hopper-medium-replay-v2`` ->
    (hopper, medium-replay); a Minari id ``mujoco/hopper/medium-v0`` -> (hopper, medium)."""
    name = info["dataset"]
    stem = name.split("/")[-1] if "/" in name else name.split("-", 1)[1]
    return info["environment"], stem.rsplit("-v", 1)[0]


def d4rl_scores(info_paths: list[Path], distilled: list[Path], baselines: list[Path]) -> pd.DataFrame:
    """One row per (dataset, method, seed): its mean return and D4RL normalised score."""
    infos = {Path(path).parent.name: read_json(path) for path in info_paths}

    def normalise(rows: pd.DataFrame):
        references = rows.dataset.map(lambda d: (infos[d]["reference_returns"]["random"],
                                                 infos[d]["reference_returns"]["expert"]))
        return [float(normalised_score(value, reference)) for value, reference in zip(rows["return"], references)]

    scores = score_rows(load_results(distilled, d4rl_source), baselines, d4rl_source, normalise)
    scores.insert(1, "name", scores.dataset.map(lambda d: infos[d]["dataset"]))
    levels = scores.dataset.map(lambda d: level_of(infos[d]))
    scores.insert(2, "environment", [env for env, _ in levels])
    scores.insert(3, "level", [level for _, level in levels])
    return scores


def _order(first: pd.DataFrame) -> list[str]:
    """Dataset folders (``first``: one row per dataset, as configured) in OBD's column
    order, others after them as configured."""
    rank = {column: i for i, column in enumerate(PUBLISHED_COLUMNS)}
    datasets = list(first.index)
    return sorted(datasets, key=lambda d: rank.get((first.at[d, "environment"], first.at[d, "level"]),
                                                   len(rank) + datasets.index(d)))


def write_table(info_paths: list[Path], distilled: list[Path], baselines: list[Path], out_prefix: Path,
                meta: dict) -> pd.DataFrame:
    """``<prefix>.{pdf,csv,tex}``: the table (statistics with the published value per cell)
    and ``<prefix>_scores.csv``, the scores per run that the reproduction scorecard reads."""
    scores = d4rl_scores(info_paths, distilled, baselines)
    stats = seed_statistics(scores, ["dataset", "name", "environment", "level", "method"], value="score")
    stats["published"] = [PUBLISHED.get(m, {}).get((env, level)) for m, env, level
                          in zip(stats.method, stats.environment, stats.level)]
    out_prefix = Path(out_prefix)
    write_csv(out_prefix.with_suffix(".csv"), stats, meta)
    write_csv(out_prefix.with_name(out_prefix.name + "_scores.csv"), scores, meta)

    first = stats.drop_duplicates("dataset").set_index("dataset")
    datasets = _order(first)
    labels = ["method"] + [f"{ENVIRONMENTS.get(first.at[d, 'environment'], first.at[d, 'environment'])} "
                           f"{LEVELS.get(first.at[d, 'level'], first.at[d, 'level'])}" for d in datasets] + ["average"]
    cells = stats.set_index(["method", "dataset"])
    methods = [m for m in ROWS if m in set(stats.method)]
    averages = stats.groupby("method")["mean"].mean()
    rows = []
    for method in methods:
        row = [ROWS[method]]
        for dataset in datasets:
            if (method, dataset) not in cells.index:
                row.append("–")
                continue
            cell = cells.loc[(method, dataset)]
            published = "" if pd.isna(cell["published"]) else f"\n({cell['published']:.1f})"
            row.append(mean_std_text(cell["mean"], cell["std"]) + published)
        # OBD's average only beside an average over the same nine datasets
        complete = (len(datasets) == len(PUBLISHED_COLUMNS)
                    and stats[stats.method == method].published.notna().all())
        rows.append(row + [f"{averages[method]:.1f}" + (f"\n({PUBLISHED_AVERAGE[method]:.1f})" if complete else "")])
    # the best objective of each column in bold
    objectives = [m for m in methods if m in OBJECTIVES]
    marks = [set() for _ in methods]
    for j, dataset in enumerate(datasets + [None], 1):
        means = {m: averages[m] if dataset is None else cells["mean"].get((m, dataset), float("-inf"))
                 for m in objectives}
        if means:
            marks[methods.index(max(means, key=means.get))].add(j)
    preset = meta.get("preset", "?")
    title = (f"OBD Table 1 on D4RL ({preset}): D4RL normalised score of BC on {_synthetic(distilled)} distilled "
             "pairs, ours mean ± sample std over distillation seeds x evaluation policies (teacher: training seeds), "
             "OBD's in brackets")
    write_text(out_prefix.with_suffix(".tex"), "% " + provenance_line(meta) + f"\n% {title}\n"
               + tex_table(labels, [[c.replace("\n", " ") for c in row] for row in rows], marks, text_columns=1))
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        table_page(pdf, title, labels, rows, marks, meta)
    return stats


def _synthetic(distilled: list[Path]) -> str:
    sizes = sorted({Path(p).stem.rsplit("_n", 1)[-1] for p in distilled})
    return "/".join(sizes)
