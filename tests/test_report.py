from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from berl.core.validate import InputError
from berl.core.constants import family_of
from berl.core.io import write_json
from berl.offline.evaluate import evaluation_record
from berl.reports.common import provenance
from berl.reports.offline import aggregate, write_table1

DATASETS = [
    {"name": "random", "agent": "random"},
    {"name": "rnd", "agent": "rnd"},
    {"name": "be_a0.5", "agent": "apt", "reward": "be", "alpha": 0.5},
    {"name": "be_a1.0", "agent": "apt", "reward": "be", "alpha": 1.0},
    {"name": "renyi_q0.5", "agent": "apt", "reward": "renyi", "q": 0.5},
    {"name": "shannon", "agent": "apt", "reward": "shannon"},
]

TASKS = ["walker_stand", "walker_walk", "quadruped_run"]


def fake_evaluation(path, task, dataset, returns, earlier=None, algorithm="td3", collection_seed=0):
    """An evaluation file of one seed per row of ``returns`` (episode returns), optionally
    with an earlier point of the learning curve, in the ``seed<k>`` folder of its
    collection seed beside ``path``."""
    members = [{"task": task, "seed": seed} for seed in range(len(returns))]
    curve = ([{"step": 50, "returns": earlier}] if earlier else []) + [{"step": 100, "returns": returns}]
    path = Path(path).parent / f"seed{collection_seed}" / Path(path).name
    write_json(path, evaluation_record(algorithm, dataset, members, curve, "agents.pt"))
    return path


def random_reference(tmp_path, returns_by_task: dict[str, list[float]]) -> list[Path]:
    """``random-reference`` records of the given episode returns, one per task."""
    paths = []
    for task, returns in returns_by_task.items():
        paths.append(tmp_path / "random_policy" / f"{task}.json")
        write_json(paths[-1], {"task": task, "policy": "uniform random", "returns": returns})
    return paths


def test_families_follow_the_paper_with_be_at_alpha_one_as_shannon():
    assert [family_of(d) for d in DATASETS] == ["random", "RND", "BE", "Shannon", "Rényi", "Shannon"]
    assert family_of({"agent": "apt", "reward": "be", "alpha": 1.0, "beta": 2.0}) == "BE"
    assert family_of({"agent": "smm"}) == "SMM"


def test_returns_hold_the_final_and_the_best_evaluation_per_seed(tmp_path):
    path = fake_evaluation(tmp_path / "a.json", "walker_run", "rnd", [[10, 20], [40, 40]],
                           earlier=[[30, 30], [0, 10]])
    returns = aggregate([path], tmp_path / "returns.csv", DATASETS)
    assert returns["return"].tolist() == [15, 40]
    assert returns["best_return"].tolist() == [30, 40]
    assert returns[["domain", "task", "collection_seed", "seed"]].values.tolist() == [
        ["walker", "walker_run", 0, 0], ["walker", "walker_run", 0, 1]
    ]


def test_table1_reports_mean_and_sample_std_over_runs(tmp_path):
    files = [
        fake_evaluation(tmp_path / "a.json", "walker_stand", "random", [[100, 200], [300, 300]]),
        fake_evaluation(tmp_path / "b.json", "walker_walk", "random", [[10], [20], [60]]),
        fake_evaluation(tmp_path / "c.json", "quadruped_run", "random", [[5], [7]]),
    ]
    aggregate(files, tmp_path / "returns.csv", DATASETS)
    meta = provenance("smoke", "abc123")
    write_table1(tmp_path / "returns.csv", TASKS, random_reference(tmp_path, {t: [1.0, 3.0] for t in TASKS}),
                 tmp_path / "table1", meta)

    table = pd.read_csv(tmp_path / "table1_full.csv", comment="#")
    walker = table[table.domain == "walker"].iloc[0]
    assert walker.walker_stand_mean == pytest.approx(225.0)  # seeds score 150 and 300
    assert walker.walker_stand_std == pytest.approx(75.0 * np.sqrt(2))  # ddof 1: |300 - 150| / sqrt(2)
    assert walker.walker_walk_mean == pytest.approx(30.0)
    assert walker.walker_walk_std == pytest.approx(np.sqrt((20**2 + 10**2 + 30**2) / 2), abs=1e-4)
    assert np.isnan(walker.quadruped_run_mean)
    assert table.domain.tolist() == ["walker", "quadruped"]

    for suffix in (".csv", ".tex"):
        text = (tmp_path / f"table1{suffix}").read_text()
        assert "smoke" in text and "abc123" in text and "torch" in text
    assert r"225.0 $\pm$ 106.1" in (tmp_path / "table1.tex").read_text()
    assert (tmp_path / "table1.pdf").read_bytes().startswith(b"%PDF")


