"""CQL (conservative Q-learning) for offline data, as ExORL runs it, for K agents at once.

A soft actor-critic whose critics are pushed down on actions the dataset does not
contain. Per member:

- critic: twin TD loss towards r + gamma * min Q_target(s', a'), a' ~ pi(s') (no entropy
  term in the target), plus ``cql_alpha`` times the penalty
  logsumexp over {Q(s, a_j)} - Q(s, a_data) for each critic, where the a_j are
  ``action_samples`` uniform actions, as many from pi(s) and as many from pi(s'), together
  with a_data itself;
- actor: tanh-Gaussian, minimises temperature * log pi(a|s) - min Q(s, a), a ~ pi(s);
- temperature: learnt so that the policy's entropy tracks -|A|.

As in ExORL, log pi in both is per action dimension: the log-density summed over
dimensions is divided by |A| (ExORL averages the per-dimension log-densities), so the
entropy terms weigh 1 / |A| of SAC's; ``log_prob_per_dimension=False`` gives SAC's sum.

The proposals' values enter the penalty through ``bound_proposals``, which Cal-QL
(``berl.offline.calql``) overrides to bound them from below.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from berl.core.nets import adam, soft_update_
from berl.offline.common import (
    OfflineAgent,
    TanhGaussianActor,
    TwinCritic,
    frozen_critic_value,
    optimise,
    repeat,
    repeated_samples,
    tanh_gaussian_sample,
    twin_td_loss,
)
from berl.offline.settings import CQLConfig


class CQL(OfflineAgent):
    name = "cql"

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: CQLConfig):
        super().__init__()
        self.config, self.seeds, self.act_dim = config, list(seeds), act_dim
        self.actor = TanhGaussianActor(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.critic = TwinCritic(obs_dim, act_dim, config.hidden_dim, self.seeds)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_temperature = nn.Parameter(torch.zeros(len(self.seeds)))
        self.target_entropy = -float(act_dim)
        self.optimizers = {
            "actor": adam(self.actor.parameters(), lr=config.lr),
            "critic": adam(self.critic.parameters(), lr=config.lr),
            "temperature": adam([self.log_temperature], lr=config.lr),
        }

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor.mean_action(obs)

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        obs, action, next_obs = batch["observation"], batch["action"], batch["next_observation"]
        batch_size = action.shape[1]
        n = cfg.action_samples

        policy = self.actor(obs)  # kept with its graph: the actor's loss samples it below
        with torch.no_grad():
            next_policy = self.actor(next_obs)
            next_action, _ = tanh_gaussian_sample(*next_policy, streams.normal(action.shape[1:]))
            next_q = self.target_critic(next_obs, next_action).amin(dim=0)
            target = batch["reward"] + cfg.discount * batch["discount"] * next_q
            # Actions for the penalty: n per source and sample, flattened to (K, n * B, A)
            # with sample j of batch row b at j * B + b.
            sample_shape = (n * batch_size, self.act_dim)
            uniform = streams.uniform(sample_shape, -1.0, 1.0)
            from_obs, _ = repeated_samples(policy, streams.normal(sample_shape))
            from_next, _ = repeated_samples(next_policy, streams.normal(sample_shape))
            proposals = torch.cat([uniform, from_obs, from_next], dim=1)

        # Q(s, a_data) and the proposals' Q(s, a_j) in one pass of both critics: a_data as
        # sample 0, then the proposals, (2, K, 3n + 1, B, 1).
        values = self.critic(repeat(obs, 3 * n + 1), torch.cat([action, proposals], dim=1))
        values = values.unflatten(2, (3 * n + 1, batch_size))
        q, proposal_q = values[:, :, 0], values[:, :, 1:]  # (2, K, B, 1), (2, K, 3n, B, 1)
        penalty, penalty_metrics = self.conservative_penalty(batch, proposal_q, q)
        td_loss = twin_td_loss(q, target)
        optimise(self.optimizers["critic"], td_loss + cfg.cql_alpha * penalty)

        new_action, log_pi = tanh_gaussian_sample(*policy, streams.normal(action.shape[1:]))
        if cfg.log_prob_per_dimension:
            log_pi = log_pi / self.act_dim
        temperature = self.log_temperature.exp().detach()[:, None, None]
        actor_loss = (temperature * log_pi - frozen_critic_value(self.critic, obs, new_action)
                      ).mean(dim=(1, 2))
        optimise(self.optimizers["actor"], actor_loss)

        entropy_gap = (log_pi.detach() + self.target_entropy).mean(dim=(1, 2))
        optimise(self.optimizers["temperature"], -(self.log_temperature * entropy_gap))

        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": td_loss.detach(),
            "cql_penalty": penalty.detach(),
            "actor_loss": actor_loss.detach(),
            "entropy": -log_pi.detach().mean(dim=(1, 2)),
            "q": q.detach().mean(dim=(0, 2, 3)),
            **penalty_metrics,
        }

    def conservative_penalty(self, batch: dict[str, torch.Tensor], proposal_q: torch.Tensor,
                             q: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per member (K,): logsumexp over {Q(s, a_j)} and Q(s, a_data), minus Q(s, a_data),
        averaged over the batch and summed over the twin critics; and the metrics of
        :meth:`bound_proposals`. ``proposal_q`` (2, K, 3n, B, 1) holds both critics' values
        of the penalty's proposals, laid out as in ``update`` (the n uniform actions, then
        the n from pi(s) and the n from pi(s'), all at s); ``q`` (2, K, B, 1) is Q(s, a_data)."""
        proposal_q, metrics = self.bound_proposals(batch, proposal_q)
        every_q = torch.cat([proposal_q, q.unsqueeze(2)], dim=2)  # (2, K, 3n + 1, B, 1)
        return (every_q.logsumexp(dim=2) - q).mean(dim=(2, 3)).sum(dim=0), metrics

    def bound_proposals(self, batch: dict[str, torch.Tensor], proposal_q: torch.Tensor
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The proposals' values as the penalty uses them, and metrics of their own, per
        member: here unchanged and none. The hook through which Cal-QL bounds the policy's
        proposals."""
        return proposal_q, {}
