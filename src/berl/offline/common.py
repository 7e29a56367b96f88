"""What the offline algorithms share: their base settings, networks and loss pieces.

Every network holds K members, one per agent of a job; inputs and outputs carry a leading
member axis (K, B, ·). Member m is initialised from ``member_seeds[m]`` alone, and every
loss is a sum over members of per-member losses, so one optimiser step trains K
independent agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..nets import ensemble_mlp, member_generators


@dataclass
class OfflineConfig:
    """ExORL's values (facts: lr 1e-4, tau 0.01, hidden 1024, batch 1024)."""

    hidden_dim: int = 1024
    batch_size: int = 1024
    lr: float = 1e-4
    discount: float = 0.99
    tau: float = 0.01  # target critic update rate


class OfflineAgent(nn.Module):
    """K agents of one algorithm. Subclasses set ``optimizers`` and define ``act``/``update``."""

    name: str
    optimizers: dict[str, torch.optim.Optimizer]

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action of every member: (K, B, obs) -> (K, B, act)."""
        raise NotImplementedError

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        """One gradient step for every member; returns per-member metrics of shape (K,)."""
        raise NotImplementedError

    def optimizer_state(self) -> dict:
        return {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}

    def load_optimizer_state(self, state: dict) -> None:
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[name])


def twin_td_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared TD errors of Q1 and Q2, (2, K, B, 1) vs (K, B, 1) -> per member, (K,)."""
    return (q - target).pow(2).mean(dim=(2, 3)).sum(dim=0)


def smoothed(action: torch.Tensor, noise: torch.Tensor, std: float, clip: float) -> torch.Tensor:
    """``action`` plus Gaussian noise of ``std`` clipped to ±``clip``, kept in [-1, 1]."""
    return (action + (noise * std).clamp(-clip, clip)).clamp(-1.0, 1.0)


def repeat(x: torch.Tensor, times: int) -> torch.Tensor:
    """(K, B, D) -> (K, times * B, D), row b of copy j at j * B + b."""
    return x.unsqueeze(1).expand(-1, times, -1, -1).flatten(1, 2)


def frozen_critic_value(critic: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """min(Q1, Q2) with gradients flowing to ``action`` only, for actor losses."""
    critic.requires_grad_(False)
    value = critic(obs, action).amin(dim=0)
    critic.requires_grad_(True)
    return value

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0  # CQL's actor, as in ExORL


class TwinCritic(nn.Module):
    """Q1 and Q2 of K agents as one ensemble of 2K members."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int]):
        super().__init__()
        generators = member_generators(member_seeds, salt=1) + member_generators(member_seeds, salt=2)
        self.net = ensemble_mlp(2 * len(member_seeds), obs_dim + act_dim, hidden, 1, generators)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(K, B, ·) inputs -> (2, K, B, 1) values."""
        x = torch.cat([obs, action], dim=-1)
        return self.net(torch.cat([x, x], dim=0)).unflatten(0, (2, -1))


class DeterministicActor(nn.Module):
    """tanh of an MLP: TD3's policy, and CRR's policy mean."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int]):
        super().__init__()
        self.net = ensemble_mlp(len(member_seeds), obs_dim, hidden, act_dim,
                                member_generators(member_seeds, 0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class TanhGaussianActor(nn.Module):
    """CQL's policy: a ~ tanh(N(mu, sigma)) with mu = tanh(.) and log sigma in [-10, 2]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int]):
        super().__init__()
        self.net = ensemble_mlp(len(member_seeds), obs_dim, hidden, 2 * act_dim,
                                member_generators(member_seeds, 0))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        return torch.tanh(mu), log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(obs)[0])

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised actions tanh(mu + sigma * noise) and their log-densities (summed
        over action dimensions, with the tanh change of variables)."""
        mu, std = self(obs)
        pre_tanh = mu + std * noise
        action = torch.tanh(pre_tanh)
        gaussian = -0.5 * noise.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)
        # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), stable for large |x|.
        jacobian = 2 * (math.log(2) - pre_tanh - nn.functional.softplus(-2 * pre_tanh))
        return action, (gaussian - jacobian).sum(dim=-1, keepdim=True)
