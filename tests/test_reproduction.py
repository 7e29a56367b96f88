"""The claim scorecard, its bootstrap and its verdicts, on scores whose answers are known."""

import numpy as np
import pandas as pd
import pytest
import torch

from berl.core.checkpoint import save_torch
from berl.core.io import write_json
from berl.core.stats import (
    BootstrapTest,
    bootstrap_candidates,
    bootstrap_test,
    detectable_difference,
    holm_adjust,
    runs_to_detect,
)
from berl.reports.reproduction import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_TESTED,
    Claim,
    Part,
    best_below_one,
    decide,
    distillation_learns,
    family_beats,
    improves_with_size,
    objective_order,
    smooth_in_alpha,
    widest_alpha_coverage,
    write_reproduction,
)

TASKS = ["walker_stand", "walker_walk", "walker_run"]


def test_paired_bootstrap_of_a_constant_difference_is_exact_and_unpaired_noise_cancels():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 100, size=20)  # large run-to-run noise shared by both candidates
    runs = np.stack([base + 5, base])
    value, low, high = bootstrap_candidates([runs], lambda m: m[0][:, 0] - m[0][:, 1])
    assert value == pytest.approx(5) and low == pytest.approx(5) and high == pytest.approx(5)


def test_bootstrap_reselects_the_best_candidate_in_every_resample():
    """Two candidates with equal means and independent noise: the best-of-two is optimistic,
    so its interval sits above the mean of either, and the point is the larger mean."""
    rng = np.random.default_rng(1)
    runs = rng.normal(0, 1, size=(2, 200))
    value, low, high = bootstrap_candidates([runs], lambda m: m[0].max(axis=1), resamples=4000)
    assert value == pytest.approx(runs.mean(axis=1).max())
    single = bootstrap_candidates([runs[:1]], lambda m: m[0][:, 0], resamples=4000)
    assert low > single[1] and high >= single[2] - 0.02


def test_stratified_statistics_resample_each_stratum_on_its_own():
    groups = [np.array([[1.0, 1.0, 1.0]]), np.array([[3.0, 3.0]])]
    value, low, high = bootstrap_candidates(groups, lambda ms: (ms[0][:, 0] + ms[1][:, 0]) / 2, min_runs=1)
    assert (value, low, high) == (2.0, 2.0, 2.0)
    # By default a stratum of fewer than 5 runs gives the point and no interval.
    value, low, high = bootstrap_candidates(groups, lambda ms: (ms[0][:, 0] + ms[1][:, 0]) / 2)
    assert value == 2.0 and np.isnan(low) and np.isnan(high)
    with pytest.raises(ValueError, match="at least one run"):
        bootstrap_candidates([np.zeros((2, 0))], lambda ms: ms[0][:, 0])


@pytest.mark.parametrize("verdicts,needed,expected", [
    ([HOLDS, HOLDS, HOLDS], 3, HOLDS),
    ([HOLDS, HOLDS, INCONCLUSIVE], 3, INCONCLUSIVE),
    ([HOLDS, HOLDS, FAILS], 3, FAILS),
    ([HOLDS, HOLDS, FAILS], 2, HOLDS),
    ([HOLDS, FAILS, INCONCLUSIVE], 2, INCONCLUSIVE),
    ([FAILS, FAILS, INCONCLUSIVE], 2, FAILS),
])
def test_combined_verdicts(verdicts, needed, expected):
    """Parts that hold (+1, p 0.001), fail (-1, p 0.001) or neither (+1, p 0.5)."""
    tests = {HOLDS: (1.0, 0.001), FAILS: (-1.0, 0.001), INCONCLUSIVE: (1.0, 0.5)}
    claim = Claim("BE", "a claim", "", needed=needed,
                  parts=[Part(str(i), BootstrapTest(tests[v][0], -1, 1, tests[v][1], 1.0, 10))
                         for i, v in enumerate(verdicts)])
    assert decide([claim])[0].verdict == expected


