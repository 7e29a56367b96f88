"""Offline behaviour distillation: a few synthetic (state, action) pairs that train a policy.

A synthetic set of N pairs is learnt so that a freshly initialised policy, trained on it by
behaviour cloning for a fixed number of plain SGD steps, does well on the real data. Each
outer step draws a new policy initialisation, unrolls the whole inner training, evaluates
the trained policy on minibatches of real states, and backpropagates through every inner
step into the synthetic states and actions (no truncation). Objectives on real states s:

- ``dbc``: behaviour cloning of the dataset's actions, mean |pi(s) - a|^2;
- ``pbc``: cloning of a teacher's actions a* = pi*(s), mean |pi(s) - a*|^2;
- ``av_pbc``: the same, each state weighted by ``q_scale`` x Q(s, a*) from the teacher's
  critic, so that states where acting well is worth more count more.

States are standardised by the dataset's mean and standard deviation; the synthetic
states live in that space, and the policy reads standardised states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

OBJECTIVES = ("dbc", "pbc", "av_pbc")


@dataclass
class DistillConfig:
    """The paper's values (facts: section 5)."""

    synthetic: int = 256  # N_syn pairs
    objective: str = "av_pbc"
    layers: int = 4  # linear layers of the distilled policy
    width: int = 256
    inner_steps: int = 100  # BC steps on the synthetic set, unrolled
    inner_lr: float = 0.1  # plain SGD
    outer_lr: float = 0.1  # SGD with momentum on the synthetic set
    momentum: float = 0.9
    clip_norm: float = 2.0  # of the gradient on the synthetic set
    minibatches: int = 10  # of real states per outer step
    batch_size: int = 256
    q_scale: float = 0.02  # Av-PBC's weight per unit of Q


# ---------------------------------------------------------------- the distilled policy


def init_policy(obs_dim: int, act_dim: int, layers: int, width: int,
                generator: torch.Generator, device=None) -> list[torch.Tensor]:
    """Weights and biases of a fresh ReLU MLP ending in tanh, PyTorch's default uniform
    initialisation (bound 1 / sqrt(fan_in)) drawn from ``generator``."""
    sizes = [obs_dim] + [width] * (layers - 1) + [act_dim]
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((fan_in, fan_out), (fan_out,)):
            uniform = torch.rand(shape, generator=generator, device=device)
            params.append((uniform * 2 - 1) * bound)
    return params


def policy(params: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
    x = obs
    for i in range(0, len(params) - 2, 2):
        x = torch.relu(x @ params[i] + params[i + 1])
    return torch.tanh(x @ params[-2] + params[-1])


def cloning_loss(params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over states of the (weighted) squared action error summed over dimensions."""
    error = (policy(params, obs) - actions).pow(2).sum(dim=-1)
    return (error if weights is None else weights * error).mean()


def train_on_pairs(params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                   steps: int, lr: float, *, differentiable: bool) -> list[torch.Tensor]:
    """``steps`` of full-batch SGD on the cloning loss. With ``differentiable`` the graph of
    every step is kept, so the result can be differentiated with respect to the pairs."""
    if not differentiable:
        params = [p.detach().requires_grad_(True) for p in params]
    else:
        params = [p.requires_grad_(True) if p.is_leaf else p for p in params]
    for _ in range(steps):
        grads = torch.autograd.grad(cloning_loss(params, obs, actions), params,
                                    create_graph=differentiable)
        params = [p - lr * g for p, g in zip(params, grads)]
        if not differentiable:
            params = [p.detach().requires_grad_(True) for p in params]
    return [p if differentiable else p.detach() for p in params]


# --------------------------------------------------------------------------- teacher


def best_member(saved: dict, task: str) -> int:
    """Index of the member of ``task`` with the best final evaluation return."""
    record = saved.get("evaluation")
    candidates = [i for i, m in enumerate(saved["members"]) if m["task"] == task]
    if not candidates:
        raise ValueError(f"the agents file has no member for task {task!r}")
    if record is None:
        return candidates[0]
    return max(candidates, key=lambda i: record["final_return"][i])


@torch.no_grad()
def teacher_labels(agent, member: int, obs: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's action a* = pi*(s) and its value min(Q1, Q2)(s, a*) for raw states
    ``obs`` (N, obs_dim), from member ``member`` of a trained offline agent."""
    members = len(agent.seeds)
    actions, values = [], []
    for part in obs.split(chunk):
        stacked = part.unsqueeze(0).expand(members, -1, -1)  # every member sees the states
        action = agent.act(stacked)
        value = agent.critic(stacked, action).amin(dim=0)
        actions.append(action[member])
        values.append(value[member, :, 0])
    return torch.cat(actions), torch.cat(values)


# ---------------------------------------------------------------------- distillation


@dataclass
class RealData:
    """Standardised real states with the targets and weights of one objective."""

    obs: torch.Tensor  # (N, obs_dim), standardised
    targets: torch.Tensor  # (N, act_dim): dataset actions (DBC) or the teacher's (PBC, Av-PBC)
    weights: torch.Tensor | None  # (N,) Av-PBC's q_scale * Q(s, a*), else None


class Distiller(nn.Module):
    """The synthetic set and its outer optimiser."""

    def __init__(self, init_obs: torch.Tensor, init_actions: torch.Tensor, config: DistillConfig):
        super().__init__()
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {config.objective!r}; known: {', '.join(OBJECTIVES)}")
        self.config = config
        self.obs = nn.Parameter(init_obs.clone())
        self.actions = nn.Parameter(init_actions.clone())
        self.optimizer = torch.optim.SGD(self.parameters(), lr=config.outer_lr, momentum=config.momentum)

    def outer_loss(self, real: RealData, init: list[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """The objective on real states ``index`` of a policy trained from ``init`` on the
        synthetic set, differentiable with respect to the set."""
        cfg = self.config
        trained = train_on_pairs(init, self.obs, self.actions, cfg.inner_steps, cfg.inner_lr,
                                 differentiable=True)
        weights = None if real.weights is None else real.weights[index]
        return cloning_loss(trained, real.obs[index], real.targets[index], weights)

    def step(self, real: RealData, generator: torch.Generator) -> torch.Tensor:
        """One outer step: new policy initialisation, new real minibatches."""
        cfg = self.config
        obs_dim, act_dim = self.obs.shape[1], self.actions.shape[1]
        init = init_policy(obs_dim, act_dim, cfg.layers, cfg.width, generator, self.obs.device)
        index = torch.randint(len(real.obs), (cfg.minibatches * cfg.batch_size,),
                              generator=generator, device=real.obs.device)
        loss = self.outer_loss(real, init, index)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), cfg.clip_norm)
        self.optimizer.step()
        with torch.no_grad():
            self.actions.clamp_(-1.0, 1.0)  # the policy's tanh cannot reach beyond
        return loss.detach()
