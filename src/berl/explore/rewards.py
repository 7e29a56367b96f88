"""Particle-based intrinsic rewards for APT-style exploration.

A sample's reward depends on R, the distance from its representation to its k nearest
neighbours within the same minibatch: the batch stands in for the state distribution, and a
large R marks a rarely visited region.

Behavioral entropy (BE) is Shannon entropy with each probability passed through Prelec's
weighting w(p) = exp(-beta (-log p)^alpha). To turn it into a reward, the density inside the
BE integrand is replaced by its k-NN estimate, with the dimension set to 1 and a constant c
inside the logarithm (so R = 0 stays finite). With x = log(c + R) this gives

    r = R * beta * x^alpha * exp(-beta * x^alpha).

At alpha = beta = 1 (and c = 1) it is R log(1 + R) / (1 + R), which increases with R like the
Shannon reward log(c + R) and so ranks states the same way.

The Rényi reward is this project's own choice: the q-logarithm of (c + R),
((c + R)^(1 - q) - 1) / (1 - q). It increases with R for every q > 0, is finite at R = 0,
and tends to the Shannon reward as q -> 1.

With ``knn_rms`` each distance is first divided by the running mean of every k-NN distance
seen so far (URLB's ``knn_rms``; pytupli, which follows the BE authors' code, does it by
default). The reward then no longer depends on the scale of the representation, which
drifts while the encoder trains, and the three rewards see distances of the same size.

All rewards are computed in float64 and clamped to the float32 range before being cast back,
so that extreme distances or exponents never yield NaN or inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from berl.core.constants import prelec_beta
from berl.core.validate import InputError
from berl.explore.settings import REWARD_KINDS, ExploreSettings

_FLOAT32_MAX = torch.finfo(torch.float32).max


def knn_distance(features: torch.Tensor, k: int, average: bool) -> torch.Tensor:
    """Distance of each row of ``features`` (..., N, D) to its k nearest rows of the same
    set, itself included; leading axes index independent sets (one per explorer).

    Returns the mean of the k smallest distances if ``average`` (URLB's ``knn_avg``), else the
    k-th smallest. The row's own zero distance counts as one of the k, as in URLB's APT.
    """
    n = features.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} neighbours need between 1 and {n} particles")
    # Distances do not change under translation; centring keeps cdist's fast matrix-product
    # path accurate when the representations share a large offset.
    centred = features - features.mean(dim=-2, keepdim=True)
    distances = torch.cdist(centred, centred)
    # The matrix-product path leaves rounding noise on the diagonal; a row is at distance 0.
    self_pairs = torch.eye(n, dtype=torch.bool, device=features.device)
    distances = distances.masked_fill(self_pairs, 0.0)
    nearest = distances.topk(k, dim=-1, largest=False).values
    return nearest.mean(dim=-1) if average else nearest[..., -1]


def _log_c_plus(R: torch.Tensor, c: float) -> torch.Tensor:
    """log(c + R) in float64, accurate for R far below c and never overflowing for huge R."""
    log_c = torch.tensor(math.log(c), dtype=torch.float64, device=R.device)
    return torch.logaddexp(torch.log(R.double()), log_c)


def _to_float32_range(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.clamp(-_FLOAT32_MAX, _FLOAT32_MAX).to(like.dtype)


def shannon_reward(R: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """log(c + R)."""
    return _to_float32_range(_log_c_plus(R, c), R)


def behavioral_entropy_reward(
    R: torch.Tensor, alpha: float, beta: float, c: float = 1.0
) -> torch.Tensor:
    """R * beta * x^alpha * exp(-beta * x^alpha) with x = log(c + R); 0 where R = 0."""
    r = R.double()
    # x plays the role of -log p >= 0; with c < 1 it would turn negative for R < 1 - c, where
    # x^alpha is undefined, so it is floored at 0 (reward 0 there).
    x = _log_c_plus(R, c).clamp_min(0.0)
    x_alpha = x.pow(alpha)
    # In log space: for huge R the factors over- and underflow apart, their logs stay moderate.
    # log(0) = -inf at R = 0 or x = 0 only sends exp to 0 (no finite term is +inf).
    log_reward = torch.log(r) + math.log(beta) + alpha * torch.log(x) - beta * x_alpha
    reward = torch.where(r > 0, torch.exp(log_reward), torch.zeros_like(r))
    return _to_float32_range(reward, R)


def renyi_reward(R: torch.Tensor, q: float, c: float = 1.0) -> torch.Tensor:
    """q-logarithm of (c + R): ((c + R)^(1 - q) - 1) / (1 - q), and log(c + R) at q = 1."""
    log_term = _log_c_plus(R, c)
    if q == 1.0:
        return _to_float32_range(log_term, R)
    # expm1 keeps the q -> 1 limit accurate; overflow for huge R ends as inf, then clamped.
    return _to_float32_range(torch.expm1((1.0 - q) * log_term) / (1.0 - q), R)


class RunningMean:
    """The running mean of URLB's ``RMS`` helper, the only moment its particle reward uses.

    It starts at 0 with a pseudo-count of ``epsilon``; a batch of ``count`` values with mean
    m moves it by (m - mean) * count / (n + count), after which n grows by ``count``.
    """

    def __init__(self, epsilon: float = 1e-4):
        self.mean = torch.zeros((), dtype=torch.float64)
        self.count = epsilon

    def update(self, batch_mean: torch.Tensor, count: int) -> torch.Tensor:
        """Merge a batch of ``count`` values with mean ``batch_mean``; the new running mean."""
        mean = self.mean.to(batch_mean.device)
        self.mean = mean + (batch_mean.double() - mean) * count / (self.count + count)
        self.count += count
        return self.mean

    def state_dict(self) -> dict:
        return {"mean": self.mean, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.count = state["mean"], state["count"]


@dataclass(frozen=True)
class ParticleReward:
    """Intrinsic reward of each row of a batch of representations, from its k-NN distance."""

    kind: str  # "be" (behavioral entropy), "renyi" or "shannon"
    alpha: float = 1.0  # BE only
    beta: float | None = None  # BE only; None means prelec_beta(alpha)
    q: float = 0.5  # Rényi only
    k: int = 12
    c: float = 1.0
    average: bool = True  # mean of the k nearest distances, as URLB's APT does
    knn_rms: bool = ExploreSettings.knn_rms  # divide distances by their running mean (URLB's knn_rms)
    running: RunningMean = field(default_factory=RunningMean, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in REWARD_KINDS:
            raise InputError(f"kind: {self.kind!r} is not one of {REWARD_KINDS}")
        # `not x > 0` also rejects NaN.
        for name in ("alpha", "q", "c"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.beta is not None and not self.beta > 0:
            raise InputError(f"beta: must be > 0, got {self.beta}")
        if self.k < 1:
            raise InputError(f"k: must be >= 1, got {self.k}")

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """Rewards (N,) for the representations ``features`` (N, D) of one batch."""
        return self.of_distances(knn_distance(features, self.k, self.average))

    def of_distances(self, R: torch.Tensor) -> torch.Tensor:
        """Rewards (N,) for the k-NN distances ``R`` (N,) of one batch (``knn_distance``
        with this reward's ``k`` and ``average``)."""
        if self.knn_rms:
            # The running mean is over every distance that enters R (all k per row when
            # averaging): the mean of the rows' means, counted k times per row.
            seen = R.numel() * (self.k if self.average else 1)
            R = (R.double() / self.running.update(R.double().mean(), seen)).to(R.dtype)
        if self.kind == "shannon":
            return shannon_reward(R, self.c)
        if self.kind == "renyi":
            return renyi_reward(R, self.q, self.c)
        beta = prelec_beta(self.alpha) if self.beta is None else self.beta
        return behavioral_entropy_reward(R, self.alpha, beta, self.c)
