"""The reproduction scorecard: every published claim the pipeline can test, the value it
measured with a 95 % bootstrap interval, and a verdict.

Verdicts:
- *holds*: the interval lies on the claim's side of zero;
- *fails*: it lies on the other side;
- *inconclusive*: it straddles zero, or the data are too few for an interval (fewer than
  ``MIN_BOOTSTRAP_RUNS`` runs for a bootstrap, one collection seed for coverage);
- *not tested*: the preset lacks the datasets, tasks or scores the claim needs.

A claim over several tasks (or domains) combines their verdicts: "on every task" holds when
every task holds and fails when one fails; "on m of n" holds when at least m hold and fails
when more than n - m fail. Claims stated for the paper's five tasks are tested on the
preset's tasks, "4 of 5" as the same fraction (rounded up).

Returns compare as in Table 1: a family's best (dataset, algorithm) by mean return, reselected
in every bootstrap resample (``stats.bootstrap_candidates``), runs paired by collection seed
and training seed. Distillation scores are normalised (% of 1000); their unit is one
distillation, a (dataset, collection seed, task) whose score is the mean over evaluation
seeds, paired across the methods compared. Coverage compares per collection seed, with a
Student t interval over collection seeds.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from berl.core.io import atomic_path, write_text  # noqa: E402
from berl.core.stats import MIN_BOOTSTRAP_RUNS, bootstrap_candidates, spearman_permutation_test  # noqa: E402
from berl.core.validate import InputError  # noqa: E402
from berl.datasets.envs import normalised_score  # noqa: E402
from berl.reports.common import (  # noqa: E402
    RETURN_COLUMNS, interval_text, provenance_line, read_table, run_matrix, table_page,
)
from berl.reports.coverage import read_coverage  # noqa: E402
from berl.reports.distill import generalisation_rows, load_results, score_rows  # noqa: E402

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED = "holds", "fails", "inconclusive", "not tested"
PAPER_TASKS = 5  # the BE paper's walker stand / walk / run and quadruped walk / run
# The coverage measure the claims about coverage read: the share of occupied grid cells in the
# encoder's representation, the space in which the explorers' rewards measure distances.
COVERAGE_SPACE, COVERAGE_MEASURE = "representation", "grid_occupancy"
WIDEST_ALPHA = 5.0


@dataclass
class Claim:
    paper: str
    statement: str
    published: str
    measured: str
    verdict: str


def interval_verdict(low: float, high: float) -> str:
    if np.isnan(low):  # too few runs for an interval
        return INCONCLUSIVE
    return HOLDS if low > 0 else FAILS if high < 0 else INCONCLUSIVE


def combine(verdicts: list[str], needed: int) -> str:
    """At least ``needed`` of the parts must hold; the claim fails once that is impossible."""
    holds, fails = verdicts.count(HOLDS), verdicts.count(FAILS)
    if holds >= needed:
        return HOLDS
    return FAILS if fails > len(verdicts) - needed else INCONCLUSIVE


def _label(name: str) -> str:
    return name.replace("_", " ")


def _max_by(means: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(draws, candidates) means -> (draws, groups): the best candidate of each group."""
    return np.stack([means[:, groups == g].max(axis=1) for g in dict.fromkeys(groups)], axis=1)


# ---------------------------------------------------------------------------- BE paper


def family_beats(returns: pd.DataFrame, tasks: list[str], other: str, share: float) -> Claim:
    """BE's best return against ``other`` family's best, task by task (Table 1's cells)."""
    needed = math.ceil(share * len(tasks))
    scope = "every task" if share == 1 else f"{round(share * PAPER_TASKS)} of {PAPER_TASKS} tasks"
    claim = Claim("BE", f"BE beats {other} on {scope} (best dataset and algorithm of each family)",
                  f"{round(share * PAPER_TASKS)} of {PAPER_TASKS} tasks (Table 1; its numbers are not in our sources)",
                  "", NOT_TESTED)
    if not {"BE", other} <= set(returns.family):
        claim.measured = f"the preset has no {'BE' if 'BE' not in set(returns.family) else other} dataset"
        return claim
    parts, verdicts = [], []
    for task in tasks:
        part = returns[(returns.task == task) & returns.family.isin(["BE", other])]
        matrix = run_matrix(part, ["family", "dataset", "algorithm"])
        is_be = matrix.index.get_level_values("family") == "BE"
        value, low, high = bootstrap_candidates(
            [matrix.to_numpy()], lambda m: m[0][:, is_be].max(axis=1) - m[0][:, ~is_be].max(axis=1))
        verdicts.append(interval_verdict(low, high))
        parts.append(f"{_label(task)} {interval_text(value, low, high, signed=True)}")
    claim.measured = (f"best BE minus best {other}: " + "; ".join(parts)
                      + f". Holds on {verdicts.count(HOLDS)} of {len(tasks)} tasks, needs {needed}")
    claim.verdict = combine(verdicts, needed)
    return claim


