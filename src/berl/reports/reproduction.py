"""The reproduction scorecard: every published claim the pipeline can test, the value it
measured with a 95 % bootstrap interval, a p-value, and a verdict.

Verdicts, at level ``LEVEL`` on the p-values adjusted for the number of claims tested
(Holm-Bonferroni, ``holm_adjust``), the raw verdict shown beside:
- *holds*: the difference is significantly on the claim's side of zero;
- *fails*: it is significantly on the other side;
- *inconclusive*: neither, or the runs are too few for a test (fewer than
  ``MIN_BOOTSTRAP_RUNS`` runs for a bootstrap, one collection seed for coverage); the row
  then states the smallest difference the run could detect at 80 % power and the runs that
  would detect the difference it observed;
- *not tested*: the preset lacks the datasets, tasks or scores the claim needs, or nothing
  learned where the claim compares returns (the validity gate below).

Validity gate. A comparison of returns decides something only where learning shows: on each
task, the better of the compared results (its 95 % interval) must lie above the uniform-random
policy's (``table1_random``); tasks where it does not are left out of the claim, and a claim
with no task left is not tested, with the numbers that say why. A distillation claim is
scored only where the teacher and BC on the whole data both lie clearly above random
selection and the random policy.

A claim over n parts (tasks, domains, the links of a chain) holds when ``needed`` = k parts
hold and fails once that is impossible (n - k + 1 parts fail). Its p-value for holding is
the k-th smallest p of the parts on the claim's side times n - k + 1, and for failing the
(n - k + 1)-th smallest on the other side times k: a part chosen by the data may be one of
the nulls, so the order statistic is Bonferroni-corrected over the nulls the claim's
negation allows ("every task" holds on its largest p, and fails on its smallest times n). Claims stated for the
paper's five tasks are tested on the preset's tasks, "4 of 5" as the same fraction (rounded
up).

Returns compare as in Table 1: a family's best (dataset, algorithm) by mean return, reselected
in every bootstrap resample (``stats.bootstrap_test``), runs paired by collection seed and
training seed; the p-value is the bootstrap's two-sided one. Distillation scores are
normalised (% of 1000); their unit is one distillation, a (dataset, collection seed, task)
whose score is the mean over evaluation seeds, paired across the methods compared. Coverage
compares per collection seed, with a Student t test over collection seeds; its trend in alpha
with Spearman's rho and an exact permutation test.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from berl.core.constants import OBJECTIVES  # noqa: E402
from berl.core.io import atomic_path, write_text  # noqa: E402
from berl.core.stats import (  # noqa: E402
    MIN_BOOTSTRAP_RUNS, POWER, BootstrapTest, bootstrap_test, detectable_difference, holm_adjust, runs_to_detect,
    spearman_permutation_test,
)
from berl.core.validate import InputError  # noqa: E402
from berl.datasets.envs import normalised_score  # noqa: E402
from berl.reports.common import (  # noqa: E402
    RETURN_COLUMNS, interval_text, provenance_line, read_table, run_matrix, table_page,
)
from berl.reports.coverage import read_coverage  # noqa: E402
from berl.reports.distill import COLUMNS, generalisation_rows, load_results, score_rows  # noqa: E402
from berl.reports.offline import random_policy_table  # noqa: E402

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED = "holds", "fails", "inconclusive", "not tested"
VERDICT_COLOURS = {HOLDS: "#1a7f37", FAILS: "#cf222e", INCONCLUSIVE: "#9a6700", NOT_TESTED: "#6e7781"}
LEVEL = 0.05  # the verdicts' level, on the adjusted p-values
PAPER_TASKS = 5  # the BE paper's walker stand / walk / run and quadruped walk / run
# The coverage measure the claims about coverage read: the share of occupied grid cells in the
# encoder's representation, the space in which the explorers' rewards measure distances.
COVERAGE_SPACE, COVERAGE_MEASURE = "representation", "grid_occupancy"
WIDEST_ALPHA = 5.0


@dataclass
class Part:
    """One comparison inside a claim (a task, a domain, a link of a chain) and its test."""

    label: str
    test: BootstrapTest


@dataclass
class Claim:
    """A published claim, what was measured and the verdict on it. ``parts`` must have
    ``needed`` parts holding; ``two_sided`` claims (a monotone trend either way) hold on a
    significant part of either sign and never fail. ``verdict`` is decided on the p-value
    adjusted over the claims tested together (``decide``), ``raw_verdict`` on the raw one."""

    paper: str
    statement: str
    published: str
    measured: str = ""
    unit: str = ""
    parts: list[Part] = field(default_factory=list)
    needed: int = 1
    two_sided: bool = False
    verdict: str = NOT_TESTED
    raw_verdict: str = NOT_TESTED
    p: float = math.nan  # raw, for the direction of the verdict below
    p_adjusted: float = math.nan
    power: str = ""

    @property
    def tested(self) -> bool:
        return bool(self.parts)

    def direction(self) -> tuple[str, float]:
        """(HOLDS or FAILS, the claim's p-value for it): the direction the parts lean to."""
        ps = [(part.test.value, 1.0 if math.isnan(part.test.p) else part.test.p) for part in self.parts]
        on_side = sorted(p for value, p in ps if self.two_sided or value > 0)
        against = sorted(p for value, p in ps if value < 0) if not self.two_sided else []
        fail_count = len(ps) - self.needed + 1
        # Which parts reach the count is chosen by the data: of the parts the claim's negation
        # allows to be null, fail_count (for holding) or needed (for failing) may be picked,
        # so the order statistic is multiplied by that many (Bonferroni over them).
        p_holds = min(1.0, fail_count * on_side[self.needed - 1]) if len(on_side) >= self.needed else 1.0
        p_fails = min(1.0, self.needed * against[fail_count - 1]) if len(against) >= fail_count else 1.0
        return (HOLDS, p_holds) if p_holds <= p_fails else (FAILS, p_fails)


def verdict_at(direction: str, p: float) -> str:
    return direction if p < LEVEL else INCONCLUSIVE


def decide(claims: list[Claim]) -> list[Claim]:
    """Each tested claim's raw and adjusted verdict (Holm over the tested claims), and the
    power line of those left inconclusive. Untested claims keep NOT_TESTED."""
    tested = [claim for claim in claims if claim.tested]
    directions = [claim.direction() for claim in tested]
    adjusted = holm_adjust([p for _, p in directions])
    for claim, (direction, p), p_adjusted in zip(tested, directions, adjusted):
        claim.p, claim.p_adjusted = p, p_adjusted
        claim.raw_verdict, claim.verdict = verdict_at(direction, p), verdict_at(direction, p_adjusted)
        claim.power = power_line(claim, LEVEL / len(tested)) if claim.verdict == INCONCLUSIVE else ""
    return claims


def power_line(claim: Claim, level: float) -> str:
    """The smallest true difference each needed part could show at POWER (normal
    approximation from its bootstrap spread, at ``level``: the strictest Holm step), and the
    runs that would show the observed difference, for the ``needed`` most sensitive parts."""
    parts = [part.test for part in claim.parts if math.isfinite(part.test.se) and part.test.se > 0]
    if len(parts) < claim.needed:
        few = min(part.test.runs for part in claim.parts)
        return (f"power: no spread to size it from ({few} runs; a bootstrap needs {MIN_BOOTSTRAP_RUNS})"
                if claim.parts and not claim.two_sided else "power: a rank test; more values of α lower its p")
    smallest = sorted(detectable_difference(test.se, level) for test in parts)[claim.needed - 1]
    runs = sorted(runs_to_detect(test.value, test.se, test.runs, level) for test in parts)[claim.needed - 1]
    now = min(test.runs for test in parts)
    each = "" if claim.needed == 1 else f" on each of {claim.needed} parts"
    needed_runs = "never (observed 0)" if math.isinf(runs) else f"{runs:.0f} runs"
    return (f"{POWER:.0%} power at level {level:.3g}: detects {smallest:.1f} {claim.unit}{each} with {now} runs; "
            f"the observed difference needs {needed_runs}")


def _label(name: str) -> str:
    return name.replace("_", " ")


def _max_by(means: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(draws, candidates) means -> (draws, groups): the best candidate of each group."""
    return np.stack([means[:, groups == g].max(axis=1) for g in dict.fromkeys(groups)], axis=1)


def _test_text(test: BootstrapTest) -> str:
    return interval_text(test.value, test.low, test.high, signed=True)


# ------------------------------------------------------------------------ validity gate


def learning_shown(part: pd.DataFrame, task: str, random_policy: pd.DataFrame | None) -> str:
    """'' where the best (dataset, algorithm) of ``part`` (one task's compared returns) has
    a 95 % interval above the random policy's on ``task``; else why it does not.
    ``random_policy`` None applies no gate."""
    if random_policy is None:
        return ""
    matrix = run_matrix(part, ["dataset", "algorithm"]).to_numpy()
    best = matrix[[int(matrix.mean(axis=1).argmax())]]
    test = bootstrap_test([best], lambda means: means[0][:, 0])
    reference = random_policy.loc[task]
    floor = f"random policy {reference['mean']:.1f} [{reference.ci_low:.1f}, {reference.ci_high:.1f}]"
    if math.isnan(test.low):
        return f"{_label(task)}: too few runs ({test.runs}) to show learning, best {test.value:.1f} vs {floor}"
    if test.low > reference.ci_high:
        return ""
    return f"{_label(task)}: no learning, best {interval_text(test.value, test.low, test.high)} vs {floor}"


def _gated_tasks(returns: pd.DataFrame, tasks: list[str], random_policy) -> tuple[list[str], list[str]]:
    """(tasks where learning shows in ``returns``, the reasons of the others)."""
    reasons = {task: learning_shown(returns[returns.task == task], task, random_policy) for task in tasks}
    return [task for task in tasks if not reasons[task]], [reason for reason in reasons.values() if reason]


def _not_scored(reasons: list[str]) -> str:
    return f" Not scored: {'; '.join(reasons)}." if reasons else ""


def distillation_learns(scores: pd.DataFrame, random_policy: pd.DataFrame | None, *, d4rl: bool = False) -> str:
    """'' where the teacher and BC on the whole data both lie above random selection and the
    random policy (95 % intervals of their mean normalised scores, every task), else why not.
    A D4RL score is 0 at the random policy by its definition."""
    if random_policy is None and not d4rl:
        return ""
    reasons = []
    for task, part in scores.groupby("task", sort=False):
        def interval(method: str) -> BootstrapTest:
            values = part.loc[part.method == method, "score"].to_numpy()
            return bootstrap_test([values[None, :]], lambda means: means[0][:, 0])

        if not {"teacher", "whole_data_bc", "random"} <= set(part.method):
            reasons.append(f"{_label(task)}: needs the teacher, whole-data BC and random selection")
            continue
        selection = interval("random")
        if d4rl:
            floor = max(selection.high, 0.0)
            floor_text = f"random selection {interval_text(selection.value, selection.low, selection.high)}, random policy 0"
        else:
            reference = random_policy.loc[task]
            low, high = (float(normalised_score(reference[c])) for c in ("ci_low", "ci_high"))
            floor = max(selection.high, high)
            floor_text = (f"random selection {interval_text(selection.value, selection.low, selection.high)}, random policy "
                          f"{float(normalised_score(reference['mean'])):.1f} [{low:.1f}, {high:.1f}]")
        for method, name in (("teacher", "teacher"), ("whole_data_bc", "whole-data BC")):
            test = interval(method)
            if not test.low > floor:  # NaN (too few runs) included
                reasons.append(f"{_label(task)}: no learning at this preset, {name} "
                               f"{interval_text(test.value, test.low, test.high)} vs {floor_text} (normalised %)")
                break
    return "; ".join(reasons)


# ---------------------------------------------------------------------------- BE paper


def family_beats(returns: pd.DataFrame, tasks: list[str], other: str, share: float,
                 random_policy: pd.DataFrame | None = None) -> Claim:
    """BE's best return against ``other`` family's best, task by task (Table 1's cells), on
    the tasks where learning shows."""
    scope = "every task" if share == 1 else f"{round(share * PAPER_TASKS)} of {PAPER_TASKS} tasks"
    claim = Claim("BE", f"BE beats {other} on {scope} (best dataset and algorithm of each family)",
                  f"{round(share * PAPER_TASKS)} of {PAPER_TASKS} tasks (Table 1; its numbers are not in our sources)",
                  unit="return")
    if not {"BE", other} <= set(returns.family):
        claim.measured = f"the preset has no {'BE' if 'BE' not in set(returns.family) else other} dataset"
        return claim
    compared = returns[returns.family.isin(["BE", other])]
    scored, reasons = _gated_tasks(compared, tasks, random_policy)
    if not scored:
        claim.measured = "no task shows learning." + _not_scored(reasons)
        return claim
    for task in scored:
        matrix = run_matrix(compared[compared.task == task], ["family", "dataset", "algorithm"])
        is_be = matrix.index.get_level_values("family") == "BE"
        test = bootstrap_test([matrix.to_numpy()],
                              lambda m: m[0][:, is_be].max(axis=1) - m[0][:, ~is_be].max(axis=1))
        claim.parts.append(Part(_label(task), test))
    claim.needed = math.ceil(share * len(scored))
    claim.measured = (f"best BE minus best {other}: " + "; ".join(f"{p.label} {_test_text(p.test)}" for p in claim.parts)
                      + f". Needs {claim.needed} of {len(scored)} tasks." + _not_scored(reasons))
    return decide([claim])[0]


def best_below_one(returns: pd.DataFrame, tasks: list[str], family: str, parameter: str,
                   random_policy: pd.DataFrame | None = None) -> Claim:
    """The family's best return with its parameter below 1 against its best above 1,
    averaged over the tasks where learning shows."""
    symbol = {"alpha": "α", "q": "q"}[parameter]
    claim = Claim("BE", f"{family}'s best returns come at {symbol} < 1",
                  "α < 1 and q < 1 work best (reviews' summary; no number)", unit="return")
    swept = returns[returns[parameter].notna() & (returns.family == family) & (returns[parameter] != 1)]
    below, above = swept[swept[parameter] < 1], swept[swept[parameter] > 1]
    if below.empty or above.empty:
        claim.measured = f"needs {family} datasets with {symbol} below and above 1 (the preset has " + (
            ", ".join(f"{v:g}" for v in sorted(set(swept[parameter]))) or "none") + ")"
        return claim
    scored, reasons = _gated_tasks(swept, tasks, random_policy)
    if not scored:
        claim.measured = "no task shows learning." + _not_scored(reasons)
        return claim
    groups, masks = [], []
    for task in scored:
        matrix = run_matrix(swept[swept.task == task], [parameter, "dataset", "algorithm"])
        groups.append(matrix.to_numpy())
        masks.append(matrix.index.get_level_values(parameter).to_numpy() < 1)

    def statistic(means):
        return np.mean([m[:, low].max(axis=1) - m[:, ~low].max(axis=1) for m, low in zip(means, masks)], axis=0)

    test = bootstrap_test(groups, statistic)
    claim.parts.append(Part(f"mean over {len(scored)} tasks", test))
    claim.measured = (f"best at {symbol} < 1 minus best at {symbol} > 1, mean over {len(scored)} tasks: "
                      f"{_test_text(test)} (return)." + _not_scored(reasons))
    return decide([claim])[0]


def widest_alpha_worst_return(returns: pd.DataFrame, tasks: list[str],
                              random_policy: pd.DataFrame | None = None) -> Claim:
    """α = 5's best return (over algorithms) against the worst other BE dataset's, on the
    tasks where learning shows."""
    claim = Claim("BE", f"α = {WIDEST_ALPHA:g} gives the worst return of the BE datasets",
                  f"α = {WIDEST_ALPHA:g}: widest coverage, worst returns (reviews' summary)", unit="return")
    swept = returns[returns.alpha.notna()]
    if WIDEST_ALPHA not in set(swept.alpha) or swept.alpha.nunique() < 2:
        claim.measured = f"needs BE at α = {WIDEST_ALPHA:g} and another α"
        return claim
    scored, reasons = _gated_tasks(swept, tasks, random_policy)
    if not scored:
        claim.measured = "no task shows learning." + _not_scored(reasons)
        return claim
    groups, labels = [], []
    for task in scored:
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

    test = bootstrap_test(groups, statistic)
    claim.parts.append(Part(f"mean over {len(scored)} tasks", test))
    claim.measured = (f"worst other BE dataset minus α = {WIDEST_ALPHA:g}, best over algorithms, mean over "
                      f"{len(scored)} tasks: {_test_text(test)} (return)." + _not_scored(reasons))
    return decide([claim])[0]


def _coverage_of_alphas(coverage: pd.DataFrame) -> pd.DataFrame:
    return coverage[(coverage.space == COVERAGE_SPACE) & coverage.alpha.notna()]


def widest_alpha_coverage(coverage: pd.DataFrame) -> Claim:
    """α = 5's coverage against the widest other BE dataset's, runs = collection seeds."""
    claim = Claim("BE", f"α = {WIDEST_ALPHA:g} gives the widest coverage of the BE datasets",
                  f"α = {WIDEST_ALPHA:g}: widest coverage, worst returns (reviews' summary)", unit="occupancy")
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
    mean = float(margin.mean())
    if len(margin) < 2:
        claim.parts.append(Part("collection seeds", BootstrapTest(mean, math.nan, math.nan, math.nan, math.nan, 1)))
        claim.measured = f"{what}: {mean:+.3f}; one collection seed, so no interval"
        return decide([claim])[0]
    se = float(margin.std(ddof=1) / np.sqrt(len(margin)))
    half = student_t.ppf(0.975, len(margin) - 1) * se
    p = 2 * student_t.sf(abs(mean) / se, len(margin) - 1) if se > 0 else (0.0 if mean else 1.0)
    claim.parts.append(Part("collection seeds", BootstrapTest(mean, mean - half, mean + half, float(p), se,
                                                              len(margin))))
    claim.measured = (f"{what}, over {len(margin)} collection seeds (Student t): "
                      f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]")
    return decide([claim])[0]


def smooth_in_alpha(coverage: pd.DataFrame, minimum: int = 5) -> Claim:
    """Read as: coverage is a monotone function of α, by Spearman's ρ over the BE datasets
    (mean coverage over collection seeds) with an exact or Monte Carlo permutation test."""
    claim = Claim("BE", "coverage changes smoothly with α (read as: monotone in α, Spearman ρ, "
                  "permutation test, per domain)", "qualitative (t-SNE / PHATE figures)", unit="ρ",
                  two_sided=True)
    swept = _coverage_of_alphas(coverage)
    if swept.alpha.nunique() < minimum:
        claim.measured = f"needs at least {minimum} values of α (the preset has {swept.alpha.nunique()})"
        return claim
    for domain, part in swept.groupby("domain", sort=False):
        mean = part.groupby("alpha")[COVERAGE_MEASURE].mean()
        rho, p_value = spearman_permutation_test(mean.index.to_numpy(), mean.to_numpy())
        claim.parts.append(Part(f"{domain} ({len(mean)} α)",
                                BootstrapTest(rho, math.nan, math.nan, p_value, math.nan, len(mean))))
    claim.needed = len(claim.parts)
    claim.measured = (f"{COVERAGE_MEASURE.replace('_', ' ')} ({COVERAGE_SPACE}) against α: "
                      + "; ".join(f"{p.label} ρ = {p.test.value:+.2f}, p = {p.test.p:.3f}" for p in claim.parts))
    return decide([claim])[0]


# --------------------------------------------------------------------------------- OBD


DISTILLATION = ["dataset", "collection_seed", "task"]  # one distillation: the unit of the OBD claims


def _units(scores: pd.DataFrame, candidate: str, order: list) -> np.ndarray:
    """A (candidates in ``order``, distillations) matrix of mean normalised scores over
    evaluation seeds; every candidate must have been scored on every distillation."""
    matrix = scores.pivot_table(index=candidate, columns=DISTILLATION, values="score", aggfunc="mean").reindex(order)
    if matrix.isna().to_numpy().any():
        raise InputError(f"not every {candidate} of {order} was scored on every distillation")
    return matrix.to_numpy()


def _mean_difference(units: np.ndarray, first: int, second: int) -> BootstrapTest:
    return bootstrap_test([units], lambda m: m[0][:, first] - m[0][:, second])


NO_D4RL = "needs D4RL data (README, 'D4RL')"


def _scored_difference(claim: Claim, units: np.ndarray, first: int, second: int, label: str, means: str,
                       gate: str) -> Claim:
    """``claim`` scored on one paired difference of distillation units (row ``first`` minus
    row ``second``), or left untested with the gate's reason."""
    if gate:
        claim.measured = f"{means}; not scored: {gate}"
        return claim
    test = _mean_difference(units, first, second)
    claim.parts.append(Part(label, test))
    claim.measured = f"{means}; {label} {_test_text(test)}"
    return decide([claim])[0]


def objective_order(scores: pd.DataFrame, paper: str = "OBD", where: str = "",
                    without_scores: str = "no distillation scores", gate: str = "") -> Claim:
    """Av-PBC > PBC > DBC > random selection, every link; ``gate`` (why nothing learned)
    leaves it untested."""
    chain = [*reversed(OBJECTIVES), "random"]  # OBD's objectives, each claimed above the one it extends
    names = {method: COLUMNS[method] for method in chain}
    claim = Claim(paper, where + "Av-PBC > PBC > DBC > random selection",
                  "38.2 > 30.4 > 20.9 > 7.6 (D4RL average, OBD Table 1)", unit="score")
    if scores.empty:
        claim.measured = without_scores
        return claim
    if not set(chain) <= set(scores.method):
        claim.measured = "needs all three objectives: " + ", ".join(sorted(set(chain) - set(scores.method))) + " missing"
        return claim
    units = _units(scores[scores.method.isin(chain)], "method", chain)
    means = " > ".join(f"{mean:.1f}" for mean in units.mean(axis=1))
    if gate:
        claim.measured = f"{means} (normalised); not scored: {gate}"
        return claim
    claim.parts = [Part(f"{names[chain[i]]} - {names[chain[i + 1]]}", _mean_difference(units, i, i + 1))
                   for i in range(len(chain) - 1)]
    claim.needed = len(claim.parts)
    claim.measured = (f"{means} (normalised, mean over {units.shape[1]} distillations); "
                      + "; ".join(f"{p.label} {_test_text(p.test)}" for p in claim.parts))
    return decide([claim])[0]


def whole_data_beats_distilled(scores: pd.DataFrame, gate: str = "") -> Claim:
    claim = Claim("OBD (D4RL)", "on D4RL: BC on the whole data beats BC on Av-PBC's distilled pairs",
                  "45.7 vs 38.2 (D4RL average, OBD Table 1)", unit="score")
    if scores.empty or not {"whole_data_bc", "av_pbc"} <= set(scores.method):
        claim.measured = NO_D4RL if scores.empty else "needs Av-PBC and whole-data BC"
        return claim
    units = _units(scores[scores.method.isin(["whole_data_bc", "av_pbc"])], "method", ["whole_data_bc", "av_pbc"])
    means = f"{units[0].mean():.1f} vs {units[1].mean():.1f} (D4RL normalised, {units.shape[1]} datasets)"
    return _scored_difference(claim, units, 0, 1, "whole-data BC - Av-PBC", means, gate)


def ensembles_lift(general: pd.DataFrame, gate: str = "") -> Claim:
    claim = Claim("OBD", "ensembles of 10 policies lift Av-PBC", "38.2 -> 48.1 (D4RL average)", unit="score")
    part = general[(general.objective == "av_pbc") & general.learner.isin(["default", "ensemble10"])]
    if set(part.learner) != {"default", "ensemble10"}:
        claim.measured = "needs the generalisation scores (distill.generalisation)"
        return claim
    units = _units(part, "learner", ["ensemble10", "default"])
    means = f"{units[1].mean():.1f} -> {units[0].mean():.1f} (normalised)"
    return _scored_difference(claim, units, 0, 1, "ensemble - one policy", means, gate)


def size_rows(size_files: list[Path]) -> pd.DataFrame:
    """Av-PBC's final scores per (dataset, collection seed, task, size, evaluation seed)."""
    rows = [{"dataset": dataset, "collection_seed": collection_seed, "task": result["task"],
             "size": result["config"]["synthetic"], "seed": seed, "score": float(normalised_score(value))}
            for dataset, collection_seed, result in load_results(size_files) for seed, value in enumerate(result["final"])]
    return pd.DataFrame(rows, columns=["dataset", "collection_seed", "task", "size", "seed", "score"])


def improves_with_size(sizes: pd.DataFrame, gate: str = "") -> Claim:
    claim = Claim("OBD", "Av-PBC improves with N_syn",
                  "16 -> 14.8, 64 -> 34.0, 256 -> 55.0 (walker2d medium-replay)", unit="score")
    if sizes["size"].nunique() < 2:
        claim.measured = "needs two sizes or more (distill.sizes)"
        return claim
    order = sorted(set(sizes["size"]))
    units = _units(sizes, "size", order)
    means = ", ".join(f"{n} -> {mean:.1f}" for n, mean in zip(order, units.mean(axis=1))) + " (normalised)"
    return _scored_difference(claim, units, len(order) - 1, 0, "largest - smallest", means, gate)


# ------------------------------------------------------------------------------ report


def scorecard(returns: pd.DataFrame, tasks: list[str], coverage: pd.DataFrame, scores: pd.DataFrame,
              general: pd.DataFrame, sizes: pd.DataFrame, d4rl_scores: pd.DataFrame,
              random_policy: pd.DataFrame | None) -> list[Claim]:
    """Every claim, gated, with verdicts adjusted over the claims tested (``decide``)."""
    distill_gate = distillation_learns(scores, random_policy) if not scores.empty else ""
    d4rl_gate = distillation_learns(d4rl_scores, None, d4rl=True) if not d4rl_scores.empty else ""
    return decide([
        family_beats(returns, tasks, "Shannon", 1.0, random_policy),
        family_beats(returns, tasks, "SMM", 1.0, random_policy),
        family_beats(returns, tasks, "RND", 1.0, random_policy),
        family_beats(returns, tasks, "Rényi", 4 / PAPER_TASKS, random_policy),
        best_below_one(returns, tasks, "BE", "alpha", random_policy),
        best_below_one(returns, tasks, "Rényi", "q", random_policy),
        widest_alpha_coverage(coverage),
        widest_alpha_worst_return(returns, tasks, random_policy),
        smooth_in_alpha(coverage),
        objective_order(scores, gate=distill_gate),
        ensembles_lift(general, gate=distill_gate),
        improves_with_size(sizes, gate=distill_gate),
        objective_order(d4rl_scores, paper="OBD (D4RL)", where="on D4RL: ", without_scores=NO_D4RL, gate=d4rl_gate),
        whole_data_beats_distilled(d4rl_scores, gate=d4rl_gate),
    ])


def _heading(meta: dict, runs: str) -> tuple[str, str]:
    preset = meta.get("preset", "?")
    title = f"Reproduction scorecard, preset {preset}"
    if preset != "paper":
        warning = (f"The {preset} preset runs every stage at a reduced scale: read this as a check of the "
                   "pipeline, not as a reproduction of the papers (that is the paper preset).")
    else:
        warning = "Measured at the papers' scale."
    return title, f"{warning} Runs: {runs}."


def _p_text(p: float) -> str:
    return "–" if math.isnan(p) else f"{p:.3f}" if p >= 0.001 else "<0.001"


def _short(statement: str) -> str:
    return statement.split(" (")[0]


def summary_page(pdf: PdfPages, claims: list[Claim], title: str, subtitle: str, meta: dict) -> None:
    """One line per claim with its coloured verdict and adjusted p, and beside it each of its
    parts' interval against zero (a forest plot; each row on its own scale, as the claims
    measure returns, scores, occupancy and ρ, with the numbers written beside it)."""
    rows = [(claim, part) for claim in claims for part in (claim.parts or [None])]
    fig = plt.figure(figsize=(14, 1.4 + 0.28 * len(rows)))
    grid = fig.add_gridspec(len(rows), 3, width_ratios=[2.2, 1.1, 0.8], hspace=0.0, wspace=0.02, left=0.01,
                            right=0.99, top=1 - 1.0 / fig.get_figheight(), bottom=0.4 / fig.get_figheight())
    fig.suptitle(f"{title}\n{textwrap.fill(subtitle, 170)}", fontsize=9, x=0.01, ha="left", y=0.995)
    previous = None
    for i, (claim, part) in enumerate(rows):
        text_axes, part_axes, plot_axes = (fig.add_subplot(grid[i, j]) for j in range(3))
        text_axes.axis("off")
        part_axes.axis("off")
        if claim is not previous:
            text_axes.text(0.0, 0.5, claim.paper, fontsize=8, va="center")
            text_axes.text(0.11, 0.5, textwrap.shorten(_short(claim.statement), 62), fontsize=8, va="center")
            text_axes.text(0.64, 0.5, claim.verdict, fontsize=8, va="center", color=VERDICT_COLOURS[claim.verdict],
                           fontweight="bold")
            if claim.tested:
                text_axes.text(0.77, 0.5, f"p adj {_p_text(claim.p_adjusted)}, raw {_p_text(claim.p)}", fontsize=7,
                               va="center")
            previous = claim
        if part is not None:
            test = part.test
            numbers = (f"{test.value:+.3g}" + (f" [{test.low:+.3g}, {test.high:+.3g}]" if math.isfinite(test.low)
                                              else f", p {_p_text(test.p)}" if math.isfinite(test.p) else ""))
            part_axes.text(0.0, 0.5, f"{part.label}: {numbers} {claim.unit}", fontsize=7, va="center")
        _forest_row(plot_axes, claim, part)
    fig.text(0.01, 0.005, provenance_line(meta), fontsize=6)
    pdf.savefig(fig)
    plt.close(fig)


def _forest_row(axes, claim: Claim, part: Part | None) -> None:
    """A part's interval (its point where there is none) against zero, on its own scale."""
    axes.set_yticks([])
    axes.set_xticks([])
    for side in ("top", "right", "left", "bottom"):
        axes.spines[side].set_visible(False)
    if part is None:
        return
    test = part.test
    low, high = (test.low, test.high) if math.isfinite(test.low) else (test.value, test.value)
    reach = max(abs(low), abs(high), abs(test.value), 1e-9) * 1.1
    axes.set_xlim(-reach, reach)
    axes.set_ylim(-1, 1)
    axes.axvline(0.0, color="0.5", linewidth=0.8)
    axes.errorbar([test.value], [0.0], xerr=[[test.value - low], [high - test.value]], fmt="o",
                  color=VERDICT_COLOURS[claim.verdict], markersize=3, capsize=2, linewidth=1)


def write_reproduction(returns_csv: Path, tasks: list[str], coverage_csvs: list[Path], distilled: list[Path],
                       baselines: list[Path], size_files: list[Path], out_prefix: Path, meta: dict,
                       random_reference: list[Path], d4rl_scores: Path | None = None) -> list[Claim]:
    """``<prefix>.md`` and ``<prefix>.pdf``: one line per claim with its verdict, its
    intervals against zero, then the details (paper, statement, published, measured with
    its interval, raw and adjusted p and verdict, power), the preset in the title. The
    random-policy records (``random_reference``) gate the claims on returns and on
    distillation; the claims on D4RL read the D4RL table's scores per run (``d4rl_scores``),
    and are not tested without them."""
    returns = read_table(returns_csv, RETURN_COLUMNS)
    results = load_results(distilled)
    d4rl = read_table(d4rl_scores, ("method",)) if d4rl_scores else pd.DataFrame(columns=["method"])
    claims = scorecard(returns, tasks, read_coverage(coverage_csvs), score_rows(results, baselines),
                       generalisation_rows(results), size_rows(size_files), d4rl,
                       random_policy_table(random_reference, tasks))
    runs = (f"{returns.collection_seed.nunique()} collection seed(s) x {returns.seed.nunique()} training seeds "
            f"per offline result; tasks {', '.join(_label(t) for t in tasks)}")
    title, subtitle = _heading(meta, runs)
    tested = sum(claim.tested for claim in claims)
    legend = (f"Verdicts at level {LEVEL} on p-values adjusted for the {tested} claims tested (Holm-Bonferroni); "
              "the raw verdict is beside. *holds*: significantly on the claim's side of zero; *fails*: on the other "
              "side; *inconclusive*: neither, or fewer than "
              f"{MIN_BOOTSTRAP_RUNS} runs for a bootstrap (the power line says what the run could detect); "
              "*not tested*: the preset lacks what the claim needs, or nothing learned (the compared results do "
              "not lie above the uniform-random policy, or the teacher and whole-data BC not above random). "
              "Returns are dm_control returns (0-1000); distillation scores are normalised (% of 1000), on D4RL "
              "by D4RL's reference returns.")
    counts = {v: sum(c.verdict == v for c in claims) for v in (HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED)}
    summary = "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."
    lines = [f"# {title}", "", subtitle, "", summary, "",
             "| paper | claim | verdict | p (adjusted) |", "|---|---|---|---|"]
    lines += [f"| {c.paper} | {_short(c.statement)} | **{c.verdict}** | {_p_text(c.p_adjusted)} |" for c in claims]
    labels = ["paper", "claim", "published", f"measured ({meta.get('preset', '?')}), 95 % CI",
              "raw p: verdict", "adjusted p: verdict", "power (inconclusive rows)"]
    lines += ["", "## Details", "", legend, "", "| " + " | ".join(labels) + " |", "|" + "---|" * len(labels)]
    details = [[c.paper, c.statement, c.published, c.measured,
                f"{_p_text(c.p)}: {c.raw_verdict}" if c.tested else "–",
                f"{_p_text(c.p_adjusted)}: {c.verdict}" if c.tested else c.verdict, c.power or "–"] for c in claims]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in details]
    lines += ["", f"<sub>{provenance_line(meta)}</sub>", ""]
    out_prefix = Path(out_prefix)
    write_text(out_prefix.with_suffix(".md"), "\n".join(lines))
    widths = [10, 30, 24, 54, 17, 19, 36]
    rows = [["\n".join(textwrap.wrap(cell, width - 2, break_long_words=False)) for cell, width in zip(row, widths)]
            for row in details]
    with atomic_path(out_prefix.with_suffix(".pdf")) as tmp, PdfPages(tmp) as pdf:
        summary_page(pdf, claims, title, f"{subtitle} {summary}", meta)
        table_page(pdf, f"Details\n{textwrap.fill(legend, 170)}", labels, rows, [{5}] * len(rows), meta, widths)
    return claims