def test_aggregate_refuses_an_empty_set_and_names_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no evaluation"):
        aggregate([], tmp_path / "returns.csv", DATASETS)
    broken = tmp_path / "broken.json"
    broken.write_text("{\"task\": ")
    with pytest.raises(InputError, match="broken.json"):
        aggregate([broken], tmp_path / "returns.csv", DATASETS)


def grid_of_evaluations(tmp_path):
    """walker_walk: BE 0.5 best under CQL, BE 1.0 (Shannon) best under TD3, and others."""
    scores = {  # (dataset, algorithm) -> seeds' returns
        ("be_a0.5", "td3"): [300, 320], ("be_a0.5", "cql"): [500, 520],
        ("be_a1.0", "td3"): [400, 420], ("be_a1.0", "cql"): [100, 140],
        ("renyi_q0.5", "td3"): [200, 260], ("renyi_q0.5", "cql"): [210, 230],
        ("shannon", "td3"): [350, 370], ("shannon", "cql"): [50, 70],
        ("rnd", "td3"): [150, 150], ("rnd", "cql"): [90, 110],
    }
    files = [
        fake_evaluation(tmp_path / f"{d}_{a}.json", "walker_walk", d, [[r] for r in returns],
                        earlier=[[r / 2] for r in returns], algorithm=a)
        for (d, a), returns in scores.items()
    ]
    aggregate(files, tmp_path / "returns.csv", DATASETS)
    return files


def test_table1_takes_the_best_dataset_and_algorithm_of_each_family(tmp_path):
    grid_of_evaluations(tmp_path)
    best = write_table1(tmp_path / "returns.csv", ["walker_walk"], random_reference(tmp_path, {"walker_walk": [30.0]}),
                        tmp_path / "table1", provenance("smoke", "abc"))
    by_family = best.set_index("family")
    assert by_family.loc["BE", ["dataset", "algorithm", "mean"]].tolist() == ["be_a0.5", "cql", 510]
    # Shannon's family holds APT-Shannon and BE at alpha = 1: the latter wins here.
    assert by_family.loc["Shannon", ["dataset", "algorithm", "mean"]].tolist() == ["be_a1.0", "td3", 410]
    assert by_family.loc["Rényi", "mean"] == 230 and by_family.loc["RND", "mean"] == 150
    tex = (tmp_path / "table1.tex").read_text()
    assert r"\textbf{510.0 (no interval: fewer than 5 runs)}" in tex  # two runs: no bootstrap interval
    # ddof 1 over the two seeds; the winner in small print; the best family bold on the
    # std page and on the interval page only.
    assert r"\textbf{510.0 $\pm$ 14.1 {\scriptsize ($\alpha$=0.5, CQL)}}" in tex
    assert tex.count(r"\textbf") == 2
    assert (tmp_path / "table1.pdf").read_bytes().startswith(b"%PDF")


def test_figures_and_iqm_are_drawn_from_the_returns(tmp_path):
    from berl.reports.offline import (
        iqm_table,
        write_fig4,
        write_iqm,
        write_learning_curves,
    )

    files = grid_of_evaluations(tmp_path)
    meta = provenance("smoke", "abc")
    reference = random_reference(tmp_path, {"walker_walk": [30.0, 50.0]})
    write_fig4(tmp_path / "returns.csv", reference, tmp_path / "fig4.pdf", meta)
    write_learning_curves(files, DATASETS, reference, tmp_path / "curves.pdf", meta)
    with pytest.raises(InputError, match="no random-policy reference for walker_walk"):
        write_fig4(tmp_path / "returns.csv", random_reference(tmp_path, {"walker_run": [1.0]}), tmp_path / "x.pdf", meta)
    table = write_iqm(tmp_path / "returns.csv", tmp_path / "iqm", meta)
    for name in ("fig4.pdf", "curves.pdf", "iqm.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF"), name
    row = table.set_index(["dataset", "algorithm"]).loc[("be_a0.5", "cql")]
    assert row.iqm == pytest.approx(0.51) and row.ci_low <= 0.51 <= row.ci_high
    assert row.runs == 2 and row.tasks == 1
    returns = pd.read_csv(tmp_path / "returns.csv")
    assert iqm_table(returns, resamples=50).equals(iqm_table(returns, resamples=50))