def best_below_one(returns: pd.DataFrame, tasks: list[str], family: str, parameter: str) -> Claim:
    """The family's best return with its parameter below 1 against its best above 1,
    averaged over tasks."""
    symbol = {"alpha": "α", "q": "q"}[parameter]
    claim = Claim("BE", f"{family}'s best returns come at {symbol} < 1",
                  "α < 1 and q < 1 work best (reviews' summary; no number)", "", NOT_TESTED)
    swept = returns[returns[parameter].notna() & (returns.family == family)]
    below, above = swept[swept[parameter] < 1], swept[swept[parameter] > 1]
    if below.empty or above.empty:
        claim.measured = f"needs {family} datasets with {symbol} below and above 1 (the preset has " + (
            ", ".join(f"{v:g}" for v in sorted(set(swept[parameter]))) or "none") + ")"
        return claim
    groups, masks = [], []
    for task in tasks:
        part = swept[(swept.task == task) & (swept[parameter] != 1)]
        matrix = run_matrix(part, [parameter, "dataset", "algorithm"])
        groups.append(matrix.to_numpy())
        masks.append(matrix.index.get_level_values(parameter).to_numpy() < 1)

    def statistic(means):
        return np.mean([m[:, low].max(axis=1) - m[:, ~low].max(axis=1) for m, low in zip(means, masks)], axis=0)

    value, low, high = bootstrap_candidates(groups, statistic)
    claim.measured = (f"best at {symbol} < 1 minus best at {symbol} > 1, mean over {len(tasks)} tasks: "
                      f"{interval_text(value, low, high, signed=True)} (return)")
    claim.verdict = interval_verdict(low, high)
    return claim


def widest_alpha_worst_return(returns: pd.DataFrame, tasks: list[str]) -> Claim:
    """α = 5's best return (over algorithms) against the worst other BE dataset's."""
    claim = Claim("BE", f"α = {WIDEST_ALPHA:g} gives the worst return of the BE datasets",
                  f"α = {WIDEST_ALPHA:g}: widest coverage, worst returns (reviews' summary)", "", NOT_TESTED)
    swept = returns[returns.alpha.notna()]
    if WIDEST_ALPHA not in set(swept.alpha) or swept.alpha.nunique() < 2:
        claim.measured = f"needs BE at α = {WIDEST_ALPHA:g} and another α"
        return claim
    groups, labels = [], []
    for task in tasks:
        matrix = run_matrix(swept[swept.task == task], ["alpha", "dataset", "algorithm"])
        groups.append(matrix.to_numpy())
        labels.append(matrix.index.get_level_values("dataset").to_numpy())
    widest = [list(dict.fromkeys(lab)).index(swept[swept.alpha == WIDEST_ALPHA].dataset.iloc[0]) for lab in labels]

    def statistic(means):
        per_task = []
        for m, lab, w in zip(means, labels, widest):
            best = _max_by(m, lab)
            per_task.append(np.delete(best, w, axis=1).min(axis=1) - best[:, w])
        return np.mean(per_task, axis=0)

    value, low, high = bootstrap_candidates(groups, statistic)
    claim.measured = (f"worst other BE dataset minus α = {WIDEST_ALPHA:g}, best over algorithms, mean over "
                      f"{len(tasks)} tasks: {interval_text(value, low, high, signed=True)} (return)")
    claim.verdict = interval_verdict(low, high)
    return claim


def _coverage_of_alphas(coverage: pd.DataFrame) -> pd.DataFrame:
    return coverage[(coverage.space == COVERAGE_SPACE) & coverage.alpha.notna()]


