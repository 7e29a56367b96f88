"""Accuracy and calibration of the behavioral-entropy estimators, d = 1...8.

For each family of densities, dimension d, sample size n and repeat, one sample is drawn
and BE estimated at alpha in --alphas by the paper's importance-sampling plug-in (k-NN
distances of the raw points) and by method "banded" (``berl.coverage.be_band.behavioral_band``),
which also gives its 90 % band and the share of the integral from densities the sample
reaches. Families, inside and outside the Gaussian mixtures "banded" reads the sample against:

- gaussian: N(0, 1.5^2 I), a one-component mixture (truth by 1-D quadrature);
- anisotropic: N(0, diag(s^2)), s log-spaced over 0.3...3, likewise (quadrature);
- laplace: product of unit Laplace laws, -log f = d log 2 + |x|_1: exponential tails and a
  kinked peak (quadrature);
- uniform: the cube [0, 4]^d, flat (closed form);
- beta: the cube's product of Beta(2, 2) laws, bounded with a density falling to 0 at the
  edge (Monte Carlo);
- mixture: three isotropic Gaussians of different widths and weights, multimodal (Monte Carlo);
- shell: a sphere of radius 3 with N(0, 0.3^2) radial noise, mass near a (d-1)-manifold
  (Monte Carlo);
- student: multivariate Student-t with 5 degrees of freedom, heavy-tailed, BE finite only
  for alpha > 1 (Monte Carlo, alpha > 1 only).

Monte Carlo truths are importance sampling of ``∫ g(-log f(x)) dx`` from a defensive
mixture of f and a radial law with log-uniform radius (from 1e-3 to 1e4 times the family's
scale), so the far tails that carry BE at alpha = 0.2 are sampled; each truth's relative
standard error is kept in the results (cases whose truth is not known to --truth-rel-se
are dropped). Truths are cached in bench/results/be_estimator_truths.json.

    python bench/bench_be_estimator.py [--sizes 5000] [--dims 1 2 ... 8] [--repeats 3]
                                       [--families ...] [--alphas 0.2 0.5 0.7 2 5]

Each run adds its cases to bench/results/be_estimator_cpu.json (a case run again replaces
its old row) and prints, per (n, d) and per (n, family), the share of bands covering the
truth, the largest relative errors at alpha in [0.5, 2], and how many of those cases at
d <= 6 are within 5 % with a band within ±5 %: over all of them, and over those where the
sample can tell, at least 95 % of the true BE from densities inside its reach (each row's
``truth_reached``: the truth's own share between the true quantiles of u at 10 / n and
1 - 10 / n, beyond which an n-point sample has 10 points; cached beside the truths). A sweep
can be split into runs of a few minutes; ``--summarise`` recomputes the summary alone.
``--table N`` prints the stored cases at sample size N as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import zlib
from pathlib import Path

import numpy as np
from scipy.special import gammaln, logsumexp

from berl.coverage import estimators as est
from berl.coverage.be_band import REACH_POINTS, behavioral_band
from berl.core.constants import prelec_beta

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = RESULTS / "be_estimator_cpu.json"
TRUTHS = RESULTS / "be_estimator_truths.json"
K = 10  # the coverage stage's k
TRUTH_DRAWS = 2_000_000
TRUTH_CHUNK = 200_000
GAUSSIAN_STD = 1.5
CUBE_SIDE = 4.0
SHELL_RADIUS, SHELL_NOISE = 3.0, 0.3
STUDENT_DOF = 5
MIXTURE_WEIGHTS = np.array([0.5, 0.3, 0.2])
MIXTURE_STDS = np.array([1.0, 0.5, 2.0])
MIXTURE_SPACING = 3.0
REACHABLE = 0.95  # where the sample reaches this share of the true BE, it can tell BE to ±5 %


def anisotropic_stds(dim: int) -> np.ndarray:
    return np.exp(np.linspace(math.log(0.3), math.log(3.0), dim))


def mixture_means(dim: int) -> np.ndarray:
    """Three centres MIXTURE_SPACING from the origin along fixed random directions."""
    direction = np.random.default_rng(dim).standard_normal((3, dim))
    return MIXTURE_SPACING * direction / np.linalg.norm(direction, axis=1, keepdims=True)


def log_sphere_surface(dim: int) -> float:
    return math.log(2) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim)


def sample(family: str, n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    if family == "gaussian":
        return GAUSSIAN_STD * rng.standard_normal((n, dim))
    if family == "anisotropic":
        return anisotropic_stds(dim) * rng.standard_normal((n, dim))
    if family == "laplace":
        return rng.laplace(size=(n, dim))
    if family == "uniform":
        return rng.uniform(0.0, CUBE_SIDE, (n, dim))
    if family == "beta":
        return CUBE_SIDE * rng.beta(2.0, 2.0, (n, dim))
    if family == "mixture":
        component = rng.choice(3, size=n, p=MIXTURE_WEIGHTS)
        return mixture_means(dim)[component] + MIXTURE_STDS[component, None] * rng.standard_normal((n, dim))
    if family == "shell":
        radius = SHELL_RADIUS + SHELL_NOISE * rng.standard_normal(n)
        return np.abs(radius)[:, None] * _directions(n, dim, rng)
    if family == "student":
        return rng.standard_normal((n, dim)) / np.sqrt(rng.chisquare(STUDENT_DOF, (n, 1)) / STUDENT_DOF)
    raise ValueError(family)


def log_density(family: str, x: np.ndarray) -> np.ndarray:
    """Exact log f of every family (-inf outside a support)."""
    dim = x.shape[1]
    if family in ("gaussian", "anisotropic"):
        stds = np.full(dim, GAUSSIAN_STD) if family == "gaussian" else anisotropic_stds(dim)
        return (-0.5 * ((x / stds) ** 2).sum(axis=1) - float(np.log(stds).sum())
                - 0.5 * dim * math.log(2 * math.pi))
    if family == "laplace":
        return -np.abs(x).sum(axis=1) - dim * math.log(2)
    if family == "uniform":
        inside = np.all((x >= 0) & (x <= CUBE_SIDE), axis=1)
        return np.where(inside, -dim * math.log(CUBE_SIDE), -np.inf)
    if family == "beta":
        y = x / CUBE_SIDE
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = np.all((y > 0) & (y < 1), axis=1)
            per_axis = np.log(6.0) + np.log(np.where((y > 0) & (y < 1), y * (1 - y), 1.0))
        return np.where(inside, per_axis.sum(axis=1) - dim * math.log(CUBE_SIDE), -np.inf)
    if family == "mixture":
        squared = ((x[:, None, :] - mixture_means(dim)[None]) ** 2).sum(axis=2)
        log_components = (np.log(MIXTURE_WEIGHTS) - 0.5 * squared / MIXTURE_STDS**2
                          - dim * np.log(MIXTURE_STDS) - 0.5 * dim * math.log(2 * math.pi))
        return logsumexp(log_components, axis=1)
    if family == "shell":
        # The radius's density (noise folded at 0, negligible at 10 noise widths) spread over
        # the sphere of that radius.
        radius = np.linalg.norm(x, axis=1)
        return (-0.5 * ((radius - SHELL_RADIUS) / SHELL_NOISE) ** 2 - math.log(SHELL_NOISE)
                - 0.5 * math.log(2 * math.pi) - log_sphere_surface(dim) - (dim - 1) * np.log(radius))
    if family == "student":
        nu = STUDENT_DOF
        return (gammaln((nu + dim) / 2) - gammaln(nu / 2) - 0.5 * dim * math.log(nu * math.pi)
                - 0.5 * (nu + dim) * np.log1p((x**2).sum(axis=1) / nu))
    raise ValueError(family)


def closed_form_truth(family: str, dim: int, alpha: float) -> float | None:
    if family == "gaussian":
        return est.gaussian_behavioral(GAUSSIAN_STD, dim, alpha)
    if family == "anisotropic":
        u_min = 0.5 * dim * math.log(2 * math.pi) + float(np.log(anisotropic_stds(dim)).sum())
        return est.behavioral_of_gamma_law(u_min, 0.5 * dim, alpha)
    if family == "laplace":
        return est.behavioral_of_gamma_law(dim * math.log(2), float(dim), alpha)
    if family == "uniform":
        return est.uniform_behavioral([CUBE_SIDE] * dim, alpha)
    return None


def _directions(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    direction = rng.standard_normal((n, dim))
    return direction / np.linalg.norm(direction, axis=1, keepdims=True)


def _importance_draws(family: str, dim: int, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log f at ``draws`` draws of ``q = f / 2 + radial / 2`` (radial: log |x| uniform over
    [log 1e-3, log 1e4] times the family's scale, direction uniform), their log q, and a mask
    of the half drawn from f itself."""
    rng = np.random.default_rng(seed)
    scale = CUBE_SIDE if family in ("beta", "uniform") else SHELL_RADIUS if family == "shell" else 1.0
    centre = np.full(dim, CUBE_SIDE / 2) if family in ("beta", "uniform") else np.zeros(dim)
    log_low, log_high = math.log(1e-3 * scale), math.log(1e4 * scale)
    log_f, log_q, from_f = [], [], []
    for _ in range(draws // TRUTH_CHUNK):
        half = TRUTH_CHUNK // 2
        radius = np.exp(rng.uniform(log_low, log_high, half))
        x = np.vstack([sample(family, half, dim, rng), centre + radius[:, None] * _directions(half, dim, rng)])
        log_fx = log_density(family, x)
        distance = np.linalg.norm(x - centre, axis=1)
        log_radial = np.where((distance > math.exp(log_low)) & (distance < math.exp(log_high)),
                              -math.log(log_high - log_low) - log_sphere_surface(dim) - dim * np.log(distance),
                              -np.inf)
        log_f.append(log_fx)
        log_q.append(np.logaddexp(log_fx, log_radial) - math.log(2))
        from_f.append(np.arange(TRUTH_CHUNK) < half)
    return np.concatenate(log_f), np.concatenate(log_q), np.concatenate(from_f)


def _integral_terms(log_f: np.ndarray, log_q: np.ndarray, alpha: float) -> np.ndarray:
    """Each draw's term g(u) f / q of the importance-sampled ``∫ g(-log f(x)) dx``."""
    inside = np.isfinite(log_f)  # g = 0 where f = 0
    log_g, sign = est._log_weighted_integrand(-log_f[inside], alpha, prelec_beta(alpha))
    terms = np.zeros(len(log_f))
    # log_g is log |g e^u|; the integrand over x is g = (g e^u) f.
    terms[inside] = sign * np.exp(log_g + log_f[inside] - log_q[inside])
    return terms


def monte_carlo_truth(family: str, dim: int, alphas: list[float], seed: int) -> dict[float, tuple[float, float]]:
    """(truth, relative standard error) per alpha: ``∫ g(-log f(x)) dx`` by importance
    sampling from the defensive mixture of ``_importance_draws``."""
    log_f, log_q, _ = _importance_draws(family, dim, TRUTH_DRAWS, seed)
    out = {}
    for alpha in alphas:
        terms = _integral_terms(log_f, log_q, alpha)
        mean = float(terms.mean())
        out[alpha] = (mean, float(terms.std() / math.sqrt(len(terms)) / abs(mean)))
    return out


def truth_reached_shares(family: str, dim: int, alphas: list[float], sizes: list[int]) -> dict[tuple, float]:
    """(alpha, n) -> the share of the true |BE| integral from densities inside the reach of
    an n-point sample: u = -log f between its true quantiles at REACH_POINTS / n and
    1 - REACH_POINTS / n, where a sample of n has REACH_POINTS points beyond each cut. What
    lies beyond is known to no estimator that does not assume the tails' law; where it is
    more than a few per cent of BE, no band can be that narrow on the sample's evidence."""
    log_f, log_q, from_f = _importance_draws(family, dim, TRUTH_DRAWS, seed=dim + 1000)
    u_of_f = -log_f[from_f]
    out = {}
    for alpha in alphas:
        terms = np.abs(_integral_terms(log_f, log_q, alpha))
        for n in sizes:
            share = REACH_POINTS / n
            low, high = np.quantile(u_of_f, [share, 1 - share])
            inside = (-log_f >= low) & (-log_f <= high)
            out[alpha, n] = float(terms[inside].sum() / terms.sum())
    return out


def truths(families: list[str], dims: list[int], alphas: list[float]) -> dict[tuple, tuple[float, float]]:
    """(family, dim, alpha) -> (truth, relative standard error), Monte Carlo ones cached."""
    cache = json.loads(TRUTHS.read_text()) if TRUTHS.exists() else {}
    out = {}
    for family in families:
        for dim in dims:
            usable = [a for a in alphas if family != "student" or a > 1]
            if closed_form_truth(family, dim, 1.0) is not None:
                out.update({(family, dim, a): (closed_form_truth(family, dim, a), 0.0) for a in usable})
                continue
            missing = [a for a in usable if f"{family}|{dim}|{a:g}" not in cache]
            if missing:
                for alpha, value in monte_carlo_truth(family, dim, missing, seed=dim).items():
                    cache[f"{family}|{dim}|{alpha:g}"] = value
                RESULTS.mkdir(exist_ok=True)
                TRUTHS.write_text(json.dumps(cache, indent=1) + "\n")
            out.update({(family, dim, a): tuple(cache[f"{family}|{dim}|{a:g}"]) for a in usable})
    return out


def with_truth_reached(rows: list[dict]) -> list[dict]:
    """The rows, each with ``truth_reached`` (``truth_reached_shares``), cached beside the
    truths."""
    cache = json.loads(TRUTHS.read_text()) if TRUTHS.exists() else {}
    key = "reach|{}|{}|{:g}|{}".format
    for family, dim in dict.fromkeys((r["family"], r["dim"]) for r in rows):
        mine = [r for r in rows if (r["family"], r["dim"]) == (family, dim)]
        if any(key(family, dim, r["alpha"], r["n"]) not in cache for r in mine):
            alphas, sizes = sorted({r["alpha"] for r in mine}), sorted({r["n"] for r in mine})
            for (alpha, n), share in truth_reached_shares(family, dim, alphas, sizes).items():
                cache[key(family, dim, alpha, n)] = share
            TRUTHS.write_text(json.dumps(cache, indent=1) + "\n")
    return [{**r, "truth_reached": cache[key(r["family"], r["dim"], r["alpha"], r["n"])]} for r in rows]


def run_case(family: str, dim: int, n: int, repeat: int, known: dict, alphas: list[float]) -> list[dict]:
    points = sample(family, n, dim, np.random.default_rng([n, dim, repeat, zlib.crc32(family.encode())]))
    radius = est.knn_distances(points, K)
    usable = [alpha for alpha in alphas if (family, dim, alpha) in known]
    rows = []
    start = time.perf_counter()
    bands = behavioral_band(points, usable, K)
    seconds = time.perf_counter() - start
    for alpha, band in zip(usable, bands):
        truth, truth_se = known[family, dim, alpha]
        paper = est.behavioral_from_distances(radius, dim, K, alpha)
        common = {"family": family, "dim": dim, "n": n, "repeat": repeat, "alpha": alpha,
                  "truth": truth, "truth_rel_se": truth_se}
        rows.append({**common, "method": "paper", "estimate": paper,
                     "rel_error": (paper - truth) / abs(truth)})
        rows.append({**common, "method": "banded", "estimate": band.value,
                     "rel_error": (band.value - truth) / abs(truth),
                     "low": band.low, "high": band.high, "reached": band.reached,
                     "band_rel_half_width": band.half_width,
                     "covers": band.covers(truth), "seconds": seconds, "extrapolated": band.extrapolated})
    return rows


def summary(rows: list[dict]) -> dict:
    """Per (n, d): the bands' coverage over every case, and the largest errors of both
    methods at alpha in [0.5, 2] (all cases, and only those not flagged extrapolated)."""
    out = {}
    for n in sorted({r["n"] for r in rows}):
        for dim in sorted({r["dim"] for r in rows}):
            mine = [r for r in rows if r["n"] == n and r["dim"] == dim]
            banded = [r for r in mine if r["method"] == "banded"]
            if not banded:
                continue
            central = [r for r in mine if 0.5 <= r["alpha"] <= 2]
            out[f"n={n} d={dim}"] = {
                "cases": len(banded),
                "band_coverage": float(np.mean([r["covers"] for r in banded])),
                "extrapolated_share": float(np.mean([r["extrapolated"] for r in banded])),
                "max_abs_rel_error_alpha_0.5_2": {
                    method: float(max(abs(r["rel_error"]) for r in central if r["method"] == method))
                    for method in ("paper", "banded")},
                "max_abs_rel_error_alpha_0.5_2_not_extrapolated": float(max(
                    [abs(r["rel_error"]) for r in central if r["method"] == "banded" and not r["extrapolated"]],
                    default=float("nan"))),
            }
    return out


def accuracy_target(rows: list[dict]) -> dict:
    """Per n: of the banded cases at alpha in [0.5, 2] and d <= 6, the share within 5 % of
    the truth, the share whose band is no wider than ±5 %, and the share with both; over all
    of them, and over those where the sample can tell (at least REACHABLE of the true BE
    from densities the sample reaches), with the latter's misses listed."""
    def shares(cases: list[dict]) -> dict:
        return {"cases": len(cases),
                "within_5pc": float(np.mean([abs(r["rel_error"]) <= 0.05 for r in cases])),
                "band_within_5pc": float(np.mean([r["band_rel_half_width"] <= 0.05 for r in cases])),
                "both": float(np.mean([_on_target(r) for r in cases]))}

    out = {}
    for n in sorted({r["n"] for r in rows}):
        central = [r for r in rows if r["n"] == n and r["method"] == "banded" and 0.5 <= r["alpha"] <= 2
                   and r["dim"] <= 6]
        if central:
            reachable = [r for r in central if r["truth_reached"] >= REACHABLE]
            out[f"n={n}"] = {**shares(central), "where_the_sample_can_tell": {
                **shares(reachable),
                "misses": [f"{r['family']} d={r['dim']} alpha={r['alpha']:g} repeat {r['repeat']}: "
                           f"error {100 * r['rel_error']:+.1f} %, band ±{100 * r['band_rel_half_width']:.1f} %"
                           for r in reachable if not _on_target(r)]}}
    return out


def _on_target(row: dict) -> bool:
    return abs(row["rel_error"]) <= 0.05 and row["band_rel_half_width"] <= 0.05


def family_coverage(rows: list[dict]) -> dict:
    """Per n and family: the share of bands covering the truth."""
    return {f"n={n} {family}": float(np.mean([r["covers"] for r in rows
                                               if r["n"] == n and r["family"] == family and r["method"] == "banded"]))
            for n in sorted({r["n"] for r in rows}) for family in dict.fromkeys(r["family"] for r in rows)
            if any(r["n"] == n and r["family"] == family for r in rows)}


def markdown_table(rows: list[dict], n: int) -> str:
    """One line per (family, d) at sample size n (first repeat), a cell per alpha: the
    paper's error, then the banded error with its band (both relative to the truth, in
    per cent), its reached share, whether the band covers the truth (✓ or ✗), and "e" where
    the value is flagged extrapolated."""
    def percent(x: float) -> str:
        return f"{100 * x:+.0f}" if abs(x) < 10 else f"{x:+.0e}×"

    banded = [r for r in rows if r["n"] == n and r["method"] == "banded" and r["repeat"] == 0]
    paper = {(r["family"], r["dim"], r["alpha"]): r["rel_error"] for r in rows
             if r["n"] == n and r["method"] == "paper" and r["repeat"] == 0}
    alphas = sorted({r["alpha"] for r in banded})
    lines = ["| family | d | " + " | ".join(f"α = {a:g}: paper · banded [band] reached" for a in alphas) + " |",
             "|---|---|" + "---|" * len(alphas)]
    for family, dim in dict.fromkeys((r["family"], r["dim"]) for r in banded):
        cells = []
        for alpha in alphas:
            match = [r for r in banded if (r["family"], r["dim"], r["alpha"]) == (family, dim, alpha)]
            if not match:
                cells.append("—")
                continue
            r = match[0]
            truth = abs(r["truth"])
            cells.append(f"{percent(paper[family, dim, alpha])} · {percent(r['rel_error'])} "
                         f"[{percent((r['low'] - r['truth']) / truth)}, {percent((r['high'] - r['truth']) / truth)}] "
                         f"{r['reached']:.2f} {'✓' if r['covers'] else '✗'}{' e' if r['extrapolated'] else ''}")
        lines.append(f"| {family} | {dim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--dims", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=["gaussian", "anisotropic", "laplace", "uniform",
                                                           "beta", "mixture", "shell", "student"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.2, 0.5, 0.7, 2.0, 5.0])
    parser.add_argument("--truth-rel-se", type=float, default=0.01)
    parser.add_argument("--table", type=int, metavar="N",
                        help="print the stored cases at sample size N as a markdown table, and stop")
    parser.add_argument("--summarise", action="store_true",
                        help="run no case: recompute the summary of the stored cases")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(TABLE.read_text())["cases"], args.table))
        return
    known = {key: value for key, value in truths(args.families, args.dims, args.alphas).items()
             if value[1] <= args.truth_rel_se}
    previous = json.loads(TABLE.read_text())["cases"] if TABLE.exists() else []
    new = [] if args.summarise else [
        row for family in args.families for dim in args.dims for n in args.sizes
        for repeat in range(args.repeats) for row in run_case(family, dim, n, repeat, known, args.alphas)]
    replaced = {(r["family"], r["dim"], r["n"], r["repeat"]) for r in new}
    rows = with_truth_reached([r for r in previous if (r["family"], r["dim"], r["n"], r["repeat"]) not in replaced]
                              + new)
    RESULTS.mkdir(exist_ok=True)
    overview = {"by_dimension": summary(rows), "by_family": family_coverage(rows),
                "accuracy_target": accuracy_target(rows)}
    TABLE.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "k": K,
                                 "summary": overview, "cases": rows}, indent=1) + "\n")
    print(json.dumps(overview, indent=1))


if __name__ == "__main__":
    main()
