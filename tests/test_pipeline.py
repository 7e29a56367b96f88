"""The whole smoke-preset DAG (the session's shared run, see conftest.smoke_run)."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SMOKE, snakemake, snapshot

pytestmark = pytest.mark.slow


def test_smoke_pipeline_produces_table1_from_real_evaluations(smoke_run):
    root = smoke_run
    for suffix in ("pdf", "csv", "tex"):
        assert (root / f"reports/table1.{suffix}").stat().st_size > 0
    table = pd.read_csv(root / "reports/table1_full.csv", comment="#")
    best = pd.read_csv(root / "reports/table1.csv", comment="#")
    for task in ("walker_walk", "quadruped_walk"):
        assert set(best[best.task == task].family) == {"BE", "Rényi", "Shannon", "SMM", "RND", "random"}
    for report in ("fig4_alpha_q_sweep.pdf", "fig_learning_curves.pdf", "iqm.pdf", "iqm.csv",
                   "table_coverage.pdf", "table_coverage.tex", "fig_coverage_tsne.pdf",
                   "fig_coverage_phate.pdf", "fig_coverage_vs_return.pdf", "fig_estimator_accuracy.pdf",
                   "table2_obd.pdf", "table2_obd.tex", "fig_obd_size.pdf", "fig_obd_convergence.pdf"):
        assert (root / "reports" / report).stat().st_size > 0, report
    coverage = pd.read_csv(root / "reports/table_coverage.csv", comment="#")
    # Every dataset of both domains in both spaces, every measure finite but the log10 of a
    # BE band's bound, which is NaN exactly where the bound is not positive (extrapolated).
    assert len(coverage) == 6 * 2 * 2
    measures = coverage.columns[coverage.columns.get_loc("points") + 1:]
    bounds = [c for c in measures if c.endswith(("_low", "_high"))]
    assert bounds and np.isfinite(coverage[measures.drop(bounds)].to_numpy(dtype=float)).all()
    for bound in bounds:
        undefined = coverage[bound].isna()
        flag = coverage[f"be_a{bound[len('log10_be_a'):].rsplit('_', 1)[0]}_extrapolated"]
        assert (flag[undefined] == 1).all() and np.isfinite(coverage.loc[~undefined, bound]).all(), bound
    obd = pd.read_csv(root / "reports/table2_obd.csv", comment="#")
    # Every dataset the preset distils (uniform-random and BE), for its distillation task, with
    # every objective and both references.
    assert set(obd.dataset) == {"random", "be_a0.5"} and set(obd.task) == {"walker_walk"}
    assert set(obd.method) == {"random", "dbc", "pbc", "av_pbc", "whole_data_bc", "teacher"}
    assert (obd.groupby(["dataset", "task"]).size() == 6).all()
    general = pd.read_csv(root / "reports/table2_obd_generalisation.csv", comment="#")
    assert set(general.learner) == {"default", "mlp2", "mlp3", "mlp4", "mlp5", "mlp6", "res_mlp", "ensemble10"}
    assert len(general) == 2 * 3 * 8  # datasets x objectives x learners
    scorecard = (root / "reports/reproduction.md").read_text()
    assert scorecard.startswith("# Reproduction scorecard, preset smoke")
    summary = scorecard.split("## Details")[0]
    verdicts = [line.split("|")[3].strip() for line in summary.splitlines() if line.startswith(("| BE |", "| OBD |"))]
    # Smoke's learners do not learn (2 seeds, 300 steps): the gate leaves every claim untested.
    assert len(verdicts) == 12 and set(verdicts) <= {"**inconclusive**", "**not tested**"}
    correlations = pd.read_csv(root / "reports/fig_coverage_vs_return.csv", comment="#")
    assert set(correlations.task) == {"walker_walk", "quadruped_walk"}
    assert correlations.spearman_rho.between(-1, 1).all()
    evaluations = sorted(path for path in (root / "results/smoke/eval").rglob("*.json")
                         if path.parent.name != "random_policy")
    # The random policy's reference beside the best family, for each task.
    random_reference = pd.read_csv(root / "reports/table1_random.csv", comment="#")
    assert set(random_reference.task) == {"walker_walk", "quadruped_walk"}
    assert random_reference.learning.isin(["above", "overlap", "below", "no interval"]).all()
    assert (random_reference.random_ci_low <= random_reference.random_mean).all()
    # Six datasets (random and the five families: BE, Renyi, Shannon, SMM, RND) x three
    # algorithms x two domains, one task each.
    assert len(evaluations) == 6 * 3 * 2
    datasets = ["random", "be_a0.5", "renyi_q0.5", "shannon", "smm", "rnd"]
    assert list(dict.fromkeys(table.dataset)) == datasets
    assert set(table.algorithm) == {"td3", "cql", "crr"} and len(table) == 36
    for domain in ("walker", "quadruped"):
        agents = {json.loads(p.read_text())["agent"]
                  for p in (root / "results/smoke/datasets" / domain).glob("*/seed0/manifest.json")}
        assert agents == {"random", "apt", "smm", "rnd"}
    for path in evaluations:
        result = json.loads(path.read_text())
        seeds = np.array(result["curve"][-1]["returns"]).mean(axis=1)
        assert len(seeds) == 2 and len(result["members"]) == 2
        task = result["members"][0]["task"]
        row = table[(table.dataset == result["dataset"]) & (table.algorithm == result["algorithm"])
                    & table[f"{task}_mean"].notna()]
        assert len(row) == 1
        assert row[f"{task}_mean"].item() == pytest.approx(seeds.mean(), abs=1e-3)
        assert row[f"{task}_std"].item() == pytest.approx(seeds.std(ddof=1), abs=1e-3)
    # Every stage leaves its log and benchmark record.
    for stage in ("pretrain_encoder", "collect", "relabel", "train", "coverage", "embedding",
                  "distill", "distill_baselines"):
        assert list((root / "logs/smoke" / stage).rglob("*.log")), stage
        assert list((root / "benchmarks/smoke" / stage).rglob("*.tsv")), stage
    assert "smoke" in (root / "reports/table1.csv").read_text().splitlines()[0]


def test_the_html_report_gathers_every_figure_with_its_caption(smoke_run, tmp_path):
    # Written outside the run's folders: the report is no job's output.
    report = snakemake(smoke_run, "--report", tmp_path / "report.html", *SMOKE)
    assert report.returncode == 0, report.stderr[-4000:]
    html = (tmp_path / "report.html").read_text()
    figures = sorted((smoke_run / "reports").glob("*.pdf"))
    for figure in figures:
        assert figure.name in html, figure.name
    # Every caption names the preset (its template rendered), and so does the front page.
    assert html.count("Computed at the <strong>smoke</strong> preset") == len(figures)
    assert "regenerated from scratch at the\\n<strong>smoke</strong> preset" in html


def test_every_file_the_run_leaves_is_a_declared_output(smoke_run):
    """A file a stage writes without declaring it is neither rebuilt nor cleaned by Snakemake."""
    summary = snakemake(smoke_run, "--summary", *SMOKE)
    assert summary.returncode == 0, summary.stderr[-3000:]
    declared = {line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if line.strip()}
    # A dataset's episode files are the contents of its declared manifest, which lists them.
    episodes = tuple(path.removesuffix("manifest.json") + "episodes/" for path in declared
                     if path.endswith("/manifest.json"))
    left = {path for path in snapshot(smoke_run, "results", "reports") if not path.startswith(episodes)}
    assert left - declared == set()
