"""TD3 for offline data, as ExORL runs it, for K independent agents at once.

Clipped double-Q learning with target-policy smoothing; the actor is updated every step
and maximises the smaller of the two critics, and only the critics have target copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets import soft_update_
from .common import DeterministicActorCritic, OfflineConfig, frozen_critic_value, optimise


@dataclass
class TD3Config(OfflineConfig):
    policy_noise: float = 0.2  # std of the smoothing noise on target actions
    noise_clip: float = 0.3


class TD3(DeterministicActorCritic):
    name = "td3"

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        critic_loss, q = self.critic_step(batch, streams, cfg.policy_noise, cfg.noise_clip)

        obs = batch["observation"]
        actor_loss = -frozen_critic_value(self.critic, obs, self.actor(obs)).mean(dim=(1, 2))
        optimise(self.optimizers["actor"], actor_loss)

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {"critic_loss": critic_loss, "actor_loss": actor_loss.detach(),
                "q": q.mean(dim=(0, 2, 3))}
