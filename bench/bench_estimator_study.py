"""The entropy estimators' error where the coverage table uses them, at a preset's sizes.

Runs the pipeline's estimator study (``berl.coverage.estimator_study.run_study``) with a
preset's ``estimator_study`` and ``coverage`` blocks, and records, for its dimension sweep
at the coverage stage's n and k, each estimate's relative error per dimension: the mean over
repeats on each known density, and the range over densities. These are the figures the
README quotes; the coverage table prints the same range beside each value.

    python bench/bench_estimator_study.py [--preset quick]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from _common import write_results

from berl.config import with_defaults
from berl.coverage.estimator_study import run_study
from berl.coverage.settings import CoverageSettings, StudySettings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()
    preset = with_defaults(yaml.safe_load((REPO / "config.yaml").read_text())["presets"][args.preset])
    coverage = CoverageSettings(**preset["coverage"])
    with tempfile.TemporaryDirectory() as scratch:
        study = run_study(StudySettings(**preset["estimator_study"]), coverage, Path(scratch) / "study.csv")
    by_dim = study[study.sweep == "coverage"].fillna({"method": ""})
    means = by_dim.groupby(["estimator", "dim", "distribution"], sort=False).relative_error.mean()
    errors = {}
    for (estimator, dim), per_density in means.groupby(level=["estimator", "dim"], sort=False):
        errors.setdefault(estimator, {})[int(dim)] = {
            "min": round(float(per_density.min()), 4), "max": round(float(per_density.max()), 4),
            "per_density": {dist: round(float(value), 4) for (_, _, dist), value in per_density.items()}}
    write_results(f"estimator_study_{args.preset}_cpu", {
        "preset": args.preset, "n": coverage.points, "k": coverage.k, "dims": list(range(1, coverage.components + 1)),
        "repeats": preset["estimator_study"]["repeats"],
        "relative_error": errors,
    })


if __name__ == "__main__":
    main()