def part(value: float, p: float, se: float = 1.0, runs: int = 10) -> Part:
    return Part("task", BootstrapTest(value, value - 2 * se, value + 2 * se, p, se, runs))


def test_a_claim_p_value_corrects_for_the_parts_the_data_pick():
    """'Every task' holds on its largest p and fails on its smallest times the parts; '2 of 3'
    holds on the second smallest times 2."""
    every = Claim("BE", "every task", "", needed=3, parts=[part(1, 0.01), part(2, 0.02), part(3, 0.03)])
    assert every.direction() == (HOLDS, 0.03)
    one_fails = Claim("BE", "every task", "", needed=3, parts=[part(1, 0.01), part(2, 0.02), part(-3, 0.02)])
    assert one_fails.direction() == (FAILS, pytest.approx(0.06))
    two_of_three = Claim("BE", "2 of 3", "", needed=2, parts=[part(1, 0.01), part(2, 0.02), part(-1, 0.9)])
    assert two_of_three.direction() == (HOLDS, pytest.approx(0.04))


def test_holm_adjustment_by_hand():
    # Sorted 0.005, 0.01, 0.03, 0.04: times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06.
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_verdicts_follow_the_adjusted_p_values_and_show_the_raw_ones():
    strong, weak = (Claim("BE", s, "", parts=[part(5, p)]) for s, p in (("strong", 0.001), ("weak", 0.03)))
    untested = Claim("BE", "untested", "")
    decide([strong, weak, untested])
    assert (strong.verdict, strong.p_adjusted) == (HOLDS, pytest.approx(0.002))
    # 0.03 passes alone but not among two: Holm's second step is 0.05 / 1 after the first's 0.05 / 2,
    # the first being 0.001, so weak's adjusted p is max(0.002, 1 x 0.03) = 0.03: it holds.
    assert (weak.raw_verdict, weak.verdict, weak.p_adjusted) == (HOLDS, HOLDS, pytest.approx(0.03))
    weak.parts = [part(5, 0.04)]
    third = Claim("BE", "third", "", parts=[part(5, 0.04)])
    decide([strong, weak, third])  # 0.04 twice: 2 x 0.04 = 0.08 for both
    assert (weak.raw_verdict, weak.verdict, weak.p_adjusted) == (HOLDS, INCONCLUSIVE, pytest.approx(0.08))
    assert untested.verdict == NOT_TESTED and np.isnan(untested.p_adjusted)


def test_fourteen_claims_with_no_true_difference_give_no_verdict_in_most_repeats():
    """14 single-part claims, each a paired bootstrap of two candidates with equal means: a raw
    verdict somewhere in most repeats, an adjusted one in at most about 5 % of them."""
    rng = np.random.default_rng(0)
    raw_any, adjusted_any, repeats = 0, 0, 200
    for _ in range(repeats):
        claims = []
        for i in range(14):
            runs = rng.normal(0.0, 1.0, size=(1, 10))
            claims.append(Claim("BE", str(i), "", parts=[Part("t", bootstrap_test([runs], lambda m: m[0][:, 0],
                                                                                   resamples=400, seed=i))]))
        decide(claims)
        raw_any += any(c.raw_verdict != INCONCLUSIVE for c in claims)
        adjusted_any += any(c.verdict != INCONCLUSIVE for c in claims)
    # At level 0.05 a 10-run percentile bootstrap rejects a true null somewhat more often than
    # 5 % (it is narrow at 10 runs); 14 rows then give at least one raw verdict in over half of
    # the repeats, the adjusted ones in few.
    assert raw_any / repeats > 0.5
    assert adjusted_any / repeats <= 0.10


def test_power_line_matches_a_hand_computation():
    """se 5 over 5 runs, one claim (level 0.05): (1.95996 + 0.84162) x 5 = 14.0 detectable;
    the observed 10 needs 5 x (14.008 / 10)^2 = 9.8 -> 10 runs."""
    claim = Claim("BE", "one", "", unit="return", parts=[Part("t", BootstrapTest(10.0, -0.5, 20.5, 0.07, 5.0, 5))])
    decide([claim])
    assert claim.verdict == INCONCLUSIVE
    assert "detects 14.0 return with 5 runs" in claim.power and "needs 10 runs" in claim.power
    assert detectable_difference(5.0, 0.05) == pytest.approx(14.0079, abs=1e-3)
    assert runs_to_detect(10.0, 5.0, 5, 0.05) == 10