def test_fig4_shows_a_sweep_of_one_alpha_and_one_q_inside_its_axes(tmp_path, monkeypatch):
    """The default run's grid: BE at one alpha, Rényi at one q (the same value). The autouse
    ``figures_show_their_data`` fails the save if a point sits on or beyond the frame."""
    from conftest import artists_outside_axes
    from matplotlib.figure import Figure

    from berl.reports.offline import write_fig4

    files = [fake_evaluation(tmp_path / task / f"{d}.json", task, d, [[r], [r + 10]])
             for task in ("walker_stand", "walker_walk")
             for d, r in (("be_a0.5", 300), ("renyi_q0.5", 200), ("shannon", 250), ("rnd", 100))]
    aggregate(files, tmp_path / "returns.csv", DATASETS)
    drawn = []
    checked_save = Figure.savefig  # the autouse check's wrapper: record the figure it checks

    def keep(self, *args, **kwargs):
        drawn.append(self)
        return checked_save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    write_fig4(tmp_path / "returns.csv", random_reference(tmp_path, {t: [30.0, 50.0] for t in
                                                                     ("walker_stand", "walker_walk")}),
               tmp_path / "fig4.pdf", provenance("quick", "abc"))
    assert len(drawn) == 1 and artists_outside_axes(drawn[0]) == []
    for axes in drawn[0].axes:
        left, right = axes.get_xlim()
        assert right / 0.5 > 1.2 and 0.5 / left > 1.2  # room on both sides of the one point


def test_table1_pools_collection_seeds_and_compares_fairly(tmp_path):
    """Three replicate datasets x two training seeds are six runs of a cell; the fair page
    sets each BE dataset against each other dataset with a paired interval."""
    files = []
    for collection_seed, shift in ((0, 0), (1, 40), (2, 80)):
        for dataset, base in (("be_a0.5", 500), ("rnd", 100), ("shannon", 520)):
            files.append(fake_evaluation(tmp_path / f"{dataset}.json", "walker_walk", dataset,
                                         [[base + shift], [base + shift + 10]], collection_seed=collection_seed))
    returns = aggregate(files, tmp_path / "returns.csv", DATASETS)
    assert sorted(set(zip(returns.collection_seed, returns.seed))) == [(c, s) for c in range(3) for s in range(2)]
    reference = random_reference(tmp_path, {"walker_walk": [100.0 + r for r in range(30)]})
    best = write_table1(tmp_path / "returns.csv", ["walker_walk"], reference, tmp_path / "table1",
                        provenance("smoke", "abc"))
    be = best.set_index("family").loc["BE"]
    runs = [500, 510, 540, 550, 580, 590]
    assert be["runs"] == 6 and be["mean"] == 545 and be["std"] == pytest.approx(np.std(runs, ddof=1))
    assert 500 <= be["ci_low"] < 545 < be["ci_high"] <= 590 and be["winner"] == "α=0.5, TD3"
    fair = pd.read_csv(tmp_path / "table1_fair.csv", comment="#").set_index("other")
    # Paired by run, the differences are constant (+400 and -20), so the intervals are points.
    assert fair.loc["rnd", ["difference", "ci_low", "ci_high", "outcome"]].tolist() == [400, 400, 400, "better"]
    assert fair.loc["shannon", "outcome"] == "worse"
    tex = (tmp_path / "table1.tex").read_text()
    assert "3 collection x 2 training seeds" in tex
    assert "+400.0 (1–0–0)" in tex and "-20.0 (0–1–0)" in tex


def test_table1_sets_the_best_family_against_the_random_policy(tmp_path):
    """Learning shows where the best family's interval lies above the random policy's."""
    files = [fake_evaluation(tmp_path / "be.json", "walker_walk", "be_a0.5", [[500 + 10 * r] for r in range(6)])]
    aggregate(files, tmp_path / "returns.csv", DATASETS)
    verdicts = {}
    for label, returns in (("far below", [100.0 + r for r in range(30)]), ("level", [525.0 + r for r in range(-5, 5)]),
                           ("above", [900.0] * 3 + [910.0] * 3)):
        write_table1(tmp_path / "returns.csv", ["walker_walk"], random_reference(tmp_path, {"walker_walk": returns}),
                     tmp_path / "table1", provenance("quick", "abc"))
        row = pd.read_csv(tmp_path / "table1_random.csv", comment="#").iloc[0]
        verdicts[label] = row.learning
        assert row.random_mean == pytest.approx(np.mean(returns)) and row.best_mean == 525
        assert row.random_ci_low <= row.random_mean <= row.random_ci_high
    assert verdicts == {"far below": "above", "level": "overlap", "above": "below"}
    tex = (tmp_path / "table1.tex").read_text()
    assert "random policy" in tex and "905.0 $\\pm$ 5.5 {\\scriptsize (6 episodes)}" in tex


def test_the_random_policy_reference_is_reproducible_and_far_from_learnt_returns():
    from berl.offline.evaluate import random_policy_returns

    returns = random_policy_returns("walker_stand", 3)
    np.testing.assert_array_equal(returns, random_policy_returns("walker_stand", 3))
    assert not np.array_equal(returns, random_policy_returns("walker_stand", 3, seed=1))
    # A random walker falls: standing upright is rewarded about 1 per step, ~1000 at best.
    assert 50 < returns.mean() < 400, returns
