import numpy as np
import pandas as pd
import pytest

from berl.evaluate import evaluation_record
from berl.io import write_json
from berl.report import aggregate, provenance, write_table1

TASKS = ["walker_stand", "walker_walk", "quadruped_run"]


def fake_evaluation(path, task, dataset, returns, earlier=None):
    """An evaluation file of one seed per row of ``returns`` (episode returns), optionally
    with an earlier point of the learning curve."""
    members = [{"task": task, "seed": seed} for seed in range(len(returns))]
    curve = ([{"step": 50, "returns": earlier}] if earlier else []) + [{"step": 100, "returns": returns}]
    write_json(path, evaluation_record("td3", dataset, members, curve, "agents.pt"))
    return path


def test_returns_hold_the_final_and_the_best_evaluation_per_seed(tmp_path):
    path = fake_evaluation(tmp_path / "a.json", "walker_run", "rnd", [[10, 20], [40, 40]],
                           earlier=[[30, 30], [0, 10]])
    returns = aggregate([path], tmp_path / "returns.csv")
    assert returns["return"].tolist() == [15, 40]
    assert returns["best_return"].tolist() == [30, 40]
    assert returns[["domain", "task", "seed"]].values.tolist() == [
        ["walker", "walker_run", 0], ["walker", "walker_run", 1]
    ]


def test_table1_reports_mean_and_std_over_seeds(tmp_path):
    files = [
        fake_evaluation(tmp_path / "a.json", "walker_stand", "random", [[100, 200], [300, 300]]),
        fake_evaluation(tmp_path / "b.json", "walker_walk", "random", [[10], [20], [60]]),
        fake_evaluation(tmp_path / "c.json", "quadruped_run", "random", [[5], [7]]),
    ]
    aggregate(files, tmp_path / "returns.csv")
    meta = provenance("smoke", "abc123")
    write_table1(tmp_path / "returns.csv", TASKS, tmp_path / "table1", meta)

    table = pd.read_csv(tmp_path / "table1.csv", comment="#")
    walker = table[table.domain == "walker"].iloc[0]
    assert walker.walker_stand_mean == pytest.approx(225.0)  # seeds score 150 and 300
    assert walker.walker_stand_std == pytest.approx(75.0)
    assert walker.walker_walk_mean == pytest.approx(30.0)
    assert walker.walker_walk_std == pytest.approx(np.std([10, 20, 60]), abs=1e-4)  # 4 decimals
    assert np.isnan(walker.quadruped_run_mean)
    assert table.domain.tolist() == ["walker", "quadruped"]

    for suffix in (".csv", ".tex"):
        text = (tmp_path / f"table1{suffix}").read_text()
        assert "smoke" in text and "abc123" in text and "torch" in text
    assert r"225.0 $\pm$ 75.0" in (tmp_path / "table1.tex").read_text()
    assert (tmp_path / "table1.pdf").read_bytes().startswith(b"%PDF")


def test_aggregate_refuses_an_empty_set_and_names_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="no evaluation"):
        aggregate([], tmp_path / "returns.csv")
    broken = tmp_path / "broken.json"
    broken.write_text("{\"task\": ")
    with pytest.raises(ValueError, match="broken.json"):
        aggregate([broken], tmp_path / "returns.csv")