def returns_frame(means: dict, runs: int = 6, noise: float = 1.0) -> pd.DataFrame:
    """Returns of (dataset, family, alpha, q, algorithm, task) -> mean, with small noise, over
    2 collection seeds x ``runs // 2`` training seeds."""
    rng = np.random.default_rng(0)
    rows = []
    for (dataset, family, alpha, q, algorithm, task), mean in means.items():
        for run in range(runs):
            rows.append({"dataset": dataset, "family": family, "alpha": alpha, "q": q, "algorithm": algorithm,
                         "task": task, "collection_seed": run % 2, "seed": run // 2,
                         "return": mean + noise * rng.normal()})
    return pd.DataFrame(rows)


def be_grid(be_walk_run: float, noise: float = 1.0) -> pd.DataFrame:
    """BE better than Shannon by 100 on stand and walk; on run by ``be_walk_run - 300``."""
    nan = np.nan
    means = {}
    for task in TASKS:
        be = be_walk_run if task == "walker_run" else 400
        means[("be_a0.5", "BE", 0.5, nan, "td3", task)] = be
        means[("be_a0.5", "BE", 0.5, nan, "cql", task)] = be - 50
        means[("be_a2.0", "BE", 2.0, nan, "td3", task)] = 100
        means[("shannon", "Shannon", nan, nan, "td3", task)] = 300
        means[("renyi_q0.5", "Rényi", nan, 0.5, "td3", task)] = 200
    return returns_frame(means, noise=noise)


def test_be_beats_a_family_on_every_task_holds_fails_or_is_inconclusive():
    assert family_beats(be_grid(600), TASKS, "Shannon", 1.0).verdict == HOLDS
    assert family_beats(be_grid(200), TASKS, "Shannon", 1.0).verdict == FAILS
    assert family_beats(be_grid(300), TASKS, "Shannon", 1.0).verdict == INCONCLUSIVE  # a tie on one task
    two_runs = be_grid(600)[lambda frame: frame.seed == 0]  # 2 collection seeds x 1 training seed
    claim = family_beats(two_runs, TASKS, "Shannon", 1.0)
    assert claim.verdict == INCONCLUSIVE and "walker run +298.2 (no interval: fewer than 5 runs)" in claim.measured
    # 4 of 5 as a share: 3 tasks need ceil(2.4) = 3.
    assert family_beats(be_grid(150), TASKS, "Rényi", 0.8).verdict == FAILS
    claim = family_beats(be_grid(600), TASKS, "SMM", 1.0)
    assert claim.verdict == NOT_TESTED and "no SMM" in claim.measured


def test_best_below_one_needs_both_sides_and_compares_the_best_of_each():
    grid = be_grid(600, noise=0.0)
    claim = best_below_one(grid, TASKS, "BE", "alpha")
    # (400 + 400 + 600) / 3 - 100: best at alpha 0.5 minus best at alpha 2, mean over tasks.
    assert claim.verdict == HOLDS and f"{(400 + 400 + 600) / 3 - 100:+.1f} [" in claim.measured
    assert best_below_one(grid, TASKS, "Rényi", "q").verdict == NOT_TESTED


def coverage_frame(values: dict[float, list[float]], domain="walker") -> pd.DataFrame:
    """Grid occupancy in the representation space per alpha, one value per collection seed."""
    return pd.DataFrame([{"domain": domain, "space": "representation", "dataset": f"be_a{alpha}",
                          "alpha": alpha, "q": np.nan, "grid_occupancy": value, "collection_seed": seed}
                         for alpha, seeds in values.items() for seed, value in enumerate(seeds)])


