"""TD3 for offline data, as ExORL runs it, for K independent agents at once.

Clipped double-Q learning with target-policy smoothing; the actor is updated every step
and maximises the smaller of the two critics, and only the critics have target copies.
Every network is an ensemble of K members (one per seed), so one batched forward and one
optimiser step train all K agents; each agent's loss depends on its own members only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..nets import ensemble_mlp, member_generators, soft_update_


@dataclass
class TD3Config:
    hidden_dim: int = 1024
    batch_size: int = 1024
    lr: float = 1e-4
    discount: float = 0.99
    tau: float = 0.01  # target critic update rate
    policy_noise: float = 0.2  # std of the smoothing noise on target actions
    noise_clip: float = 0.3


class TwinCritic(nn.Module):
    """Q1 and Q2 of K agents as one ensemble of 2K members."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, seeds: list[int]):
        super().__init__()
        generators = member_generators(seeds, salt=1) + member_generators(seeds, salt=2)
        self.net = ensemble_mlp(2 * len(seeds), obs_dim + act_dim, hidden, 1, generators)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(K, B, ·) inputs -> (2, K, B, 1) values."""
        x = torch.cat([obs, action], dim=-1)
        return self.net(torch.cat([x, x], dim=0)).unflatten(0, (2, -1))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, seeds: list[int]):
        super().__init__()
        self.net = ensemble_mlp(len(seeds), obs_dim, hidden, act_dim, member_generators(seeds, 0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class TD3(nn.Module):
    name = "td3"

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: TD3Config):
        super().__init__()
        self.config = config
        self.seeds = list(seeds)
        self.actor = Actor(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.critic = TwinCritic(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action of every agent: (K, B, obs) -> (K, B, act)."""
        return self.actor(obs)

    def update(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict:
        """One gradient step for every agent; returns per-agent losses, shape (K,)."""
        cfg = self.config
        obs, action = batch["observation"], batch["action"]

        with torch.no_grad():
            noise = torch.randn(action.shape, generator=generator, device=action.device)
            noise = (noise * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_action = (self.actor(batch["next_observation"]) + noise).clamp(-1.0, 1.0)
            next_q = self.target_critic(batch["next_observation"], next_action).amin(dim=0)
            target = batch["reward"] + cfg.discount * batch["discount"] * next_q

        q = self.critic(obs, action)
        critic_loss = (q - target).pow(2).mean(dim=(2, 3)).sum(dim=0)  # Q1 + Q2 loss per agent
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.sum().backward()
        self.critic_optimizer.step()

        self.critic.requires_grad_(False)  # the actor's loss must not move the critic
        actor_loss = -self.critic(obs, self.actor(obs)).amin(dim=0).mean(dim=(1, 2))
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.sum().backward()
        self.actor_optimizer.step()
        self.critic.requires_grad_(True)

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "q": q.detach().mean(dim=(0, 2, 3)),
        }

    def optimizer_state(self) -> dict:
        return {
            "actor": self.actor_optimizer.state_dict(),
            "critic": self.critic_optimizer.state_dict(),
        }

    def load_optimizer_state(self, state: dict) -> None:
        self.actor_optimizer.load_state_dict(state["actor"])
        self.critic_optimizer.load_state_dict(state["critic"])
