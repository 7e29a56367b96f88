"""The coverage stage's settings: the ``coverage``, ``embedding`` and ``estimator_study``
blocks of a preset.

Nothing here imports torch, scipy or pandas, so the workflow reads the settings without
loading the estimators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from berl.core.constants import BE_ALPHAS, RENYI_QS
from berl.core.settings import setting


@dataclass
class CoverageSettings:
    """The ``coverage`` block: measures of every dataset of a domain."""

    points: int = setting(5000, "states drawn from each dataset", required=True)
    k: int = setting(10, "neighbour of the k-NN estimators and of the ball radius", required=True)
    components: int = setting(8, "principal components for the entropy estimates", required=True)
    be_alphas: list[float] = setting(BE_ALPHAS, "alphas of the behavioral-entropy estimates")
    renyi_qs: list[float] = setting(RENYI_QS, "orders of the Rényi-entropy estimates")
    # The paper's estimator is the reconstruction the paper reports with; the corrected one
    # is more accurate in 1-5 dimensions but not shown to be so on 8 components of 5000 states.
    be_estimator: Literal["paper", "corrected", "banded"] = setting(
        "paper", "behavioral-entropy estimator: the paper's importance-sampling plug-in, the corrected "
        "one (k-NN noise and tails modelled, estimators.LogDensityLaw), or the banded one (k-NN bias "
        "measured on a fitted Gaussian mixture, be_band.behavioral_band), whose 90 % band every table shows")
    grid_components: int = setting(3, "axes of the occupancy grid", required=True)
    grid_bins: int = setting(10, "cells per axis of the occupancy grid", required=True, minimum=2)
    ball_components: int = setting(4, "axes of the ball-union volume", required=True)
    ball_samples: int = setting(100_000, "Monte Carlo probes of the ball-union volume", required=True)
    seed: int = setting(0, "seed of the state draws and the probes", minimum=0)


@dataclass
class EmbeddingSettings:
    """The ``embedding`` block: joint t-SNE and PHATE maps of a domain's datasets."""

    points: int = setting(doc="states drawn from each dataset")
    space: Literal["state", "representation"] = setting("state", "embed the states or their encoder representation")
    perplexity: float = setting(30.0, "t-SNE's perplexity (capped at a third of the points)")
    phate_knn: int = setting(5, "PHATE's neighbours")
    seed: int = setting(0, "seed of the state draws and of the map", minimum=0)


@dataclass
class StudySettings:
    """The ``estimator_study`` block: the grid of the study."""

    sizes: list[int] = setting(doc="sample sizes n", minimum=20)
    ks: list[int] = setting(doc="neighbours k")
    dims: list[int] = setting(doc="dimensions")
    repeats: int = setting(doc="independent samples per setting")
    seed: int = setting(0, "seed of the samples", minimum=0)
