"""Particle-based intrinsic rewards for APT-style exploration.

Each sample's reward comes from the distance R between its representation and its k nearest
neighbours inside the same minibatch (the batch stands in for the state distribution).

Behavioral entropy composes Shannon entropy with Prelec's probability weighting
w(p) = exp(-beta (-log p)^alpha). Replacing the density in the BE integrand by its k-NN
estimate, with the dimension set to 1 and a constant c inside the log so that R = 0 stays
finite, gives the reward  R * beta * x^alpha * exp(-beta x^alpha)  with x = log(c + R).
With alpha = beta = 1 it increases in R exactly where Shannon's log(c + R) does.

The Rényi reward is this project's choice: the q-logarithm of (c + R), which increases in
R for every q > 0, is finite at R = 0, and tends to the Shannon reward as q -> 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

REWARD_KINDS = ("be", "renyi", "shannon")
_FLOAT32_MAX = torch.finfo(torch.float32).max


def knn_distance(features: torch.Tensor, k: int, average: bool) -> torch.Tensor:
    """Distance of each row to its k nearest rows of the batch, the row itself included."""
    n = features.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} neighbours need between 1 and {n} particles")
    distances = torch.cdist(features, features)
    nearest = distances.topk(k, dim=1, largest=False).values
    return nearest.mean(dim=1) if average else nearest[:, -1]


def default_beta(alpha: float, size: int = 512) -> float:
    """beta tied to alpha through the representation size, so that alpha = 1 gives beta = 1."""
    return math.log(size) ** (1.0 - alpha)


def _finite(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.clamp(-_FLOAT32_MAX, _FLOAT32_MAX).to(like.dtype)


def shannon_reward(R: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    return _finite(torch.log(c + R.double()), R)


def behavioral_entropy_reward(R: torch.Tensor, alpha: float, beta: float, c: float = 1.0) -> torch.Tensor:
    # In log space: the product overflows for huge R while its logarithm does not.
    r = R.double()
    x = torch.log(c + r)
    x_alpha = torch.exp(alpha * torch.log(x.clamp_min(torch.finfo(torch.float64).tiny)))
    log_reward = torch.log(r) + math.log(beta) + alpha * torch.log(x) - beta * x_alpha
    reward = torch.where(r > 0, torch.exp(log_reward), torch.zeros_like(r))
    return _finite(reward, R)


def renyi_reward(R: torch.Tensor, q: float, c: float = 1.0) -> torch.Tensor:
    log_term = torch.log(c + R.double())
    if q == 1.0:
        return _finite(log_term, R)
    return _finite(torch.expm1((1.0 - q) * log_term) / (1.0 - q), R)


@dataclass(frozen=True)
class ParticleReward:
    kind: str
    alpha: float = 1.0
    beta: float | None = None
    q: float = 0.5
    k: int = 12
    c: float = 1.0
    average: bool = True  # mean of the k nearest distances, as URLB's APT does

    def __post_init__(self):
        if self.kind not in REWARD_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {REWARD_KINDS}")
        for field in ("alpha", "q", "c"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field}: must be > 0, got {getattr(self, field)}")
        if self.beta is not None and not self.beta > 0:
            raise ValueError(f"beta: must be > 0, got {self.beta}")
        if self.k < 1:
            raise ValueError(f"k: must be >= 1, got {self.k}")

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        R = knn_distance(features, self.k, self.average)
        if self.kind == "shannon":
            return shannon_reward(R, self.c)
        if self.kind == "renyi":
            return renyi_reward(R, self.q, self.c)
        beta = default_beta(self.alpha) if self.beta is None else self.beta
        return behavioral_entropy_reward(R, self.alpha, beta, self.c)
