"""k-NN search of the Shannon estimator: faiss exact, faiss IVF and scikit-learn.

For each (points, dimension) case, three searches for the distance to the k-th other point
run side by side, in alternation: ``berl.coverage.estimators.knn_distances`` exact (faiss
IndexFlatL2 with float64 re-ranking) and IVF (about sqrt(n) cells, --nprobe visited), and
scikit-learn ``NearestNeighbors`` with its default algorithm (on float64 input, as a user
would call it). Figures: median seconds, each method's time as a ratio to faiss exact,
the fraction of points whose IVF distance equals the exact one, and the Shannon estimate
each search gives.

Data: points on an 8-dimensional manifold embedded by a random tanh layer, like the
encoder's representations; a featureless Gaussian cloud in 24 or 512 dimensions has no
cell structure for IVF to use and would understate it.

    python bench/bench_knn.py [--threads 2] [--rounds 2] [--sizes 20000 100000 500000]
                              [--dims 24 512] [--max-exact-work 2.5e11] [--max-ivf-work 3e11]

Exact search costs ~n^2 d and IVF ~n^1.5 d nprobe; a method whose cost estimate is above
its --max-*-work limit is skipped (null in the results), which keeps a 2-core run to about
ten minutes. Raise the limits on a bigger machine.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _common import interleaved, write_results
from scipy.special import digamma
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from berl.coverage.estimators import (
    DEFAULT_K,
    DEFAULT_NPROBE,
    knn_distances,
    log_unit_ball_volume,
)

LATENT_DIM = 8
METHODS = ("faiss_exact", "sklearn", "faiss_ivf")


def manifold_points(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    embedding = rng.standard_normal((LATENT_DIM, dim)) / math.sqrt(LATENT_DIM)
    return np.tanh(rng.standard_normal((n, LATENT_DIM)) @ embedding)


def kozachenko_leonenko(radius: np.ndarray, dim: int, k: int) -> float:
    n = len(radius)
    return float(digamma(n) - digamma(k) + log_unit_ball_volume(dim) + dim * np.log(radius).mean())


def _cell(value: float | None, width: int) -> str:
    return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    parser.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 500_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[24, 512])  # walker obs, representation
    parser.add_argument("--max-exact-work", type=float, default=2.5e11)
    parser.add_argument("--max-ivf-work", type=float, default=3e11)
    args = parser.parse_args()
    k = args.k
    results: dict = {}
    print(f"{'points':>8} {'dim':>4} | {'faiss exact s':>13} {'sklearn s':>10} {'faiss ivf s':>11} | "
          f"{'sklearn/exact':>13} {'ivf/exact':>9} {'ivf recall':>10}", flush=True)
    for dim in args.dims:
        for n in args.sizes:
            points = manifold_points(n, dim)
            runs: dict = {}
            if n * n * dim <= args.max_exact_work:
                runs["faiss_exact"] = lambda: knn_distances(points, k, threads=args.threads)
                runs["sklearn"] = lambda: NearestNeighbors(n_neighbors=k + 1, n_jobs=args.threads).fit(
                    points).kneighbors(points)[0][:, k]
            if n**1.5 * dim * args.nprobe <= args.max_ivf_work:
                runs["faiss_ivf"] = lambda: knn_distances(points, k, index="ivf", nprobe=args.nprobe,
                                                          threads=args.threads)
            if not runs:
                continue
            radius: dict = {}
            # Keep each method's last answer, to compare them after timing.
            timed = {name: (lambda name=name, run=run: radius.__setitem__(name, run()))
                     for name, run in runs.items()}
            with threadpool_limits(limits=args.threads):
                seconds = interleaved(timed, rounds=args.rounds)
            case = {
                "points": n, "dim": dim,
                "seconds": {name: round(seconds[name], 3) if name in seconds else None for name in METHODS},
                "shannon_estimate": {name: round(kozachenko_leonenko(r, dim, k), 5)
                                     for name, r in radius.items()},
            }
            if "faiss_exact" in seconds:
                exact = seconds["faiss_exact"]
                case["ratio_to_faiss_exact"] = {name: round(s / exact, 3) for name, s in seconds.items()}
                case["sklearn_max_relative_difference"] = float(
                    np.max(np.abs(radius["sklearn"] / radius["faiss_exact"] - 1)))
                if "faiss_ivf" in radius:
                    case["ivf_recall"] = round(float(np.mean(
                        np.isclose(radius["faiss_ivf"], radius["faiss_exact"], rtol=1e-9))), 4)
            results[f"{n}x{dim}"] = case
            ratio = case.get("ratio_to_faiss_exact", {})
            print(f"{n:>8} {dim:>4} | {_cell(case['seconds']['faiss_exact'], 13)} "
                  f"{_cell(case['seconds']['sklearn'], 10)} {_cell(case['seconds']['faiss_ivf'], 11)} | "
                  f"{_cell(ratio.get('sklearn'), 13)} {_cell(ratio.get('faiss_ivf'), 9)} "
                  f"{_cell(case.get('ivf_recall'), 10)}", flush=True)
    write_results("knn_cpu", {"threads": args.threads, "rounds": args.rounds, "k": k,
                              "nprobe": args.nprobe, "data": f"tanh embedding of a {LATENT_DIM}-D Gaussian",
                              **results})


if __name__ == "__main__":
    main()
