"""APT: a DDPG explorer rewarded by the particle-based entropy of its state representation.

The intrinsic reward of a sample is computed inside the minibatch, as URLB's ICM-APT does:
the encoder maps each sampled transition's current observation to its representation, and
a :class:`~berl.explore.rewards.ParticleReward` (behavioral entropy, Rényi or Shannon) turns their
k-NN distances within the batch into rewards. The encoder starts from the domain's
pretrained one (``encoder_init: pretrained``) or, as in URLB, from a fresh initialisation
(``scratch``), and by default keeps training online on the forward/inverse dynamics losses.
Each explorer of a batched job has its own encoder copy and its own reward (a BE alpha, a
Rényi q or Shannon, with its own running distance scale).
"""

from __future__ import annotations

import torch

from berl.core.validate import InputError
from berl.explore.encoder import ICMEncoder
from berl.explore.explorer import Explorer
from berl.explore.rewards import ParticleReward, knn_distance
from berl.explore.settings import APTConfig

class APTAgent(Explorer):
    name = "apt"

    def __init__(self, obs_dim: int, action_dim: int, seeds: list[int], config: APTConfig,
                 rewards: list[ParticleReward], encoder: ICMEncoder, capacity: int,
                 episode_length: int, device: torch.device):
        super().__init__(obs_dim, action_dim, seeds, config, capacity, episode_length, device)
        neighbours = {(reward.k, reward.average) for reward in rewards}
        if len(neighbours) != 1 or len(rewards) != len(self.seeds):
            raise InputError("the explorers of one job need one reward each, all with the same k and averaging")
        self.rewards, self.encoder = rewards, encoder
        self.stateful |= {"encoder": encoder, "encoder_optimizer": encoder.optimizer} | {
            f"reward_scale{member}": reward.running for member, reward in enumerate(rewards)}

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        metrics = {}
        if self.config.encoder_online:
            successor = "nstep_observation" if self.config.encoder_nstep_successor else "next_observation"
            metrics = self.encoder.update(batch["observation"], batch["action"], batch[successor])
        with torch.no_grad():
            shared = self.rewards[0]  # every member's k and averaging (checked above)
            distances = knn_distance(self.encoder.encode(batch["observation"]), shared.k, shared.average)
            return torch.stack([reward.of_distances(R) for reward, R in zip(self.rewards, distances)]), metrics