def test_widest_coverage_needs_replicates_for_an_interval():
    wide = coverage_frame({0.5: [0.2, 0.21, 0.19], 2.0: [0.3, 0.31, 0.29], 5.0: [0.5, 0.52, 0.49]})
    claim = widest_alpha_coverage(wide)
    # Margins 0.20, 0.21, 0.20 over three seeds: mean 0.203, Student t half-width 0.014.
    assert claim.verdict == HOLDS and "+0.203 [+0.189, +0.218]" in claim.measured
    single = coverage_frame({0.5: [0.2], 5.0: [0.5]})
    assert widest_alpha_coverage(single).verdict == INCONCLUSIVE
    assert widest_alpha_coverage(coverage_frame({0.5: [0.2], 2.0: [0.3]})).verdict == NOT_TESTED


def test_smooth_coverage_is_read_as_a_monotone_trend_in_alpha():
    alphas = [0.2, 0.5, 0.7, 0.9, 1.5, 2.0]
    monotone = coverage_frame({a: [0.1 * i] for i, a in enumerate(alphas)})
    claim = smooth_in_alpha(monotone)
    assert claim.verdict == HOLDS and "ρ = +1.00" in claim.measured
    zigzag = coverage_frame({a: [0.1 * (i % 2)] for i, a in enumerate(alphas)})
    assert smooth_in_alpha(zigzag).verdict == INCONCLUSIVE
    assert smooth_in_alpha(coverage_frame({0.5: [0.1], 2.0: [0.2]})).verdict == NOT_TESTED


def scores_frame(means: dict[str, float], datasets="abcdef", seeds=4):
    """Normalised scores of six distillations (datasets a-f, walker walk), ``seeds`` each."""
    strata = [(dataset, "walker_walk") for dataset in datasets]
    rng = np.random.default_rng(2)
    return pd.DataFrame([{"dataset": d, "task": t, "method": m, "collection_seed": 0, "seed": s,
                          "score": mean + 0.01 * rng.normal()}
                         for d, t in strata for m, mean in means.items() for s in range(seeds)])


def test_objective_order_holds_only_when_every_step_of_the_chain_does():
    ordered = scores_frame({"av_pbc": 40, "pbc": 30, "dbc": 20, "random": 8})
    claim = objective_order(ordered)
    assert claim.verdict == HOLDS and "40.0 > 30.0 > 20.0 > 8.0" in claim.measured
    assert objective_order(scores_frame({"av_pbc": 40, "pbc": 45, "dbc": 20, "random": 8})).verdict == FAILS
    assert objective_order(scores_frame({"av_pbc": 40, "dbc": 20, "random": 8})).verdict == NOT_TESTED
    # Four distillations are too few for a bootstrap interval, however clear the difference.
    few = objective_order(scores_frame({"av_pbc": 40, "pbc": 30, "dbc": 20, "random": 8}, datasets="abcd"))
    assert few.verdict == INCONCLUSIVE and "no interval: fewer than 5 runs" in few.measured


def test_size_claim_compares_the_largest_set_with_the_smallest():
    sizes = scores_frame({16: 10, 64: 30}).rename(columns={"method": "size"})
    claim = improves_with_size(sizes)
    assert claim.verdict == HOLDS and "16 -> 10.0, 64 -> 30.0" in claim.measured
    assert improves_with_size(sizes[sizes["size"] == 16]).verdict == NOT_TESTED


def fake_distillation(path, task, objective, final, random_pairs, synthetic=16, generalisation=None):
    save_torch(path, {"task": task, "objective": objective, "final": final, "random_pairs": random_pairs,
                      "config": {"synthetic": synthetic}, "curve": [{"step": 10, "returns": final}],
                      "generalisation": generalisation or {}})
    return path


