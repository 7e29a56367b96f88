"""How much of the state space each dataset of a domain covers.

Every dataset of a domain is measured in two spaces: the raw state (observation) and the
frozen encoder's 512-dimensional representation of it. In each space the states of all
datasets are standardised with shared statistics and projected on shared principal axes,
so numbers are comparable across the datasets of a domain (never across domains or
spaces). Each dataset contributes the same number of states, drawn uniformly at random.

Measures (columns of ``coverage.csv``):

- ``shannon``, ``renyi_q<q>``, ``be_a<alpha>``, ``log10_be_a<alpha>``: k-NN entropy
  estimates on the first
  ``components`` principal components (BE by the estimator ``be_estimator`` names:
  "paper" or "corrected", ``berl.coverage.estimators``, or "banded", ``berl.coverage.be_band``). k-NN estimators need the dimension of the space
  they integrate over; a 24-to-78-dimensional state or a 512-dimensional representation
  of a low-dimensional state manifold would make every density estimate degenerate, so
  the estimates use the leading components. Behavioral entropy is defined for densities
  up to 1 (``(-log f)^alpha``); the components are therefore scaled by one factor per
  domain and space so that the pooled states' estimated density stays below 1 even if
  all of it came from one dataset. Scaling shifts Shannon and Rényi estimates by the same
  constant for every dataset; BE is not shift-equivariant, so its values hold for this
  scale only: ``log10_be_a<alpha>_x2`` repeats each estimate in the space stretched twofold
  (``SCALE_CHECK``), and the coverage table says where the datasets' ranking changes with it.
  BE spans hundreds of decades across alphas (past float64 at alpha = 5 on 8 components),
  so the table shows ``log10_be_a<alpha>``, computed in log space.
- ``log10_be_a<alpha>_low`` and ``_high``, ``be_a<alpha>_reached``, ``be_a<alpha>_extrapolated``:
  the banded estimator's 90 % band (log10, NaN where a bound is not positive), the share of
  |BE| from densities the sample reaches, and whether the value is the model's rather than the
  sample's (reached share below one half or band wider than ±10 %), whichever estimator
  gives the values.
- ``grid_occupancy``: the fraction of cells of a regular grid (``grid_bins`` per axis,
  ``grid_components`` axes spanning the pooled states' range) holding at least one of the
  dataset's states.
- ``ball_volume``: the volume of the union of balls of one shared radius around the
  dataset's states on the first ``ball_components`` axes, as a fraction of the pooled
  states' bounding box, estimated by Monte Carlo. The radius is the median distance from a
  pooled state to its ``k``-th neighbour among all pooled states, so the balls bridge
  the gaps of a typical well-sampled region and no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from berl.core.constants import family_of
from berl.core.io import atomic_path
from berl.core.log import get_logger
from berl.core.validate import InputError
from berl.coverage import estimators
from berl.coverage.be_band import behavioral_band
from berl.coverage.settings import CoverageSettings
from berl.datasets import storage
from berl.explore.encoder import load_encoder

log = get_logger(__name__)

SPACES = ("state", "representation")
# BE is not invariant to the scale of the space it integrates over: besides the shared scale
# (``density_scale``), each BE is also estimated with the space stretched by this factor
# along every axis, so the report can say whether the datasets' ranking hinges on the scale.
SCALE_CHECK = 2.0
SCALE_SUFFIX = f"_x{SCALE_CHECK:g}"  # of the columns of BE in the stretched space


def dataset_states(manifest: Path, points: int, rng: np.random.Generator) -> np.ndarray:
    """``points`` states drawn without replacement from every state a dataset visited."""
    _, episodes = storage.load_dataset(Path(manifest))
    states = np.concatenate([episode["observation"] for episode in episodes])
    if len(states) < points:
        raise InputError(f"{manifest}: {len(states)} states, fewer than the {points} asked for")
    return states[rng.choice(len(states), size=points, replace=False)].astype(np.float32)


def check_distinct(points: np.ndarray, k: int, where: Path | str) -> None:
    """k-NN estimates need every point to have fewer than k exact copies (else its k-th
    neighbour is at distance 0 and its density infinite): a dataset that keeps repeating one
    state, or an encoder that maps many states to one, is named here."""
    _, copies = np.unique(points, axis=0, return_counts=True)
    if copies.max() > k:
        raise InputError(f"{where}: one point occurs {copies.max()} times among the {len(points)} drawn, "
                         f"more than k = {k} (k-NN entropy estimates need distinct points)")


@torch.no_grad()
def representation(states: np.ndarray, encoder_path: Path) -> np.ndarray:
    encoder = load_encoder(Path(encoder_path), torch.device("cpu"), observation_dim=states.shape[1]).eval()
    return encoder.encode(torch.as_tensor(states)[None])[0].numpy()


@dataclass
class SharedAxes:
    """Standardisation and principal axes fitted on the pooled states of a domain."""

    mean: np.ndarray
    scale: np.ndarray
    axes: np.ndarray  # (components, dim), rows in decreasing order of variance

    @classmethod
    def fit(cls, pooled: np.ndarray, components: int) -> "SharedAxes":
        """Statistics of ``pooled`` and its first ``components`` principal axes (none for 0:
        standardisation only)."""
        mean, std = pooled.mean(axis=0), pooled.std(axis=0)
        # Constant dimensions (a representation unit that never moves) keep scale 1.
        scale = np.where(std > 1e-8, std, 1.0)
        axes = np.empty((0, pooled.shape[1]))
        if components:
            _, _, vt = np.linalg.svd((pooled - mean) / scale, full_matrices=False)
            axes = vt[:components]
        return cls(mean, scale, axes)

    def standardise(self, points: np.ndarray) -> np.ndarray:
        return (points - self.mean) / self.scale

    def project(self, points: np.ndarray, components: int) -> np.ndarray:
        return self.standardise(points) @ self.axes[:components].T


def grid_occupancy(points: np.ndarray, low: np.ndarray, high: np.ndarray, bins: int) -> float:
    """Fraction of the ``bins ** dim`` cells spanning [low, high] that hold a point."""
    cells = np.floor((points - low) / (high - low) * bins).astype(np.int64)
    cells = np.clip(cells, 0, bins - 1)  # the upper edge belongs to the last cell
    occupied = np.unique(cells, axis=0)
    return len(occupied) / bins ** points.shape[1]


def ball_union_volume(points: np.ndarray, radius: float, low: np.ndarray, high: np.ndarray,
                      samples: int, rng: np.random.Generator) -> float:
    """Monte Carlo fraction of the box [low, high] within ``radius`` of some point."""
    probes = rng.uniform(low, high, size=(samples, points.shape[1])).astype(np.float32)
    nearest = estimators.nearest_distances(points, probes)
    return float(np.mean(nearest <= radius))


def entropy_row(points: np.ndarray, settings: CoverageSettings) -> dict[str, float]:
    """Every entropy estimate of one dataset: Shannon, Rényi and the paper's or corrected BE
    from a single k-NN search; the banded BE (value, 90 % band, reached share, extrapolated
    flag) from its own searches, whichever estimator the values come from."""
    radius, dim, k = estimators.knn_distances(points, settings.k), points.shape[1], settings.k
    row = {"shannon": estimators.shannon_from_distances(radius, dim, k)}
    for q in settings.renyi_qs:
        row[f"renyi_q{q:g}"] = estimators.renyi_from_distances(radius, dim, k, q)
    bands = behavioral_band(points, settings.be_alphas, k)
    banded = settings.be_estimator == "banded"
    if banded:
        be = [band.value for band in bands]
    else:
        be = estimators.behavioral_estimates(radius, dim, k, settings.be_alphas, method=settings.be_estimator)
    for alpha, value, band in zip(settings.be_alphas, be, bands):
        row.update({f"be_a{alpha:g}": value, f"log10_be_a{alpha:g}_low": _log10(band.low),
                    f"log10_be_a{alpha:g}_high": _log10(band.high), f"be_a{alpha:g}_reached": band.reached,
                    f"be_a{alpha:g}_extrapolated": float(band.extrapolated)})
    # Scaling the space by c multiplies every point, and every k-NN distance, by c.
    for scale, suffix in ((1.0, ""), (SCALE_CHECK, SCALE_SUFFIX)):
        if banded:
            at_scale = bands if scale == 1.0 else behavioral_band(scale * points, settings.be_alphas, k)
            logs = [_log10(band.value) for band in at_scale]
        else:
            logs = estimators.behavioral_log10_estimates(scale * radius, dim, k, settings.be_alphas,
                                                         method=settings.be_estimator)
        row.update({f"log10_be_a{alpha:g}{suffix}": value for alpha, value in zip(settings.be_alphas, logs)})
    return row


def _log10(value: float) -> float:
    """log10 of a BE value or band bound, NaN where it is not positive."""
    return float(np.log10(value)) if value > 0 else float("nan")


def density_scale(pooled: np.ndarray, datasets: int, k: int) -> float:
    """The factor that brings the largest k-NN density of ``datasets`` equal shares of
    ``pooled`` to at most 1: a dataset's density is at most ``datasets`` times the pool's."""
    dim = pooled.shape[1]
    top = float(estimators.knn_log_density(pooled, k).max()) + np.log(datasets)
    return float(np.exp(max(top, 0.0) / dim))


def space_rows(samples: dict[str, np.ndarray], settings: CoverageSettings,
               rng: np.random.Generator) -> list[dict]:
    """Every measure of every dataset in one space; ``samples`` maps dataset -> states."""
    widest = max(settings.components, settings.grid_components, settings.ball_components)
    pooled = np.concatenate(list(samples.values()))
    shared = SharedAxes.fit(pooled, widest)
    scale = density_scale(shared.project(pooled, settings.components), len(samples), settings.k)
    grid_space = shared.project(pooled, settings.grid_components)
    ball_space = shared.project(pooled, settings.ball_components)
    radius = float(np.median(estimators.knn_distances(ball_space, settings.k)))
    rows = []
    for name, states in samples.items():
        grid = shared.project(states, settings.grid_components)
        balls = shared.project(states, settings.ball_components)
        row = {"dataset": name, **entropy_row(scale * shared.project(states, settings.components), settings)}
        row["grid_occupancy"] = grid_occupancy(grid, grid_space.min(0), grid_space.max(0), settings.grid_bins)
        row["ball_volume"] = ball_union_volume(balls, radius, ball_space.min(0), ball_space.max(0),
                                               settings.ball_samples, rng)
        row["ball_radius"] = radius
        row["entropy_scale"] = scale
        rows.append(row)
    return rows


def measure(domain: str, manifests: dict[str, Path], datasets: list[dict], encoder_path: Path,
            settings: CoverageSettings, out_csv: Path) -> pd.DataFrame:
    """Coverage of each dataset of one domain (``manifests``: dataset name -> manifest)."""
    if settings.points <= settings.k:
        raise InputError(f"--points {settings.points}: no {settings.k}-th neighbour (--k) among so few states")
    specs = {spec["name"]: spec for spec in datasets}
    rng = np.random.default_rng(settings.seed)
    states = {name: dataset_states(path, settings.points, rng) for name, path in manifests.items()}
    encoded = {name: representation(s, encoder_path) for name, s in states.items()}
    for name, path in manifests.items():
        check_distinct(states[name], settings.k, path)
        check_distinct(encoded[name], settings.k, f"{encoder_path} on {path}")
    rows = []
    for space, samples in (("state", states), ("representation", encoded)):
        for row in space_rows(samples, settings, rng):
            spec = specs[row["dataset"]]
            rows.append({"domain": domain, "dataset": row.pop("dataset"), "family": family_of(spec),
                         "alpha": spec.get("alpha", np.nan), "q": spec.get("q", np.nan),
                         "space": space, "components": settings.components, "k": settings.k,
                         "be_estimator": settings.be_estimator, "points": settings.points, **row})
            log.info("%s (%s): %s", rows[-1]["dataset"], space,
                     ", ".join(f"{key} {value:.3g}" for key, value in row.items()))
    frame = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
