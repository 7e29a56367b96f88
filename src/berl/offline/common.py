"""What the offline algorithms share: their base settings, networks and loss pieces.

Every network holds K members, one per agent of a job; inputs and outputs carry a leading
member axis (K, B, ·). Member m is initialised from ``member_seeds[m]`` alone, and every
loss is a sum over members of per-member losses, so one optimiser step trains K
independent agents.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from berl.core.nets import (
    EnsembleLayerNorm,
    EnsembleLinear,
    Optimizer,
    adam,
    ensemble_mlp,
    member_generators,
    orthogonal_,
)
from berl.offline.settings import OfflineConfig


class OfflineAgent(nn.Module):
    """K agents of one algorithm. Subclasses set ``optimizers`` and define ``act``/``update``."""

    name: str
    optimizers: dict[str, Optimizer]
    # True: ``update``'s batches also hold ``mc_return`` (K, B, 1), the discounted return
    # from each transition to the end of its episode (the dataset must mark episode ends).
    needs_mc_returns: bool = False

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action of every member: (K, B, obs) -> (K, B, act)."""
        raise NotImplementedError

    def fit_to_data(self, data: dict[str, torch.Tensor]) -> None:
        """Called once before the first step with the arrays that ``update``'s batches are
        drawn from, (N, ·); nothing by default (CORL's Cal-QL takes its state statistics)."""

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        """One gradient step for every member; returns per-member metrics of shape (K,)."""
        raise NotImplementedError

    def optimizer_state(self) -> dict:
        return {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}

    def load_optimizer_state(self, state: dict) -> None:
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[name])


def optimise(optimizer: Optimizer, loss: torch.Tensor) -> None:
    """One optimiser step on the sum of the members' losses (each member's gradient is
    its own loss's: members share no parameters)."""
    optimizer.zero_grad()
    loss.sum().backward()
    optimizer.step()


def twin_td_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared TD errors of Q1 and Q2, (2, K, B, 1) vs (K, B, 1) -> per member, (K,)."""
    return (q - target).pow(2).mean(dim=(2, 3)).sum(dim=0)


def smoothed(action: torch.Tensor, noise: torch.Tensor, std: float, clip: float) -> torch.Tensor:
    """``action`` plus Gaussian noise of ``std`` clipped to ±``clip``, kept in [-1, 1].

    The gradient passes the final clamp unchanged (straight-through), as in the truncated
    normal of URLB and ExORL, so an actor whose noisy sample leaves the box still learns.
    """
    noisy = action + (noise * std).clamp(-clip, clip)
    return noisy + (noisy.clamp(-1.0, 1.0) - noisy).detach()


def repeat(x: torch.Tensor, times: int) -> torch.Tensor:
    """(K, B, D) -> (K, times * B, D), row b of copy j at j * B + b."""
    return x.unsqueeze(1).expand(-1, times, -1, -1).flatten(1, 2)


def repeated_samples(policy: tuple[torch.Tensor, torch.Tensor], noise: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``tanh_gaussian_sample`` of a policy's (mean, std), (K, B, A), at each row
    noise.shape[1] // B times, laid out as ``repeat``: the policy net runs once per state,
    not once per sample."""
    times = noise.shape[1] // policy[0].shape[1]
    return tanh_gaussian_sample(*(repeat(x, times) for x in policy), noise)


def frozen_critic_value(critic: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """min(Q1, Q2) with gradients flowing to ``action`` only, for actor losses."""
    critic.requires_grad_(False)
    value = critic(obs, action).amin(dim=0)
    critic.requires_grad_(True)
    return value

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0  # CQL's actor, as in ExORL


class TwinCritic(nn.Module):
    """ExORL's offline critic: Q1 and Q2 of K agents as two separate nets, evaluated as one
    ensemble of 2K members."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int]):
        super().__init__()
        generators = member_generators(member_seeds, salt=1) + member_generators(member_seeds, salt=2)
        self.net = ensemble_mlp(2 * len(member_seeds), obs_dim + act_dim, hidden, 1, generators)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(K, B, ·) inputs -> (2, K, B, 1) values."""
        x = torch.cat([obs, action], dim=-1)
        return self.net(torch.cat([x, x], dim=0)).unflatten(0, (2, -1))


class SharedTrunkTwinCritic(nn.Module):
    """URLB's DDPG critic: Q1 and Q2 share one trunk, Linear-LayerNorm-Tanh on (s, a), and
    each has its own head, Linear-ReLU-Linear. Same inputs and outputs as ``TwinCritic``.

    Both heads' TD errors train the shared trunk. Member m's layers are initialised in
    order (trunk, Q1, Q2) from its own generator.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int]):
        super().__init__()
        members = len(member_seeds)
        self.trunk = nn.Sequential(EnsembleLinear(members, obs_dim + act_dim, hidden),
                                   EnsembleLayerNorm(members, hidden), nn.Tanh())
        self.q1 = nn.Sequential(EnsembleLinear(members, hidden, hidden), nn.ReLU(), EnsembleLinear(members, hidden, 1))
        self.q2 = nn.Sequential(EnsembleLinear(members, hidden, hidden), nn.ReLU(), EnsembleLinear(members, hidden, 1))
        orthogonal_(self, member_generators(member_seeds, salt=1))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(K, B, ·) inputs -> (2, K, B, 1) values."""
        h = self.trunk(torch.cat([obs, action], dim=-1))
        return torch.stack([self.q1(h), self.q2(h)])


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
        return tanh_gaussian_sample(*self(obs), noise)


def tanh_gaussian_sample(mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised actions tanh(mean + std * noise) of standard normal ``noise`` and
    their log-densities, summed over action dimensions, with the tanh change of variables."""
    pre_tanh = mean + std * noise
    action = torch.tanh(pre_tanh)
    gaussian = -0.5 * noise.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)
    # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), stable for large |x|.
    jacobian = 2 * (math.log(2) - pre_tanh - nn.functional.softplus(-2 * pre_tanh))
    return action, (gaussian - jacobian).sum(dim=-1, keepdim=True)


class DeterministicActorCritic(OfflineAgent):
    """A deterministic actor (the policy or its mean) with twin critics and a target copy
    of the critics, trained on TD targets with clipped Gaussian target-action noise:
    TD3's and CRR's shared machinery."""

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: OfflineConfig,
                 critic_class: type[nn.Module] = TwinCritic):
        super().__init__()
        self.config, self.seeds = config, list(seeds)
        self.actor = DeterministicActor(obs_dim, act_dim, config.hidden_dim, self.seeds)
        # ExORL's two separate critic nets; the explorers pass URLB's SharedTrunkTwinCritic.
        self.critic = critic_class(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.optimizers = {
            "actor": adam(self.actor.parameters(), lr=config.lr),
            "critic": adam(self.critic.parameters(), lr=config.lr),
        }

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def critic_step(self, batch: dict[str, torch.Tensor], streams, noise_std: float,
                    noise_clip: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of both critics towards r + gamma * min Q_target(s', pi(s') + noise);
        returns the per-member loss and the critics' values Q(s, a)."""
        with torch.no_grad():
            noise = streams.normal(batch["action"].shape[1:])
            next_obs = batch["next_observation"]
            next_action = smoothed(self.actor(next_obs), noise, noise_std, noise_clip)
            next_q = self.target_critic(next_obs, next_action).amin(dim=0)
            target = batch["reward"] + self.config.discount * batch["discount"] * next_q
        q = self.critic(batch["observation"], batch["action"])
        loss = twin_td_loss(q, target)
        optimise(self.optimizers["critic"], loss)
        return loss.detach(), q.detach()
