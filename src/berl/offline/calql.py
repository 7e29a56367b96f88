"""Cal-QL (calibrated conservative Q-learning, Nakamoto et al. 2023), for K agents at once.

Two variants, both of which train on each transition's Monte-Carlo return mc_return(s) =
r_t + gamma * r_{t+1} + ... to its episode's end (``storage.returns_to_go``, computed once
when the data is loaded; the dataset must mark episode ends), an estimate of the value at s
of the policy that collected the data:

- ``corl_calql`` (:class:`CORLCalQL`, settings :class:`CORLCalQLConfig`): Cal-QL as CORL
  trains it (``algorithms/finetune/cal_ql.py``), whose checkpoints are Offline Behavior
  Distillation's teachers; the default D4RL teacher (``d4rl.teacher``);
- ``calql`` (:class:`CalQL`): Cal-QL's bound put on this project's CQL as ExORL runs it
  (``berl.offline.cql``), with ExORL's networks, sizes and penalty.

Both hold the value of the policy's actions in the penalty at no less than mc_return(s): a
policy value already below the data's return feels no further push down (the gradient of
the max is zero there), so the learnt value of the policy stays at about the behaviour
policy's value or above (the paper's calibration) rather than sinking below it as CQL's
can, while actions the data does not support are still pushed down.

CORL's Cal-QL, per member:

- states: standardised with the training data's mean and std (+ 1e-3) inside the
  networks, which are called with raw states (``fit_to_data``);
- critics: twin 2 x 256 ReLU nets, trained on the TD target r + gamma * min Q_target(s', a'),
  a' ~ pi(s') (no entropy term), plus ``cql_alpha`` (10, fixed) times the penalty
  T * logsumexp_j((Q(s, a_j) - log p(a_j)) / T) - Q(s, a_data), T = ``cql_temperature``,
  over ``action_samples`` actions from each of three sources, all evaluated at s: uniform
  on [-1, 1]^|A| (log p = log 0.5^|A|), pi(s) and pi(s') (log p = their log pi). The data
  action is not among them. The values of the pi(s) and pi(s') actions enter as
  max(Q(s, a_j), mc_return(s)) before their log pi is subtracted;
- actor: CORL's tanh-Gaussian policy (3 x 256 ReLU; log sigma = scale * h + offset, both
  learnt, clamped to [-20, 2]), minimising temperature * log pi(a|s) - min Q(s, a),
  a ~ pi(s), with log pi summed over action dimensions;
- temperature: SAC's, learnt so that the policy's entropy tracks -|A|.

As in CORL, every loss of a step is computed from the networks as they were at its start;
then the temperature, the actor and the critics take their steps, and the target critics
follow the critics.

The ExORL-based ``calql``, per member: CQL's twin TD loss plus ``cql_alpha`` times CQL's
penalty logsumexp over {Q(s, a_j)} - Q(s, a_data), where the a_j are ``action_samples``
uniform actions, as many from pi(s) and as many from pi(s') (all evaluated at s), and
a_data itself; each value Q(s, a) of an action from pi(s) or pi(s') enters the logsumexp as
max(Q(s, a), mc_return(s)). The uniform actions and a_data are not bounded. Actor and
temperature: CQL's, unchanged. ``bound=False`` gives CQL's penalty exactly (the same
numbers, for ablations), still logging ``bound_rate``.

Both log ``bound_rate``: the fraction of the policy proposals' values (both critics, pi(s)
and pi(s')) that lie below mc_return(s), which the bound lifts.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from berl.core.nets import EnsembleLinear, adam, ensemble_relu_mlp, member_generators, soft_update_
from berl.offline.common import (
    OfflineAgent,
    frozen_critic_value,
    optimise,
    repeat,
    repeated_samples,
    tanh_gaussian_sample,
    twin_td_loss,
)
from berl.offline.cql import CQL
from berl.offline.settings import CORLCalQLConfig


STATE_STD_EPS = 1e-3  # added to the states' std, as CORL (and OBD) standardise them
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # CORL's tanh-Gaussian policy


class StateStandardiser(nn.Module):
    """(s - mean) / std with the training data's state mean and population std + 1e-3,
    shared by the actor and the critics; identity until :meth:`fit` is called."""

    def __init__(self, obs_dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(obs_dim))
        self.register_buffer("std", torch.ones(obs_dim))

    @torch.no_grad()
    def fit(self, states: torch.Tensor) -> None:
        self.mean.copy_(states.mean(dim=0))
        self.std.copy_(states.std(dim=0, correction=0) + STATE_STD_EPS)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return (states - self.mean) / self.std


def corl_mlp(members: int, sizes: tuple[int, ...], generators: list[torch.Generator]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them, initialised as CORL's
    (``orthogonal_init``): every layer's weights orthogonal with gain sqrt(2), biases zero."""
    net = ensemble_relu_mlp(members, sizes, generators)
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, EnsembleLinear):
                layer.weight.mul_(math.sqrt(2))
    return net