def widest_alpha_coverage(coverage: pd.DataFrame) -> Claim:
    """α = 5's coverage against the widest other BE dataset's, runs = collection seeds."""
    claim = Claim("BE", f"α = {WIDEST_ALPHA:g} gives the widest coverage of the BE datasets",
                  f"α = {WIDEST_ALPHA:g}: widest coverage, worst returns (reviews' summary)", "", NOT_TESTED)
    swept = _coverage_of_alphas(coverage)
    if WIDEST_ALPHA not in set(swept.alpha) or swept.alpha.nunique() < 2:
        claim.measured = f"needs BE at α = {WIDEST_ALPHA:g} and another α"
        return claim
    # Per collection seed (averaged over domains): alpha = 5's measure minus the widest other alpha's.
    margins = []
    for _, part in swept.groupby("domain", sort=False):
        matrix = part.pivot_table(index="collection_seed", columns="alpha", values=COVERAGE_MEASURE)
        margins.append(matrix[WIDEST_ALPHA] - matrix.drop(columns=WIDEST_ALPHA).max(axis=1))
    margin = pd.concat(margins, axis=1).mean(axis=1).to_numpy()
    what = f"{COVERAGE_MEASURE.replace('_', ' ')} ({COVERAGE_SPACE} space) of α = {WIDEST_ALPHA:g} minus the widest other α"
    if len(margin) < 2:
        claim.measured = f"{what}: {margin.mean():+.3f}; one collection seed, so no interval"
        claim.verdict = INCONCLUSIVE
        return claim
    half = student_t.ppf(0.975, len(margin) - 1) * margin.std(ddof=1) / np.sqrt(len(margin))
    low, high = margin.mean() - half, margin.mean() + half
    claim.measured = (f"{what}, over {len(margin)} collection seeds (Student t): "
                      f"{margin.mean():+.3f} [{low:+.3f}, {high:+.3f}]")
    claim.verdict = interval_verdict(low, high)
    return claim


def smooth_in_alpha(coverage: pd.DataFrame, minimum: int = 5) -> Claim:
    """Read as: coverage is a monotone function of α, by Spearman's ρ over the BE datasets
    (mean coverage over collection seeds) with an exact or Monte Carlo permutation test."""
    claim = Claim("BE", "coverage changes smoothly with α (read as: monotone in α, Spearman ρ, "
                  "permutation p < 0.05, per domain)", "qualitative (t-SNE / PHATE figures)", "", NOT_TESTED)
    swept = _coverage_of_alphas(coverage)
    if swept.alpha.nunique() < minimum:
        claim.measured = f"needs at least {minimum} values of α (the preset has {swept.alpha.nunique()})"
        return claim
    parts, verdicts = [], []
    for domain, part in swept.groupby("domain", sort=False):
        mean = part.groupby("alpha")[COVERAGE_MEASURE].mean()
        rho, p_value = spearman_permutation_test(mean.index.to_numpy(), mean.to_numpy())
        verdicts.append(HOLDS if p_value < 0.05 else INCONCLUSIVE)
        parts.append(f"{domain} ρ = {rho:+.2f}, p = {p_value:.3f} ({len(mean)} α)")
    claim.measured = f"{COVERAGE_MEASURE.replace('_', ' ')} ({COVERAGE_SPACE}) against α: " + "; ".join(parts)
    claim.verdict = combine(verdicts, len(verdicts))
    return claim


# --------------------------------------------------------------------------------- OBD


DISTILLATION = ["dataset", "collection_seed", "task"]  # one distillation: the unit of the OBD claims


def _units(scores: pd.DataFrame, candidate: str, order: list) -> np.ndarray:
    """A (candidates in ``order``, distillations) matrix of mean normalised scores over
    evaluation seeds; every candidate must have been scored on every distillation."""
    matrix = scores.pivot_table(index=candidate, columns=DISTILLATION, values="score", aggfunc="mean").reindex(order)
    if matrix.isna().to_numpy().any():
        raise InputError(f"not every {candidate} of {order} was scored on every distillation")
    return matrix.to_numpy()


def _mean_difference(units: np.ndarray, first: int, second: int):
    return bootstrap_candidates([units], lambda m: m[0][:, first] - m[0][:, second])


NO_D4RL = "needs D4RL data (README, 'D4RL')"


