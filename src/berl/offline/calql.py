"""Cal-QL (calibrated conservative Q-learning, Nakamoto et al. 2023), for K agents at once.

Offline Behavior Distillation's teacher. Cal-QL is CQL (``berl.offline.cql``: a soft
actor-critic whose critics pay ``cql_alpha`` times a conservative penalty) with one change:
the penalty may not push the value of the policy's actions below the value of the policy
that collected the data. Per member:

- Monte-Carlo returns: every transition of the dataset carries the discounted return of
  its episode from there on, mc_return(s) = r_t + gamma * r_{t+1} + ... up to the episode's
  end (``storage.returns_to_go``, computed once when the data is loaded; the dataset must
  mark episode ends). It estimates the behaviour policy's value at s;
- critic: CQL's twin TD loss plus ``cql_alpha`` times the penalty
  logsumexp over {Q(s, a_j)} - Q(s, a_data), where the a_j are ``action_samples`` uniform
  actions, as many from pi(s) and as many from pi(s') (all evaluated at s), and a_data
  itself; but each value Q(s, a) of an action from pi(s) or pi(s') enters the logsumexp
  as max(Q(s, a), mc_return(s)). The uniform actions and a_data are not bounded. A policy
  value already below the data's return thus feels no further push down (the gradient
  of the max is zero there), so the learnt value of the policy is held at about the
  behaviour policy's value or above (the paper's calibration) rather than sinking
  below it as CQL's can, while actions the data does not support are still pushed down;
- actor and temperature: CQL's, unchanged.

``bound=False`` gives CQL's penalty exactly (the same numbers, for ablations), still
logging ``bound_rate``: the fraction of the policy proposals' values (both critics, pi(s)
and pi(s')) that lie below mc_return(s), which the bound lifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from berl.offline.cql import CQL, CQLConfig


@dataclass
class CalQLConfig(CQLConfig):
    bound: bool = True  # max(Q, mc_return) on the policy's proposals; False: CQL's penalty


class CalQL(CQL):
    name = "calql"
    needs_mc_returns = True

    def proposal_values(self, batch: dict[str, torch.Tensor], proposals: torch.Tensor
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """CQL's proposal values (2, K, 3n, B, 1), those of the 2n policy actions raised to
        at least the row's Monte-Carlo return; and the per-member ``bound_rate`` (K,)."""
        proposal_q, metrics = super().proposal_values(batch, proposals)
        n = self.config.action_samples
        uniform, policy = proposal_q.split([n, 2 * n], dim=2)
        lower_bound = batch["mc_return"].unsqueeze(1)  # (K, 1, B, 1): over critics and samples
        below = policy < lower_bound
        metrics = {**metrics, "bound_rate": below.float().mean(dim=(0, 2, 3, 4))}
        if self.config.bound:
            proposal_q = torch.cat([uniform, torch.maximum(policy, lower_bound)], dim=2)
        return proposal_q, metrics
