"""CRR (critic-regularised regression) for offline data, as ExORL runs it, for K agents.

The critics learn like TD3's (clipped double Q, target actions from the policy with
clipped Gaussian noise). The policy is a Gaussian with a learnt mean and a fixed standard
deviation, trained by weighted maximum likelihood of the dataset's actions: a sample's
weight is 1 when its advantage Q(s, a) - V(s) is positive and 0 otherwise, with V(s) the
mean of min(Q1, Q2) over ``value_samples`` actions drawn from the policy.
"""

from __future__ import annotations

import math

import torch

from berl.core.nets import soft_update_
from berl.offline.common import (
    DeterministicActorCritic,
    optimise,
    repeat,
    smoothed,
)


class CRR(DeterministicActorCritic):
    name = "crr"

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        critic_loss, q = self.critic_step(batch, streams, cfg.policy_std, cfg.noise_clip)

        obs, action = batch["observation"], batch["action"]
        batch_size, act_dim = action.shape[1:]
        mean = self.actor(obs)
        with torch.no_grad():
            n = cfg.value_samples
            noise = streams.normal((n * batch_size, act_dim))
            policy_actions = smoothed(repeat(mean, n), noise, cfg.policy_std, cfg.noise_clip)
            # min(Q1, Q2) of the data's action (sample 0) and of the n policy samples, in one
            # pass of both critics: (K, n + 1, B, 1)
            values = self.critic(repeat(obs, n + 1), torch.cat([action, policy_actions], dim=1))
            values = values.amin(dim=0).unflatten(1, (n + 1, batch_size))
            advantage = values[:, 0] - values[:, 1:].mean(dim=1)
            weight = (advantage > 0).to(action.dtype)

        log_likelihood = (
            -0.5 * ((action - mean) / cfg.policy_std).pow(2)
            - math.log(cfg.policy_std) - 0.5 * math.log(2 * math.pi)
        ).sum(dim=-1, keepdim=True)
        actor_loss = -(weight * log_likelihood).mean(dim=(1, 2))
        optimise(self.optimizers["actor"], actor_loss)

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": critic_loss,
            "actor_loss": actor_loss.detach(),
            "positive_advantage": weight.mean(dim=(1, 2)),
            "q": q.mean(dim=(0, 2, 3)),
        }
