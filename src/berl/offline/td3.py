"""TD3 for offline data, as ExORL runs it, for K independent agents at once.

Clipped double-Q learning with target-policy smoothing; the actor is updated every step
and maximises the smaller of the two critics, and only the critics have target copies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from .common import (
    DeterministicActor, OfflineAgent, OfflineConfig, TwinCritic, frozen_critic_value, smoothed,
    twin_td_loss,
)
from ..nets import soft_update_


@dataclass
class TD3Config(OfflineConfig):
    policy_noise: float = 0.2  # std of the smoothing noise on target actions
    noise_clip: float = 0.3


class TD3(OfflineAgent):
    name = "td3"

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: TD3Config):
        super().__init__()
        self.config, self.seeds = config, list(seeds)
        self.actor = DeterministicActor(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.critic = TwinCritic(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.optimizers = {
            "actor": torch.optim.Adam(self.actor.parameters(), lr=config.lr),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=config.lr),
        }

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        obs, action, next_obs = batch["observation"], batch["action"], batch["next_observation"]

        with torch.no_grad():
            noise = streams.normal(action.shape[1:])
            next_action = smoothed(self.actor(next_obs), noise, cfg.policy_noise, cfg.noise_clip)
            next_q = self.target_critic(next_obs, next_action).amin(dim=0)
            target = batch["reward"] + cfg.discount * batch["discount"] * next_q

        q = self.critic(obs, action)
        critic_loss = twin_td_loss(q, target)
        self.optimizers["critic"].zero_grad(set_to_none=True)
        critic_loss.sum().backward()
        self.optimizers["critic"].step()

        actor_loss = -frozen_critic_value(self.critic, obs, self.actor(obs)).mean(dim=(1, 2))
        self.optimizers["actor"].zero_grad(set_to_none=True)
        actor_loss.sum().backward()
        self.optimizers["actor"].step()

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "q": q.detach().mean(dim=(0, 2, 3)),
        }