def test_the_scorecard_names_its_preset_and_gives_every_claim_a_verdict(tmp_path):
    from test_report import DATASETS, fake_evaluation, random_reference

    from berl.reports.offline import aggregate

    files = []
    for collection_seed in (0, 1):
        for dataset, value in (("be_a0.5", 500), ("shannon", 300), ("rnd", 100), ("renyi_q0.5", 200)):
            for task in TASKS:
                files.append(fake_evaluation(tmp_path / "eval" / dataset / f"{task}.json", task, dataset,
                                             [[value + 5 * s + collection_seed] for s in range(3)],
                                             collection_seed=collection_seed))
    aggregate(files, tmp_path / "returns.csv", DATASETS)
    coverage = []
    for collection_seed in (0, 1):
        path = tmp_path / "coverage" / f"seed{collection_seed}" / "coverage.csv"
        path.parent.mkdir(parents=True)
        pd.DataFrame([{"domain": "walker", "space": "representation", "dataset": "be_a0.5", "family": "BE",
                       "alpha": 0.5, "q": np.nan, "points": 10, "grid_occupancy": 0.4}]).to_csv(path, index=False)
        coverage.append(path)
    distilled, sizes, baselines = [], [], []
    for dataset in ("random", "rnd", "be_a0.5", "renyi_q0.5", "shannon"):  # five distillations
        folder = tmp_path / "distill" / dataset / "seed0" / "walker_walk"
        for objective, value in (("dbc", 200), ("pbc", 300), ("av_pbc", 400)):
            general = {"ensemble10": [value + 100 + s for s in range(3)]} if objective == "av_pbc" else None
            distilled.append(fake_distillation(folder / f"{objective}_n16.pt", "walker_walk", objective,
                                               [value + s for s in range(3)], [50 + s for s in range(3)],
                                               generalisation=general))
        sizes += [distilled[-1], fake_distillation(folder / "av_pbc_n8.pt", "walker_walk", "av_pbc",
                                                   [100 + s for s in range(3)], [50, 51, 52], synthetic=8)]
        write_json(folder / "baselines.json", {"task": "walker_walk", "whole_data_bc": [600, 610, 620, 630, 640],
                                                "teacher": [700, 720, 710, 730, 690]})
        baselines.append(folder / "baselines.json")

    d4rl_rows = [{"dataset": name, "collection_seed": 0, "task": "Hopper-v4", "method": method, "seed": seed,
                  "score": value + seed + 0.5 * n}
                 for n, name in enumerate(["hopper-medium-v2", "hopper-medium-replay-v2", "walker2d-medium-v2",
                                           "walker2d-medium-expert-v2", "halfcheetah-medium-v2"])  # 5: an interval
                 for method, value in (("random", 5), ("dbc", 20), ("pbc", 30), ("av_pbc", 38), ("whole_data_bc", 46),
                                       ("teacher", 60))
                 for seed in range(3)]
    d4rl_scores = tmp_path / "d4rl_scores.csv"
    pd.DataFrame(d4rl_rows).to_csv(d4rl_scores, index=False)
    reference = random_reference(tmp_path, {task: [10.0 + r for r in range(10)] for task in TASKS})
    claims = write_reproduction(tmp_path / "returns.csv", TASKS, coverage, distilled, baselines, sizes,
                                tmp_path / "reproduction", {"preset": "quick", "config hash": "abc"},
                                random_reference=reference, d4rl_scores=d4rl_scores)
    verdicts = {claim.statement.split(" (")[0]: claim.verdict for claim in claims}
    assert verdicts["BE beats Shannon on every task"] == HOLDS
    assert verdicts["BE beats Rényi on 4 of 5 tasks"] == HOLDS
    assert verdicts["BE beats SMM on every task"] == NOT_TESTED
    assert verdicts["Av-PBC > PBC > DBC > random selection"] == HOLDS
    assert verdicts["ensembles of 10 policies lift Av-PBC"] == HOLDS
    assert verdicts["Av-PBC improves with N_syn"] == HOLDS
    assert verdicts["coverage changes smoothly with α"] == NOT_TESTED
    assert verdicts["on D4RL: Av-PBC > PBC > DBC > random selection"] == HOLDS
    assert verdicts["on D4RL: BC on the whole data beats BC on Av-PBC's distilled pairs"] == HOLDS
    markdown = (tmp_path / "reproduction.md").read_text()
    assert markdown.startswith("# Reproduction scorecard, preset quick")
    assert "not as a reproduction" in markdown and "2 collection seed(s) x 3 training seeds" in markdown
    # Each claim twice: its line in the summary, its row in the details.
    assert markdown.count("| BE |") == 18 and markdown.count("| OBD |") == 6 and markdown.count("| OBD (D4RL) |") == 4
    assert "adjusted for the 8 claims tested (Holm-Bonferroni)" in markdown
    assert (tmp_path / "reproduction.pdf").read_bytes().startswith(b"%PDF")
    assert torch.load(distilled[0], weights_only=False)["objective"] == "dbc"


