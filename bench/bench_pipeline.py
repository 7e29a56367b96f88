"""The default run's budget, stage by stage, and the `paper` preset's projected cost.

Measure (default): clone the repository's HEAD into a scratch directory, make a virtual
environment that sees the installed packages, and run the README's first command there
(`pip install -e . && snakemake --cores all`), timing both. Every rule writes a Snakemake
benchmark record; a record's file time is the job's end and its `s` column the job's length,
so each stage's wall-clock span (first start to last end) and summed job time follow.

  python bench/bench_pipeline.py                      # fresh run of the default preset
  python bench/bench_pipeline.py --preset claims --workdir DIR   # of another, in DIR
  python bench/bench_pipeline.py --summarise DIR      # stage times of a finished run in DIR

Project: the `paper` preset's device-hours, from per-step rates that the other benchmarks
measured (bench_explore: environment steps per second while exploring; bench_offline: agent
gradient steps per second with many agents per job; bench_distill: outer steps per second),
multiplied by the steps the `paper` grid needs. Rates come from `bench/results/*_<device>.json`,
so a run of those benchmarks with `--device cuda` turns the projection into GPU-hours.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml
from _common import RESULTS, write_results

from berl.config import with_defaults

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRESET = "quick"  # config.yaml's `preset`

STAGES = {
    "pretrain_encoder": "encoder",
    "collect": "collect",
    "import_exorl": "collect",
    "relabel": "relabel",
    "random_reference": "offline RL",
    "train": "offline RL",
    "aggregate": "reports",
    "reproduction": "reports",
    "table1": "reports",
    "fig4": "reports",
    "learning_curves": "reports",
    "iqm": "reports",
    "coverage": "coverage",
    "embedding": "coverage",
    "estimator_study": "coverage",
    "table_coverage": "coverage",
    "fig_coverage": "coverage",
    "fig_coverage_vs_return": "coverage",
    "fig_estimator_accuracy": "coverage",
    "distill": "distillation",
    "distill_baselines": "distillation",
    "table2": "distillation",
    "fig_obd_size": "distillation",
    "fig_obd_convergence": "distillation",
}


def rule_of(record: Path, root: Path) -> str:
    """benchmarks/<preset>/<name>[/...].tsv -> the rule's benchmark name (some add a wildcard)."""
    first = record.relative_to(root).parts[0]
    name = first.removesuffix(".tsv")
    for rule in sorted(STAGES, key=len, reverse=True):
        if name == rule or name.startswith(rule + "_"):
            return rule
    return name


def stage_times(benchmarks: Path) -> dict:
    """Wall-clock span and summed job seconds per stage, from the run's benchmark records."""
    spans: dict[str, list[float]] = {}
    job_seconds: dict[str, float] = defaultdict(float)
    jobs: dict[str, int] = defaultdict(int)
    peak_rss: dict[str, float] = defaultdict(float)
    for record in sorted(benchmarks.rglob("*.tsv")):
        with open(record) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        stage = STAGES.get(rule_of(record, benchmarks), "other")
        end = record.stat().st_mtime
        start = end - float(row["s"])
        low, high = spans.get(stage, (start, end))
        spans[stage] = [min(low, start), max(high, end)]
        job_seconds[stage] += float(row["s"])
        jobs[stage] += 1
        rss = row.get("max_rss", "NA")
        if rss not in ("NA", "-"):
            peak_rss[stage] = max(peak_rss[stage], float(rss))
    order = sorted(spans, key=lambda stage: spans[stage][0])
    return {stage: {"jobs": jobs[stage],
                    "wall_seconds": round(spans[stage][1] - spans[stage][0], 1),
                    "job_seconds": round(job_seconds[stage], 1),
                    "peak_rss_mb": round(peak_rss[stage], 1)}
            for stage in order}


def timed(command: str, cwd: Path, env: dict, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as handle:
        subprocess.run(command, shell=True, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                       check=True)
    return time.perf_counter() - start


def fresh_run(workdir: Path, cores: str, preset: str) -> dict:
    """The README's first command in a fresh clone, with its own virtual environment (and
    ``--config preset=<preset>`` for a preset other than the default)."""
    clone = workdir / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(workdir / "venv")], check=True)
    env = dict(os.environ, PATH=f"{workdir / 'venv' / 'bin'}:{os.environ['PATH']}", MUJOCO_GL="disable")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    install = timed("pip install -q -e .", clone, env, workdir / "install.log")
    # `python -m snakemake`: the venv's interpreter, which imports the clone's package.
    choice = "" if preset == DEFAULT_PRESET else f" --config preset={preset}"
    pipeline = timed(f"python -m snakemake --cores {cores}{choice}", clone, env, workdir / "snakemake.log")
    return {"commit": commit, "cores": cores, "install_seconds": round(install, 1),
            "pipeline_seconds": round(pipeline, 1), "clone": str(clone)}


def load_rates(device: str) -> dict:
    rates = {}
    files = {"explore": f"explore_{device}", "explore_batching": f"explore_{device}_batching",
             "offline": f"offline_{device}", "distill": f"distill_{device}"}
    for name, stem in files.items():
        path = RESULTS / f"{stem}.json"
        if path.exists():
            rates[name] = json.loads(path.read_text())["results"]
    return rates