def objective_order(scores: pd.DataFrame, paper: str = "OBD", where: str = "",
                    without_scores: str = "no distillation scores") -> Claim:
    chain = ["av_pbc", "pbc", "dbc", "random"]
    names = {"av_pbc": "Av-PBC", "pbc": "PBC", "dbc": "DBC", "random": "random selection"}
    claim = Claim(paper, where + "Av-PBC > PBC > DBC > random selection",
                  "38.2 > 30.4 > 20.9 > 7.6 (D4RL average, OBD Table 1)", "", NOT_TESTED)
    if scores.empty:
        claim.measured = without_scores
        return claim
    if not set(chain) <= set(scores.method):
        claim.measured = "needs all three objectives: " + ", ".join(sorted(set(chain) - set(scores.method))) + " missing"
        return claim
    units = _units(scores[scores.method.isin(chain)], "method", chain)
    differences, verdicts = [], []
    for i in range(len(chain) - 1):
        value, low, high = _mean_difference(units, i, i + 1)
        verdicts.append(interval_verdict(low, high))
        differences.append(f"{names[chain[i]]} - {names[chain[i + 1]]} {interval_text(value, low, high, signed=True)}")
    claim.measured = (" > ".join(f"{mean:.1f}" for mean in units.mean(axis=1)) + " (normalised, mean over "
                      f"{units.shape[1]} distillations); " + "; ".join(differences))
    claim.verdict = combine(verdicts, len(verdicts))
    return claim


def whole_data_beats_distilled(scores: pd.DataFrame) -> Claim:
    claim = Claim("OBD (D4RL)", "on D4RL: BC on the whole data beats BC on Av-PBC's distilled pairs",
                  "45.7 vs 38.2 (D4RL average, OBD Table 1)", "", NOT_TESTED)
    if scores.empty or not {"whole_data_bc", "av_pbc"} <= set(scores.method):
        claim.measured = NO_D4RL if scores.empty else "needs Av-PBC and whole-data BC"
        return claim
    units = _units(scores[scores.method.isin(["whole_data_bc", "av_pbc"])], "method", ["whole_data_bc", "av_pbc"])
    value, low, high = _mean_difference(units, 0, 1)
    claim.measured = (f"{units[0].mean():.1f} vs {units[1].mean():.1f} (D4RL normalised, {units.shape[1]} datasets); "
                      f"difference {interval_text(value, low, high, signed=True)}")
    claim.verdict = interval_verdict(low, high)
    return claim


def ensembles_lift(general: pd.DataFrame) -> Claim:
    claim = Claim("OBD", "ensembles of 10 policies lift Av-PBC", "38.2 -> 48.1 (D4RL average)", "", NOT_TESTED)
    part = general[(general.objective == "av_pbc") & general.learner.isin(["default", "ensemble10"])]
    if set(part.learner) != {"default", "ensemble10"}:
        claim.measured = "needs the generalisation scores (distill.generalisation)"
        return claim
    units = _units(part, "learner", ["ensemble10", "default"])
    value, low, high = _mean_difference(units, 0, 1)
    claim.measured = (f"{units[1].mean():.1f} -> {units[0].mean():.1f}; ensemble minus one policy "
                      f"{interval_text(value, low, high, signed=True)} (normalised)")
    claim.verdict = interval_verdict(low, high)
    return claim


def size_rows(size_files: list[Path]) -> pd.DataFrame:
    """Av-PBC's final scores per (dataset, collection seed, task, size, evaluation seed)."""
    rows = [{"dataset": dataset, "collection_seed": collection_seed, "task": result["task"],
             "size": result["config"]["synthetic"], "seed": seed, "score": float(normalised_score(value))}
            for dataset, collection_seed, result in load_results(size_files) for seed, value in enumerate(result["final"])]
    return pd.DataFrame(rows, columns=["dataset", "collection_seed", "task", "size", "seed", "score"])


def improves_with_size(sizes: pd.DataFrame) -> Claim:
    claim = Claim("OBD", "Av-PBC improves with N_syn",
                  "16 -> 14.8, 64 -> 34.0, 256 -> 55.0 (walker2d medium-replay)", "", NOT_TESTED)
    if sizes["size"].nunique() < 2:
        claim.measured = "needs two sizes or more (distill.sizes)"
        return claim
    order = sorted(set(sizes["size"]))
    units = _units(sizes, "size", order)
    value, low, high = _mean_difference(units, len(order) - 1, 0)
    claim.measured = (", ".join(f"{n} -> {mean:.1f}" for n, mean in zip(order, units.mean(axis=1)))
                      + f"; largest minus smallest {interval_text(value, low, high, signed=True)} (normalised)")
    claim.verdict = interval_verdict(low, high)
    return claim


