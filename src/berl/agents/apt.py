"""APT: a DDPG explorer rewarded by particle-based entropy of its state representation.

The learner is the project's clipped double-Q actor-critic (``offline.td3.TD3``) with one
member, which matches URLB's DDPG backbone: twin critics with a min target, target actions
with clipped Gaussian noise, soft target critics, ExORL/URLB network shapes. The agent acts
uniformly at random for the first ``seed_frames`` steps, then with Gaussian exploration
noise, and updates every ``update_every`` steps on n-step samples of its own replay.

The intrinsic reward of a sample is computed inside the minibatch: the encoder maps the
n-step successor states to representations, and a :class:`~berl.rewards.ParticleReward`
(behavioral entropy, Rényi or Shannon) turns their k-NN distances into rewards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..encoder import ICMEncoder
from ..offline.td3 import TD3, TD3Config
from ..rewards import ParticleReward
from .replay import NStepReplay


@dataclass
class APTConfig(TD3Config):
    """The learner's hyperparameters (URLB's DDPG values are TD3Config's defaults) plus APT's."""

    nstep: int = 3
    seed_frames: int = 4000  # uniform-random actions before learning starts
    update_every: int = 2
    exploration_std: float = 0.2
    encoder_online: bool = True  # keep training the pretrained encoder, as APT does


class APTAgent:
    name = "apt"

    def __init__(self, obs_dim: int, action_dim: int, seed: int, config: APTConfig,
                 reward: ParticleReward, encoder: ICMEncoder, capacity: int,
                 episode_length: int, device: torch.device):
        self.config, self.reward, self.encoder, self.device = config, reward, encoder, device
        self.action_dim = action_dim
        self.learner = TD3(obs_dim, action_dim, [seed], config).to(device)
        self.replay = NStepReplay(capacity, obs_dim, action_dim, config.nstep, episode_length, device)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device).manual_seed(seed)
        # The learner's target is r + discount * d * Q: d = discount^(n-1) makes it n-step.
        self.nstep_discount = config.discount ** (config.nstep - 1)
        self.steps = 0
        self.metrics: dict[str, torch.Tensor] = {}

    def act(self, observation: np.ndarray) -> np.ndarray:
        if self.steps < self.config.seed_frames:
            return self.rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)
        obs = torch.as_tensor(observation, device=self.device)[None, None]
        mean = self.learner.act(obs)[0, 0].cpu().numpy()
        noise = self.rng.normal(0.0, self.config.exploration_std, self.action_dim)
        return np.clip(mean + noise, -1.0, 1.0).astype(np.float32)

    def observe(self, observation, action, next_observation, episode_end: bool) -> None:
        self.replay.add(observation, action, next_observation)
        self.steps += 1
        if self.steps >= self.config.seed_frames and self.steps % self.config.update_every == 0:
            self.update()

    def intrinsic_reward(self, observation: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.reward(self.encoder.encode(observation))

    def update(self) -> None:
        batch = self.replay.sample(self.config.batch_size, self.generator)
        metrics = {}
        if self.config.encoder_online:
            metrics |= self.encoder.update(
                batch["observation"], batch["action"], batch["next_observation"]
            )
        reward = self.intrinsic_reward(batch["nstep_observation"])
        learner_batch = {
            "observation": batch["observation"][None],
            "action": batch["action"][None],
            "reward": reward[None, :, None],
            "discount": torch.full_like(reward, self.nstep_discount)[None, :, None],
            "next_observation": batch["nstep_observation"][None],
        }
        metrics |= {k: v[0] for k, v in self.learner.update(learner_batch, self.generator).items()}
        self.metrics = metrics | {"intrinsic_reward": reward.mean()}