class CORLActor(nn.Module):
    """CORL's tanh-Gaussian policy: from the standardised state, 3 hidden ReLU layers give a
    mean m and a head h per action dimension; log sigma = scale * h + offset (two learnt
    scalars per member, from 1 and -1) clamped to [-20, 2]; a = tanh(m + sigma * noise),
    acting with tanh(m)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int],
                 states: StateStandardiser):
        super().__init__()
        members = len(member_seeds)
        self.states = states
        self.net = corl_mlp(members, (obs_dim, hidden, hidden, hidden, 2 * act_dim),
                            member_generators(member_seeds, 0))
        self.log_std_scale = nn.Parameter(torch.ones(members, 1, 1))
        self.log_std_offset = nn.Parameter(torch.full((members, 1, 1), -1.0))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw states (K, B, obs) -> the Gaussian's mean and std before the tanh, (K, B, act)."""
        mean, head = self.net(self.states(obs)).chunk(2, dim=-1)
        log_std = (self.log_std_scale * head + self.log_std_offset).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std.exp()

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(obs)[0])

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised actions and their log pi, summed over action dimensions."""
        return tanh_gaussian_sample(*self(obs), noise)


class CORLTwinCritic(nn.Module):
    """CORL's two Q-functions, each Linear-ReLU-Linear-ReLU-Linear on (standardised s, a),
    for K agents: one ensemble of 2K members (Q1s from salt 1, Q2s from salt 2)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, member_seeds: list[int],
                 states: StateStandardiser):
        super().__init__()
        generators = member_generators(member_seeds, salt=1) + member_generators(member_seeds, salt=2)
        self.states = states
        self.net = corl_mlp(2 * len(member_seeds), (obs_dim + act_dim, hidden, hidden, 1), generators)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Raw states and actions (K, B, ·) -> (2, K, B, 1) values."""
        x = torch.cat([self.states(obs), action], dim=-1)
        return self.net(torch.cat([x, x], dim=0)).unflatten(0, (2, -1))


def importance_weighted_logsumexp(uniform_q: torch.Tensor, policy_q: torch.Tensor, policy_log_pi: torch.Tensor,
                                  act_dim: int, temperature: float) -> torch.Tensor:
    """CORL's estimate of the soft maximum of Q(s, .): T logsumexp over the proposals of
    (Q(s, a_j) - log p(a_j)) / T, with p the uniform density on [-1, 1]^|A|, 0.5^|A|, for
    ``uniform_q`` (2, K, n, B, 1) and the actions' own log pi (K, 2n, B, 1) for
    ``policy_q`` (2, K, 2n, B, 1). Returns (2, K, B, 1)."""
    uniform_log_density = act_dim * math.log(0.5)
    weighted = torch.cat([uniform_q - uniform_log_density, policy_q - policy_log_pi], dim=2)
    return temperature * (weighted / temperature).logsumexp(dim=2)


class CORLCalQL(OfflineAgent):
    name = "corl_calql"
    needs_mc_returns = True

    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], config: CORLCalQLConfig):
        super().__init__()
        self.config, self.seeds, self.act_dim = config, list(seeds), act_dim
        self.states = StateStandardiser(obs_dim)
        self.actor = CORLActor(obs_dim, act_dim, config.hidden_dim, self.seeds, self.states)
        self.critic = CORLTwinCritic(obs_dim, act_dim, config.hidden_dim, self.seeds, self.states)
        # The target critics read the same state statistics, not a copy taken before the fit.
        self.target_critic = copy.deepcopy(self.critic, {id(self.states): self.states}).requires_grad_(False)
        self.log_temperature = nn.Parameter(torch.zeros(len(self.seeds)))
        self.target_entropy = -float(act_dim)  # SAC's, for log pi summed over action dimensions
        self.optimizers = {
            "actor": adam(self.actor.parameters(), lr=config.actor_lr),
            "critic": adam(self.critic.parameters(), lr=config.critic_lr),
            "temperature": adam([self.log_temperature], lr=config.actor_lr),
        }

    def fit_to_data(self, data: dict[str, torch.Tensor]) -> None:
        self.states.fit(data["observation"])

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor.mean_action(obs)

    def update(self, batch: dict[str, torch.Tensor], streams) -> dict[str, torch.Tensor]:
        cfg = self.config
        obs, action, next_obs = batch["observation"], batch["action"], batch["next_observation"]
        one_per_row = action.shape[1:]  # (B, A)

        # Temperature and actor, from a fresh sample of the policy at s.
        policy = self.actor(obs)
        new_action, log_pi = tanh_gaussian_sample(*policy, streams.normal(one_per_row))
        entropy_gap = (log_pi.detach() + self.target_entropy).mean(dim=(1, 2))
        temperature_loss = -(self.log_temperature * entropy_gap)
        temperature = self.log_temperature.exp().detach()[:, None, None]
        actor_loss = (temperature * log_pi - frozen_critic_value(self.critic, obs, new_action)).mean(dim=(1, 2))

        # Critics: TD targets, and the penalty's proposals (n per source, flattened to
        # (K, n * B, A) with sample j of batch row b at j * B + b, all evaluated at s).
        n, rows = cfg.action_samples, action.shape[1]
        sample_shape = (n * rows, self.act_dim)
        with torch.no_grad():
            next_policy = self.actor(next_obs)
            next_action, _ = tanh_gaussian_sample(*next_policy, streams.normal(one_per_row))
            next_q = self.target_critic(next_obs, next_action).amin(dim=0)
            target = batch["reward"] + cfg.discount * batch["discount"] * next_q
            uniform = streams.uniform(sample_shape, -1.0, 1.0)
            from_obs, log_pi_obs = repeated_samples(policy, streams.normal(sample_shape))
            from_next, log_pi_next = repeated_samples(next_policy, streams.normal(sample_shape))
        q = self.critic(obs, action)  # (2, K, B, 1)
        proposal_q = self.critic(repeat(obs, 3 * n), torch.cat([uniform, from_obs, from_next], dim=1))
        proposal_q = proposal_q.unflatten(2, (3 * n, rows))  # (2, K, 3n, B, 1)
        policy_log_pi = torch.cat([log_pi_obs, log_pi_next], dim=1).unflatten(1, (2 * n, rows))
        penalty, bound_rate = self.conservative_penalty(q, proposal_q, policy_log_pi, batch["mc_return"])
        td_loss = twin_td_loss(q, target)

        optimise(self.optimizers["temperature"], temperature_loss)
        optimise(self.optimizers["actor"], actor_loss)
        optimise(self.optimizers["critic"], td_loss + cfg.cql_alpha * penalty)
        soft_update_(self.target_critic, self.critic, cfg.tau)
        return {
            "critic_loss": td_loss.detach(),
            "cql_penalty": penalty.detach(),
            "actor_loss": actor_loss.detach(),
            "entropy": -log_pi.detach().mean(dim=(1, 2)),
            "temperature": temperature.flatten(),
            "q": q.detach().mean(dim=(0, 2, 3)),
            "bound_rate": bound_rate,
        }

    def conservative_penalty(self, q: torch.Tensor, proposal_q: torch.Tensor, policy_log_pi: torch.Tensor,
                             mc_return: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per member (K,): the calibrated penalty, T logsumexp of the importance-weighted
        proposal values minus Q(s, a_data), averaged over the batch and summed over the twin
        critics; and the fraction of policy proposal values below mc_return (``bound_rate``).

        ``q`` (2, K, B, 1) is Q(s, a_data); ``proposal_q`` (2, K, 3n, B, 1) the n uniform
        proposals' values, then pi(s)'s n and pi(s')'s n, whose log pi is ``policy_log_pi``
        (K, 2n, B, 1); ``mc_return`` (K, B, 1)."""
        n = self.config.action_samples
        uniform_q, policy_q = proposal_q.split([n, 2 * n], dim=2)
        lower_bound = mc_return.unsqueeze(1)  # (K, 1, B, 1): over critics and samples
        bound_rate = (policy_q < lower_bound).float().mean(dim=(0, 2, 3, 4)).detach()
        calibrated_q = torch.maximum(policy_q, lower_bound)  # Cal-QL's change to CQL
        soft_max_q = importance_weighted_logsumexp(uniform_q, calibrated_q, policy_log_pi, self.act_dim,
                                                   self.config.cql_temperature)
        return (soft_max_q - q).mean(dim=(2, 3)).sum(dim=0), bound_rate


# ------------------------------------------------------------ ExORL-based Cal-QL (calql)


class CalQL(CQL):
    """Cal-QL's bound on ExORL's CQL (``d4rl.teacher: calql``); see the module's docstring."""

    name = "calql"
    needs_mc_returns = True

    def bound_proposals(self, batch: dict[str, torch.Tensor], proposal_q: torch.Tensor
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """CQL's proposal values (2, K, 3n, B, 1), those of the 2n policy actions raised to
        at least the row's Monte-Carlo return; and the per-member ``bound_rate`` (K,)."""
        n = self.config.action_samples
        uniform, policy = proposal_q.split([n, 2 * n], dim=2)
        lower_bound = batch["mc_return"].unsqueeze(1)  # (K, 1, B, 1): over critics and samples
        below = policy < lower_bound
        metrics = {"bound_rate": below.float().mean(dim=(0, 2, 3, 4))}
        if self.config.bound:
            proposal_q = torch.cat([uniform, torch.maximum(policy, lower_bound)], dim=2)
        return proposal_q, metrics
