"""t-SNE and PHATE time versus the number of points embedded.

Both embed standardised walker states (a run's datasets, --datasets, when they exist, else
uniform-random walker states collected here) with the settings of the pipeline's
`embedding` rule, for each n in --sizes, run in alternation. Figures: seconds per
embedding, the ratio to the smallest n, and the empirical exponent b of time ~ n^b
between consecutive sizes (t-SNE's Barnes-Hut is about n log n; PHATE's landmarks cap
its diffusion operator at 2000 points).

    python bench/bench_embedding.py [--sizes 1000 2000 4000 8000] [--threads 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from _common import interleaved, write_results

from berl.coverage.embedding import embed
from berl.coverage.measures import SharedAxes
from berl.datasets import storage
from berl.explore.collect import collect

def walker_states(count: int, datasets: Path, scratch: Path) -> tuple[np.ndarray, str]:
    manifests = sorted(datasets.glob("*/seed0/manifest.json"))
    if not manifests:
        manifests = [collect("walker", {"agent": "random"}, count, seed=0, dataset_dir=scratch / "random")]
    states = np.concatenate([storage.load_episode(path)["observation"]
                             for manifest in manifests for path in storage.read_manifest(manifest)[1]])
    if len(states) < count:
        raise SystemExit(f"only {len(states)} states available, fewer than {count}")
    chosen = states[np.random.default_rng(0).choice(len(states), count, replace=False)]
    source = f"{len(manifests)} dataset(s) under {manifests[0].parents[2]}"
    return SharedAxes.fit(chosen, 0).standardise(chosen), source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--datasets", type=Path, default=Path("results/quick/datasets/walker"),
                        help="a run's walker datasets (a fresh random one is collected where there are none)")
    parser.add_argument("--scratch", type=Path, default=Path("bench/results/scratch"))
    args = parser.parse_args()
    points, source = walker_states(max(args.sizes), args.datasets, args.scratch)
    results = {"threads": args.threads, "rounds": args.rounds, "data": source}
    for method in ("tsne", "phate"):
        runners = {n: (lambda n=n: embed(points[:n], method, seed=0, threads=args.threads,
                                         perplexity=30.0, phate_knn=5))
                   for n in args.sizes}
        seconds = interleaved(runners, rounds=args.rounds)
        sizes = sorted(seconds)
        exponents = {f"{a}->{b}": round(math.log(seconds[b] / seconds[a]) / math.log(b / a), 2)
                     for a, b in zip(sizes, sizes[1:])}
        results[method] = {
            "seconds": {n: round(seconds[n], 2) for n in sizes},
            "ratio_to_smallest": {n: round(seconds[n] / seconds[sizes[0]], 2) for n in sizes},
            "exponent": exponents,
        }
        print(method, results[method], flush=True)
    write_results("embedding_cpu", results)


if __name__ == "__main__":
    main()
