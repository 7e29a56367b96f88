"""TD3 for offline data, as ExORL runs it, for K independent agents at once.

Clipped double-Q learning with target-policy smoothing; the actor is updated every step
and maximises the smaller of the two critics, and only the critics have target copies.
As in ExORL (and URLB's DDPG), the actor's loss evaluates a clipped noisy sample of the
policy, pi(s) + clip(N(0, policy_noise), ±noise_clip); ``noisy_actor_loss=False`` gives
the original TD3's deterministic pi(s).
"""

from __future__ import annotations

import torch

from berl.core.nets import soft_update_
from berl.offline.common import (
    DeterministicActorCritic,
    frozen_critic_value,
    optimise,
    smoothed,
)


class TD3(DeterministicActorCritic):
    name = "td3"

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        critic_loss, q = self.critic_step(batch, streams, cfg.policy_noise, cfg.noise_clip)

        obs = batch["observation"]
        action = self.actor(obs)
        if cfg.noisy_actor_loss:
            action = smoothed(action, streams.normal(action.shape[1:]), cfg.policy_noise, cfg.noise_clip)
        actor_loss = -frozen_critic_value(self.critic, obs, action).mean(dim=(1, 2))
        optimise(self.optimizers["actor"], actor_loss)

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {"critic_loss": critic_loss, "actor_loss": actor_loss.detach(),
                "q": q.mean(dim=(0, 2, 3))}
