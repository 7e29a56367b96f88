"""SMM (state marginal matching) as URLB runs it: a skill-conditioned DDPG explorer.

Each episode draws a skill z uniformly from ``skills`` one-hot codes; the actor and critics
see (s, z). Two models are trained on every minibatch:

- a VAE density model of (s, z), whose per-sample reconstruction error stands in for
  -log rho(s | z) (the state entropy term);
- a discriminator q(z | s), whose cross-entropy is -log q(z | s).

The intrinsic reward is their sum plus log(skills) = -log p(z), each term with weight 1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from berl.core.nets import (
    EnsembleLinear,
    MemberStreams,
    adam,
    ensemble_relu_mlp,
    member_generators,
    orthogonal_,
)
from berl.explore.explorer import Explorer
from berl.explore.settings import SMMConfig


class SkillVAE(nn.Module):
    """Gaussian VAE over (s, z) with an MSE reconstruction term, one per explorer."""

    def __init__(self, members: int, input_dim: int, hidden_dim: int, code_dim: int, beta: float,
                 generators: list[torch.Generator]):
        super().__init__()
        self.beta = beta
        self.encoder = nn.Sequential(ensemble_relu_mlp(members, (input_dim, hidden_dim, hidden_dim), generators),
                                     nn.ReLU())
        self.mean = orthogonal_(EnsembleLinear(members, hidden_dim, code_dim), generators)
        self.log_variance = orthogonal_(EnsembleLinear(members, hidden_dim, code_dim), generators)
        self.decoder = ensemble_relu_mlp(members, (code_dim, hidden_dim, hidden_dim, input_dim), generators)

    def loss(self, x: torch.Tensor, streams: MemberStreams) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's training loss (K,), and each sample's summed squared reconstruction
        error (K, B)."""
        features = self.encoder(x)
        mean, log_variance = self.mean(features), self.log_variance(features)
        code = mean + streams.normal(mean.shape[1:]) * torch.exp(0.5 * log_variance)
        squared_error = (self.decoder(code) - x).pow(2)
        kl = -0.5 * (1 + log_variance - mean.pow(2) - log_variance.exp()).sum(dim=2).mean(dim=1)
        return self.beta * kl + squared_error.mean(dim=(1, 2)), squared_error.sum(dim=2)


class SkillSchedule(nn.Module):
    """The skill of every episode of each run (a buffer, so checkpoints carry it)."""

    def __init__(self, members: int, episodes: int):
        super().__init__()
        self.register_buffer("skill", torch.zeros(members, episodes, dtype=torch.long))


class SMMAgent(Explorer):
    name = "smm"

    def __init__(self, obs_dim: int, action_dim: int, seeds: list[int], config: SMMConfig,
                 capacity: int, episode_length: int, device: torch.device):
        super().__init__(obs_dim, action_dim, seeds, config, capacity, episode_length, device,
                         context_dim=config.skills)
        members, init = len(self.seeds), member_generators(self.seeds, salt=4)
        self.discriminator = ensemble_relu_mlp(
            members, (obs_dim, config.hidden_dim, config.hidden_dim, config.skills), init).to(device)
        self.vae = SkillVAE(members, obs_dim + config.skills, config.vae_hidden_dim, config.vae_code_dim,
                            config.vae_beta, init).to(device)
        self.discriminator_optimizer = adam(self.discriminator.parameters(), lr=config.discriminator_lr)
        self.vae_optimizer = adam(self.vae.parameters(), lr=config.vae_lr)
        self.schedule = SkillSchedule(members, math.ceil(capacity / episode_length)).to(device)
        self.members = torch.arange(members, device=device)[:, None]
        self.episode_started(0)
        self.stateful |= {
            "discriminator": self.discriminator, "vae": self.vae, "schedule": self.schedule,
            "discriminator_optimizer": self.discriminator_optimizer,
            "vae_optimizer": self.vae_optimizer,
        }

    def episode_started(self, episode: int) -> None:
        if episode < self.schedule.skill.shape[1]:
            for member, rng in enumerate(self.rngs):
                self.schedule.skill[member, episode] = int(rng.integers(self.config.skills))

    def skill_of(self, index: torch.Tensor) -> torch.Tensor:
        """The skills of transitions ``index`` (K, B) of the runs."""
        return self.schedule.skill[self.members, index // self.episode_length]

    def policy_input(self, observation: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        skill = F.one_hot(self.skill_of(index), self.config.skills)
        return torch.cat([observation, skill.to(observation.dtype)], dim=-1)

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        observation = batch["observation"]
        vae_loss, reconstruction_error = self.vae.loss(self.policy_input(observation, batch["index"]), self.streams)
        self.vae_optimizer.zero_grad()
        vae_loss.sum().backward()
        self.vae_optimizer.step()

        logits = self.discriminator(observation)
        cross_entropy = F.cross_entropy(
            logits.flatten(0, 1), self.skill_of(batch["index"]).flatten(), reduction="none"
        ).view(logits.shape[:2])
        discriminator_loss = cross_entropy.mean(dim=1)
        self.discriminator_optimizer.zero_grad()
        discriminator_loss.sum().backward()
        self.discriminator_optimizer.step()

        reward = (reconstruction_error + math.log(self.config.skills) + cross_entropy).detach()
        return reward, {"vae_loss": vae_loss.detach(), "discriminator_loss": discriminator_loss.detach()}