# ------------------------------------------------------------------------------ report


def scorecard(returns: pd.DataFrame, tasks: list[str], coverage: pd.DataFrame, scores: pd.DataFrame,
              general: pd.DataFrame, sizes: pd.DataFrame, d4rl_scores: pd.DataFrame) -> list[Claim]:
    return [
        family_beats(returns, tasks, "Shannon", 1.0),
        family_beats(returns, tasks, "SMM", 1.0),
        family_beats(returns, tasks, "RND", 1.0),
        family_beats(returns, tasks, "Rényi", 4 / PAPER_TASKS),
        best_below_one(returns, tasks, "BE", "alpha"),
        best_below_one(returns, tasks, "Rényi", "q"),
        widest_alpha_coverage(coverage),
        widest_alpha_worst_return(returns, tasks),
        smooth_in_alpha(coverage),
        objective_order(scores),
        ensembles_lift(general),
        improves_with_size(sizes),
        objective_order(d4rl_scores, paper="OBD (D4RL)", where="on D4RL: ", without_scores=NO_D4RL),
        whole_data_beats_distilled(d4rl_scores),
    ]


def _heading(meta: dict, runs: str) -> tuple[str, str]:
    preset = meta.get("preset", "?")
    title = f"Reproduction scorecard, preset {preset}"
    if preset != "paper":
        warning = (f"The {preset} preset runs every stage at a reduced scale: read this as a check of the "
                   "pipeline, not as a reproduction of the papers (that is the paper preset).")
    else:
        warning = "Measured at the papers' scale."
    return title, f"{warning} Runs: {runs}."


def write_reproduction(returns_csv: Path, tasks: list[str], coverage_csvs: list[Path], distilled: list[Path],
                       baselines: list[Path], size_files: list[Path], out_prefix: Path, meta: dict,
                       d4rl_scores: Path | None = None) -> list[Claim]:
    """``<prefix>.md`` and ``<prefix>.pdf``: one row per claim (paper, statement, published,
    measured with its interval, verdict), the preset in the title. The claims on D4RL read
    the D4RL table's scores per run (``d4rl_scores``), and are not tested without them."""
    returns = read_table(returns_csv, RETURN_COLUMNS)
    results = load_results(distilled)
    d4rl = read_table(d4rl_scores, ("method",)) if d4rl_scores else pd.DataFrame(columns=["method"])
    claims = scorecard(returns, tasks, read_coverage(coverage_csvs), score_rows(results, baselines),
                       generalisation_rows(results), size_rows(size_files), d4rl)
    runs = (f"{returns.collection_seed.nunique()} collection seed(s) x {returns.seed.nunique()} training seeds "
            f"per offline result; tasks {', '.join(_label(t) for t in tasks)}")
    title, subtitle = _heading(meta, runs)
    labels = ["paper", "claim", "published", f"measured ({meta.get('preset', '?')}), 95 % CI", "verdict"]
    lines = [f"# {title}", "", subtitle, "",
             "Verdicts: *holds* (the 95 % bootstrap interval is on the claim's side of zero), *fails* "
             "(on the other side), *inconclusive* (it straddles zero, or the runs are too few for an interval: "
             f"fewer than {MIN_BOOTSTRAP_RUNS} for a bootstrap), *not tested* "
             "(the preset lacks what the claim needs). Returns are dm_control returns (0-1000); distillation "
             "scores are normalised (% of 1000), on D4RL by D4RL's reference returns.", "",
             "| " + " | ".join(labels) + " |", "|" + "---|" * len(labels)]
    for claim in claims:
        cells = [claim.paper, claim.statement, claim.published, claim.measured, f"**{claim.verdict}**"]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    counts = {v: sum(c.verdict == v for c in claims) for v in (HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED)}
    lines += ["", "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", "",
              f"<sub>{provenance_line(meta)}</sub>", ""]
    out_prefix = Path(out_prefix)
    write_text(out_prefix.with_suffix(".md"), "\n".join(lines))
    widths = [6, 36, 30, 64, 13]
    rows = [["\n".join(textwrap.wrap(cell, width - 2)) for cell, width in zip(
        [c.paper, c.statement, c.published, c.measured, c.verdict], widths)] for c in claims]
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        table_page(pdf, f"{title}\n{textwrap.fill(subtitle, 150)}", labels, rows, [{4}] * len(rows), meta,
                   widths)
    return claims