def batching_gain(rates: dict, domain: str, members: int) -> float:
    """Per-explorer throughput of a ``members``-explorer APT job over a one-explorer job's, at
    paper sizes (bench_explore's K = 5 figure for groups of 5 or more: larger groups gain at
    least as much; 1 where nothing was measured)."""
    measured = rates.get("explore_batching", {}).get(domain, {}).get("batching_paper")
    if measured is None or members < measured["explorers"]:
        return 1.0
    return measured["per_explorer_throughput_ratio_to_K1"]


def explorer_kind(dataset: dict) -> str | None:
    return {"apt": "apt_be", "smm": "smm", "rnd": "rnd"}.get(dataset["agent"])


def project_paper(preset: dict, rates: dict) -> dict:
    """Device-hours of the `paper` grid's three heavy stages at the measured per-step rates;
    every replicate dataset (`collect.seeds`) repeats all three. ``preset`` has its stages'
    defaults filled in (``berl.config.with_defaults``)."""
    domains = sorted({task.split("_")[0] for task in preset["tasks"]})
    replicates = preset["collect"]["seeds"]
    hours = {}
    # A stage is projected where its rates include the paper sizes (a cut-down check's do not).
    if "explore" in rates and "paper" in rates["explore"].get("walker", {}):
        explore = rates["explore"]
        group_size = preset["collect"]["group_size"]
        apt_sets = sum(dataset["agent"] == "apt" for dataset in preset["datasets"])
        seconds = 0.0
        for domain in domains:
            measured = explore.get(domain, explore["walker"])["paper"]
            # APT's datasets are collected in groups of `collect.group_size` (the last one smaller).
            groups = [min(group_size, apt_sets - start) for start in range(0, apt_sets, group_size)]
            for members in groups:
                rate = measured["apt_be"]["env_steps_per_second"] * batching_gain(rates, domain, members)
                seconds += members * preset["collect"]["transitions"] / rate
            for dataset in preset["datasets"]:
                kind = explorer_kind(dataset)
                if kind and kind != "apt_be":
                    seconds += preset["collect"]["transitions"] / measured[kind]["env_steps_per_second"]
        hours["collect"] = replicates * seconds / 3600
    if "paper" in rates.get("offline", {}):
        offline = rates["offline"]["paper"]
        seconds = 0.0
        for domain in domains:
            members = sum(task.startswith(domain + "_") for task in preset["tasks"]) * preset["offline"]["seeds"]
            for algorithm in preset["algorithms"]:
                measured = offline[algorithm]["agent_steps_per_second"]
                # The rate at the largest measured job size not above this job's member count.
                size = max((int(k) for k in measured if int(k) <= members), default=1)
                seconds += len(preset["datasets"]) * members * preset["offline"]["steps"] / measured[str(size)]
        hours["offline RL"] = replicates * seconds / 3600
    if "paper" in rates.get("distill", {}):
        distill = preset["distill"]
        distilled = len(distill["datasets"] or preset["datasets"]) * len(distill["tasks"] or preset["tasks"])
        runs = replicates * distilled * (len(distill["objectives"]) + len(distill["sizes"]))
        hours["distillation"] = runs * distill["outer_steps"] / rates["distill"]["paper"]["outer_steps_per_second"] / 3600
    hours = {stage: round(value, 1) for stage, value in hours.items()}
    hours["total"] = round(sum(hours.values()), 1)
    return hours


def print_stages(stages: dict) -> None:
    print(f"{'stage':<14}{'jobs':>6}{'wall s':>10}{'job s':>10}{'peak MB':>10}")
    for stage, row in stages.items():
        print(f"{stage:<14}{row['jobs']:>6}{row['wall_seconds']:>10.1f}{row['job_seconds']:>10.1f}"
              f"{row['peak_rss_mb']:>10.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summarise", type=Path, help="a finished run's directory (skip the fresh run)")
    parser.add_argument("--workdir", type=Path, help="where the fresh clone goes (default: a temporary directory)")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="the preset to run (or that the summarised run used; names its benchmarks)")
    parser.add_argument("--device", default="cpu", help="whose per-step rates the projection uses")
    parser.add_argument("--project-only", action="store_true",
                        help="no run: only the paper projection from the device's rate files")
    args = parser.parse_args()

    results: dict = {"preset": args.preset}
    if args.project_only:
        projection = paper_projection(args.device)
        write_results(f"paper_projection_{args.device}", projection)
        return
    if args.summarise:
        run_dir = args.summarise
    else:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="berl-run-"))
        workdir.mkdir(parents=True, exist_ok=True)
        results["run"] = fresh_run(workdir, args.cores, args.preset)
        run_dir = Path(results["run"]["clone"])
        print(json.dumps(results["run"], indent=2), flush=True)
    results["stages"] = stage_times(run_dir / "benchmarks" / args.preset)
    print_stages(results["stages"])

    results["paper_projection"] = paper_projection(args.device)
    write_results(f"pipeline_{args.preset}_{args.device}", results)


def paper_projection(device: str) -> dict:
    """The `paper` preset's device-hours from ``device``'s rate files: on one device, and the
    wall hours on two (``--resources gpu=2``: the heavy jobs are independent, so two devices
    halve them)."""
    presets = yaml.safe_load((ROOT / "config.yaml").read_text())["presets"]
    rates = load_rates(device)
    hours = project_paper(with_defaults(presets["paper"]), rates)
    return {"device": device, "rates_from": sorted(rates), "hours": hours,
            "wall_hours_on_two_devices": round(hours["total"] / 2, 1)}


if __name__ == "__main__":
    main()
