"""The test suite's wall time, per file and for its slowest tests.

Runs ``python -m pytest`` (the README's test command; ``--marker "not slow"`` for the
development loop) once, with a JUnit report, and records its wall time, pass/fail counts,
each test file's total (setup, call and teardown of its tests) and the 25 slowest tests.
CI's limit for the whole suite is 25 minutes on 2 cores; the development loop's target is 6.

    python bench/bench_suite.py [--marker "not slow"] [--name suite_cpu]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from _common import write_results

REPO = Path(__file__).resolve().parents[1]
SLOWEST = 25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--marker", default=None, help="a pytest -m expression (default: every test)")
    parser.add_argument("--name", default=None, help="results file name (default from the marker)")
    args = parser.parse_args()
    name = args.name or ("suite_cpu" if args.marker is None else "suite_not_slow_cpu")

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
        if args.marker is not None:
            command += ["-m", args.marker]
        start = time.perf_counter()
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cases = list(ElementTree.parse(report).iter("testcase"))

    per_file, tests, outcomes = collections.Counter(), collections.Counter(), collections.Counter()
    timed = []
    for case in cases:
        file = case.get("classname").rsplit(".", 1)[-1] + ".py"
        seconds = float(case.get("time"))
        per_file[file] += seconds
        tests[file] += 1
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        outcomes[outcome] += 1
        timed.append((seconds, f"{file}::{case.get('name')}"))
    write_results(name, {
        "command": " ".join(command[1:]).replace(str(report), "<report>"),
        "exit_status": run.returncode,
        "wall_seconds": round(wall, 1),
        "outcomes": dict(outcomes),
        "per_file_seconds": {file: {"tests": tests[file], "seconds": round(seconds, 1)}
                             for file, seconds in per_file.most_common()},
        "slowest": [{"test": test, "seconds": round(seconds, 1)} for seconds, test in sorted(timed, reverse=True)[:SLOWEST]],
    })
    if run.returncode != 0:
        print(run.stdout[-3000:], file=sys.stderr)
        sys.exit(run.returncode)


if __name__ == "__main__":
    main()
