"""APT: a DDPG explorer rewarded by the particle-based entropy of its state representation.

The intrinsic reward of a sample is computed inside the minibatch: the encoder (pretrained,
and by default kept training online on the forward/inverse dynamics losses, as APT does)
maps the n-step successor states to representations, and a
:class:`~berl.rewards.ParticleReward` (behavioral entropy, Rényi or Shannon) turns their
k-NN distances within the batch into rewards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..encoder import ICMEncoder
from ..rewards import ParticleReward
from .explorer import Explorer, ExplorerConfig


@dataclass
class APTConfig(ExplorerConfig):
    encoder_online: bool = True  # keep training the pretrained encoder, as APT does


class APTAgent(Explorer):
    name = "apt"

    def __init__(self, obs_dim: int, action_dim: int, seed: int, config: APTConfig,
                 reward: ParticleReward, encoder: ICMEncoder, capacity: int,
                 episode_length: int, device: torch.device):
        super().__init__(obs_dim, action_dim, seed, config, capacity, episode_length, device)
        self.reward, self.encoder = reward, encoder
        self.stateful |= {"encoder": encoder, "encoder_optimizer": encoder.optimizer}

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        metrics = {}
        if self.config.encoder_online:
            metrics = self.encoder.update(
                batch["observation"], batch["action"], batch["next_observation"]
            )
        with torch.no_grad():
            return self.reward(self.encoder.encode(batch["nstep_observation"])), metrics
