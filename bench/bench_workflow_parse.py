"""What parsing the Snakefile costs: the workflow's own imports, at this checkout and at an
earlier revision, side by side.

Every Snakemake job on a cluster parses the Snakefile again, so what the rule files import
is paid once per job. ``python -X importtime -m snakemake -n`` is run in each revision (its
``src`` first on the import path) and the cumulative import time of the outermost ``berl``
modules is summed, with the heavy libraries (torch, faiss, scipy, pandas, scikit-learn)
that any of them pulls in (one that Snakemake loaded first, as its SLURM plugin loads pandas,
shows there instead; tests/test_layout.py checks the workflow's imports in a bare
interpreter); also the dry run's whole wall time. Median of ``--rounds``.

    python bench/bench_workflow_parse.py --base 2f2fb10
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_results

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "faiss", "scipy", "pandas", "sklearn")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def berl_imports(importtime: str) -> tuple[float, set[str]]:
    """Seconds of the outermost berl modules' imports, and the heavy libraries beneath them.

    ``-X importtime`` prints a module after everything it imported, two spaces deeper per
    level, so a line's enclosing import is the next line printed at a shallower depth."""
    entries = [(len(m[3]), m[4], int(m[2])) for m in LINE.finditer(importtime)]
    seconds, heavy = 0.0, set()
    for index, (depth, name, cumulative) in enumerate(entries):
        ancestors, current = [], depth
        for later_depth, later_name, _ in entries[index + 1:]:
            if later_depth < current:
                ancestors.append(later_name)
                current = later_depth
                if current == 0:
                    break
        under_berl = any(ancestor.startswith("berl") for ancestor in ancestors)
        if name.startswith("berl") and not under_berl:
            seconds += cumulative / 1e6
        if name.split(".")[0] in HEAVY and under_berl:
            heavy.add(name.split(".")[0])
    return seconds, heavy


def dry_run(checkout: Path) -> tuple[float, float, set[str]]:
    env = os.environ | {"PYTHONPATH": str(checkout / "src"), "MUJOCO_GL": "disable"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "--quiet", "all"],
                          cwd=checkout, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    seconds, heavy = berl_imports(done.stderr)
    return wall, seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the earlier revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=REPO, check=True,
                       capture_output=True)
        try:
            checkouts = {f"base ({args.base})": base, "this checkout": REPO}
            runs = {name: [] for name in checkouts}
            for _ in range(args.rounds):  # in alternation, so machine noise hits both alike
                for name, checkout in checkouts.items():
                    runs[name].append(dry_run(checkout))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=True)
    results = {"rounds": args.rounds, "command": "python -X importtime -m snakemake -n --quiet all"}
    for name, values in runs.items():
        results[name] = {
            "workflow_import_seconds": round(statistics.median(v[1] for v in values), 3),
            "dry_run_wall_seconds": round(statistics.median(v[0] for v in values), 2),
            "heavy_libraries_imported": sorted(set().union(*(v[2] for v in values))),
        }
    results["import_time_ratio"] = round(
        results[f"base ({args.base})"]["workflow_import_seconds"] / results["this checkout"]["workflow_import_seconds"], 1)
    write_results("workflow_parse_cpu", results)


if __name__ == "__main__":
    main()