def test_spearman_permutation_test_is_exact_for_few_points():
    from berl.core.stats import spearman_permutation_test

    rho, p = spearman_permutation_test([1, 2, 3, 4, 5], [2, 4, 6, 8, 100])
    assert rho == pytest.approx(1.0) and p == pytest.approx(2 / 120)  # the order and its reverse
    rho, p = spearman_permutation_test([1, 2, 3, 4], [1, 3, 2, 4])
    # rho = 1 in one order and 0.8 in three (one adjacent swap), and as many negative: 8 of 24.
    assert rho == pytest.approx(0.8) and p == pytest.approx(8 / 24)


def test_table2_shows_normalised_scores_an_average_row_and_the_generalisation_table(tmp_path):
    from berl.reports.distill import write_table2

    distilled, baselines = [], []
    for dataset, value in (("random", 100), ("rnd", 300)):
        folder = tmp_path / dataset / "seed0" / "walker_walk"
        general = {"mlp2": [value + 10, value + 30], "ensemble10": [value + 50, value + 70]}
        distilled.append(fake_distillation(folder / "av_pbc_n16.pt", "walker_walk", "av_pbc", [value, value + 20],
                                           [10, 30], generalisation=general))
        write_json(folder / "baselines.json", {"task": "walker_walk", "whole_data_bc": [500, 520],
                                                "teacher": [600, 640, 680]})
        baselines.append(folder / "baselines.json")
    datasets = [{"name": "random", "agent": "random"}, {"name": "rnd", "agent": "rnd"}]
    write_table2(distilled, baselines, datasets, tmp_path / "table2", {"preset": "smoke"})
    tex = (tmp_path / "table2.tex").read_text()
    # Normalised (% of 1000): Av-PBC 11.0 and 31.0, averaged to 21.0; the teacher 64.0 ± 4.0.
    assert r"\textbf{11.0 $\pm$ 1.4}" in tex and r"64.0 $\pm$ 4.0" in tex
    first, second = (line for line in tex.splitlines() if line.strip().startswith("average"))
    assert first.split("&")[2:] == [" 2.0 ", " 21.0 ", " 51.0 ", r" 64.0 \\"]  # random, Av-PBC, BC, teacher
    assert second.split("&")[3:] == [" 21.0 ", " 22.0 ", r" 26.0 \\"]  # as distilled, 2 layers, ensemble
    general = pd.read_csv(tmp_path / "table2_generalisation.csv", comment="#")
    assert set(general.learner) == {"default", "mlp2", "ensemble10"} and (general.runs == 2).all()


def random_policy(mean: float, tasks=TASKS) -> pd.DataFrame:
    """The random policy's reference at ``mean`` on every task, interval ±1."""
    return pd.DataFrame({"mean": mean, "ci_low": mean - 1, "ci_high": mean + 1}, index=pd.Index(tasks, name="task"))


