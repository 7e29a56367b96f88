"""CRR (critic-regularised regression) for offline data, as ExORL runs it, for K agents.

The critics learn like TD3's (clipped double Q, target actions from the policy with
clipped Gaussian noise). The policy is a Gaussian with a learnt mean and a fixed standard
deviation, trained by weighted maximum likelihood of the dataset's actions: a sample's
weight is 1 when its advantage Q(s, a) - V(s) is positive and 0 otherwise, with V(s) the
mean of min(Q1, Q2) over ``value_samples`` actions drawn from the policy.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from .common import (
    DeterministicActor, OfflineAgent, OfflineConfig, TwinCritic, repeat, smoothed, twin_td_loss,
)
from ..nets import soft_update_


@dataclass
class CRRConfig(OfflineConfig):
    policy_std: float = 0.2  # fixed standard deviation of the Gaussian policy
    noise_clip: float = 0.3  # policy samples stay within ±noise_clip of the mean
    value_samples: int = 10


class CRR(OfflineAgent):
    name = "crr"

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: CRRConfig):
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
        batch_size, act_dim = action.shape[1:]

        with torch.no_grad():
            noise = streams.normal(action.shape[1:])
            next_action = smoothed(self.actor(next_obs), noise, cfg.policy_std, cfg.noise_clip)
            next_q = self.target_critic(next_obs, next_action).amin(dim=0)
            target = batch["reward"] + cfg.discount * batch["discount"] * next_q

        q = self.critic(obs, action)
        critic_loss = twin_td_loss(q, target)
        self.optimizers["critic"].zero_grad(set_to_none=True)
        critic_loss.sum().backward()
        self.optimizers["critic"].step()

        with torch.no_grad():
            n = cfg.value_samples
            repeated_obs = repeat(obs, n)
            noise = streams.normal((n * batch_size, act_dim))
            policy_actions = smoothed(self.actor(repeated_obs), noise, cfg.policy_std, cfg.noise_clip)
            value = self.critic(repeated_obs, policy_actions).amin(dim=0)
            value = value.unflatten(1, (n, batch_size)).mean(dim=1)
            advantage = self.critic(obs, action).amin(dim=0) - value
            weight = (advantage > 0).to(action.dtype)

        mean = self.actor(obs)
        log_likelihood = (
            -0.5 * ((action - mean) / cfg.policy_std).pow(2)
            - math.log(cfg.policy_std) - 0.5 * math.log(2 * math.pi)
        ).sum(dim=-1, keepdim=True)
        actor_loss = -(weight * log_likelihood).mean(dim=(1, 2))
        self.optimizers["actor"].zero_grad(set_to_none=True)
        actor_loss.sum().backward()
        self.optimizers["actor"].step()

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "positive_advantage": weight.mean(dim=(1, 2)),
            "q": q.detach().mean(dim=(0, 2, 3)),
        }
