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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from berl.core.nets import orthogonal_init_, relu_mlp
from berl.explore.explorer import Explorer, ExplorerConfig


@dataclass
class SMMConfig(ExplorerConfig):
    skills: int = 4
    discriminator_lr: float = 1e-3
    vae_lr: float = 1e-2
    vae_beta: float = 0.5  # weight of the KL term
    vae_hidden_dim: int = 150
    vae_code_dim: int = 128


class SkillVAE(nn.Module):
    """Gaussian VAE over (s, z) with an MSE reconstruction term."""

    def __init__(self, input_dim: int, hidden_dim: int, code_dim: int, beta: float):
        super().__init__()
        self.beta = beta
        self.encoder = nn.Sequential(relu_mlp(input_dim, hidden_dim, hidden_dim), nn.ReLU())
        self.mean = nn.Linear(hidden_dim, code_dim)
        self.log_variance = nn.Linear(hidden_dim, code_dim)
        self.decoder = relu_mlp(code_dim, hidden_dim, hidden_dim, input_dim)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss, and each sample's summed squared reconstruction error."""
        features = self.encoder(x)
        mean, log_variance = self.mean(features), self.log_variance(features)
        noise = torch.randn(mean.shape, generator=generator, device=x.device)
        code = mean + noise * torch.exp(0.5 * log_variance)
        squared_error = (self.decoder(code) - x).pow(2)
        kl = -0.5 * (1 + log_variance - mean.pow(2) - log_variance.exp()).sum(dim=1).mean()
        return self.beta * kl + squared_error.mean(), squared_error.sum(dim=1)


class SkillSchedule(nn.Module):
    """The skill of every episode of the run (a buffer, so checkpoints carry it)."""

    def __init__(self, episodes: int):
        super().__init__()
        self.register_buffer("skill", torch.zeros(episodes, dtype=torch.long))


class SMMAgent(Explorer):
    name = "smm"

    def __init__(self, obs_dim: int, action_dim: int, seed: int, config: SMMConfig,
                 capacity: int, episode_length: int, device: torch.device):
        super().__init__(obs_dim, action_dim, seed, config, capacity, episode_length, device,
                         context_dim=config.skills)
        init = torch.Generator().manual_seed(seed)
        self.discriminator = orthogonal_init_(
            relu_mlp(obs_dim, config.hidden_dim, config.hidden_dim, config.skills), init
        ).to(device)
        self.vae = orthogonal_init_(SkillVAE(
            obs_dim + config.skills, config.vae_hidden_dim, config.vae_code_dim, config.vae_beta
        ), init).to(device)
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.discriminator_lr
        )
        self.vae_optimizer = torch.optim.Adam(self.vae.parameters(), lr=config.vae_lr)
        self.schedule = SkillSchedule(math.ceil(capacity / episode_length)).to(device)
        self.episode_started(0)
        self.stateful |= {
            "discriminator": self.discriminator, "vae": self.vae, "schedule": self.schedule,
            "discriminator_optimizer": self.discriminator_optimizer,
            "vae_optimizer": self.vae_optimizer,
        }

    def episode_started(self, episode: int) -> None:
        if episode < len(self.schedule.skill):
            self.schedule.skill[episode] = int(self.rng.integers(self.config.skills))

    def skill_of(self, index: torch.Tensor) -> torch.Tensor:
        return self.schedule.skill[index // self.episode_length]

    def policy_input(self, observation: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        skill = F.one_hot(self.skill_of(index), self.config.skills)
        return torch.cat([observation, skill.to(observation.dtype)], dim=-1)

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        observation = batch["observation"]
        vae_loss, reconstruction_error = self.vae.loss(
            self.policy_input(observation, batch["index"]), self.generator
        )
        self.vae_optimizer.zero_grad(set_to_none=True)
        vae_loss.backward()
        self.vae_optimizer.step()

        cross_entropy = F.cross_entropy(
            self.discriminator(observation), self.skill_of(batch["index"]), reduction="none"
        )
        discriminator_loss = cross_entropy.mean()
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        discriminator_loss.backward()
        self.discriminator_optimizer.step()

        reward = (reconstruction_error + math.log(self.config.skills) + cross_entropy).detach()
        return reward, {"vae_loss": vae_loss.detach(), "discriminator_loss": discriminator_loss.detach()}