def test_return_claims_are_scored_only_on_tasks_where_learning_shows():
    grid = be_grid(600)  # BE 400 / 400 / 600, Shannon 300 on every task
    assert family_beats(grid, TASKS, "Shannon", 1.0, random_policy(100.0)).verdict == HOLDS
    # Everything at or below the random policy: nothing learned, nothing decided.
    claim = family_beats(grid, TASKS, "Shannon", 1.0, random_policy(700.0))
    assert claim.verdict == NOT_TESTED and "walker stand: no learning, best 400.1 [399.8, 400.4]" in claim.measured
    assert "vs random policy 700.0 [699.0, 701.0]" in claim.measured
    # Shannon at the random policy's level and BE above it is a finding, not noise.
    assert family_beats(grid, TASKS, "Shannon", 1.0, random_policy(300.0)).verdict == HOLDS
    # Only walker run (BE 600) is above a random policy at 500: the claim is scored there alone.
    claim = family_beats(grid, TASKS, "Shannon", 1.0, random_policy(500.0))
    assert [part.label for part in claim.parts] == ["walker run"] and claim.verdict == HOLDS
    assert "Not scored: walker stand: no learning" in claim.measured


def test_a_teacher_at_random_level_leaves_the_distillation_claims_untested_never_failed():
    # PBC above Av-PBC would fail the chain, but the teacher scores like random selection.
    noise = scores_frame({"av_pbc": 2.0, "pbc": 2.6, "dbc": 2.1, "random": 2.0, "teacher": 2.05,
                          "whole_data_bc": 2.1}, seeds=6)
    reference = random_policy(20.0, ["walker_walk"])  # 2.0 % normalised
    gate = distillation_learns(noise, reference)
    assert gate.startswith("walker walk: no learning at this preset, teacher 2.0 [")
    assert "random policy 2.0 [1.9, 2.1]" in gate
    claim = objective_order(noise, gate=gate)
    assert claim.verdict == NOT_TESTED and not claim.parts and gate in claim.measured
    assert improves_with_size(noise.rename(columns={"method": "size"}), gate=gate).verdict == NOT_TESTED
    learnt = scores_frame({"av_pbc": 40, "pbc": 30, "dbc": 20, "random": 8, "teacher": 60, "whole_data_bc": 45},
                          seeds=6)
    assert distillation_learns(learnt, reference) == ""
    assert objective_order(learnt, gate=distillation_learns(learnt, reference)).verdict == HOLDS
    # Whole-data BC at random level is enough to leave it untested.
    no_bc = learnt.assign(score=np.where(learnt.method == "whole_data_bc", 2.0, learnt.score))
    assert "whole-data BC 2.0 [" in distillation_learns(no_bc, reference)


def test_the_claims_preset_has_what_every_be_claim_needs(repo):
    """Returns on the claims preset's datasets and tasks (every one above the random policy)
    and coverage per collection seed: each of the BE paper's nine claims is tested, none is
    left 'not tested' for want of a dataset, an alpha or a replicate."""
    import yaml

    from berl.core.constants import family_of
    from berl.reports.reproduction import scorecard

    preset = yaml.safe_load((repo / "config.yaml").read_text())["presets"]["claims"]
    rng = np.random.default_rng(0)
    means = {(spec["name"], family_of(spec), spec.get("alpha", np.nan), spec.get("q", np.nan), "td3", task):
             300 + 10 * i for i, spec in enumerate(preset["datasets"]) for task in preset["tasks"]}
    returns = returns_frame(means, runs=preset["offline"]["seeds"] * preset["collect"]["seeds"])
    alphas = [spec["alpha"] for spec in preset["datasets"] if "alpha" in spec]
    coverage = coverage_frame({alpha: list(0.1 * i + 0.01 * rng.normal(size=preset["collect"]["seeds"]))
                               for i, alpha in enumerate(sorted(alphas))})
    empty = pd.DataFrame(columns=["method", "dataset", "collection_seed", "task", "score", "objective", "learner",
                                  "size"])
    claims = scorecard(returns, preset["tasks"], coverage, empty, empty, empty.rename(columns={}), empty,
                       random_policy(100.0, preset["tasks"]))
    be = [claim for claim in claims if claim.paper == "BE"]
    assert len(be) == 9 and all(claim.tested for claim in be), [c.measured for c in be if not c.tested]
