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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import storage
from .checkpoint import load_checkpoint, save_checkpoint, save_torch
from .evaluate import rollout_returns
from .log import checked_metrics, get_logger

log = get_logger(__name__)

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


def adam_cloning(params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor, steps: int,
                 lr: float, batch_size: int | None = None,
                 generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """``steps`` Adam steps on the cloning loss, full batch or on random minibatches; the
    given parameters are left as they are."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        if batch_size is None:
            loss = cloning_loss(params, obs, actions)
        else:
            index = torch.randint(len(obs), (batch_size,), generator=generator, device=obs.device)
            loss = cloning_loss(params, obs[index], actions[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return [p.detach() for p in params]


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


# ------------------------------------------------------------------------ evaluation


class PolicyMembers(nn.Module):
    """Policies trained on one set, one ensemble per evaluation seed (actions averaged over
    the ensemble), behind the ``act`` of offline agents so ``rollout_returns`` runs them."""

    def __init__(self, members: list[list[list[torch.Tensor]]], mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.members = members
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # carries the device

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        standardised = (obs - self.mean) / self.std
        return torch.stack([torch.stack([policy(params, x) for params in ensemble]).mean(dim=0)
                            for ensemble, x in zip(self.members, standardised)])


@dataclass(frozen=True)
class Learner:
    """How the evaluated policies are built and trained on a set. The default is the inner
    loop's own learner; the others are the paper's generalisation study."""

    layers: int | None = None  # None: the distilled policy's depth
    optimizer: str = "sgd"  # "sgd" (the inner loop's, lr inner_lr) or "adam" (lr 1e-3)
    ensemble: int = 1  # policies per evaluation seed, actions averaged


GENERALISATION = {
    "mlp2": Learner(layers=2), "mlp3": Learner(layers=3), "mlp5": Learner(layers=5),
    "adam": Learner(optimizer="adam"), "ensemble10": Learner(ensemble=10),
}


def score(obs: torch.Tensor, actions: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
          task: str, config: DistillConfig, seeds: list[int], episodes: int,
          learner: Learner = Learner()) -> np.ndarray:
    """Mean return per seed of policies trained by BC on the pairs (the paper's protocol:
    ``inner_steps`` steps from a fresh initialisation per seed), shape (seeds,)."""
    obs_dim, act_dim = obs.shape[1], actions.shape[1]
    layers = learner.layers or config.layers
    members = []
    for seed in seeds:
        ensemble = []
        for j in range(learner.ensemble):
            generator = torch.Generator(obs.device).manual_seed(seed + 100_000 * j)
            init = init_policy(obs_dim, act_dim, layers, config.width, generator, obs.device)
            if learner.optimizer == "adam":
                ensemble.append(adam_cloning(init, obs, actions, config.inner_steps, lr=1e-3))
            else:
                ensemble.append(train_on_pairs(init, obs, actions, config.inner_steps, config.inner_lr,
                                               differentiable=False))
        members.append(ensemble)
    agent = PolicyMembers(members, mean, std).to(obs.device)
    return rollout_returns(agent, [task] * len(seeds), episodes).mean(axis=1)


def whole_data_bc(obs: torch.Tensor, actions: torch.Tensor, config: DistillConfig, steps: int,
                  seed: int, lr: float = 1e-3) -> list[torch.Tensor]:
    """The distilled policy's architecture trained by BC on every real pair (Adam, minibatches
    of ``config.batch_size``): the upper reference of Table 2."""
    generator = torch.Generator(obs.device).manual_seed(seed)
    init = init_policy(obs.shape[1], actions.shape[1], config.layers, config.width, generator, obs.device)
    return adam_cloning(init, obs, actions, steps, lr, config.batch_size, generator)


def standardised_data(data_path: Path, device: torch.device):
    """A relabelled dataset on ``device`` with its states' mean, std and standardised states."""
    data = storage.load_transitions(Path(data_path)).to_torch(device)
    mean, std = data["observation"].mean(dim=0), data["observation"].std(dim=0).clamp_min(1e-6)
    return data, mean, std, (data["observation"] - mean) / std


def baselines(data_path: Path, agents_path: Path, task: str, config: DistillConfig, bc_steps: int,
              device: torch.device, *, eval_seeds: int, eval_episodes: int) -> dict:
    """Table 2's references for one (dataset, task): BC on the whole dataset (mean return per
    seed) and the teacher's own final evaluation return."""
    from .offline.train import load_agent

    data, mean, std, obs = standardised_data(data_path, device)
    members = [[whole_data_bc(obs, data["action"], config, bc_steps, seed)] for seed in range(eval_seeds)]
    returns = rollout_returns(PolicyMembers(members, mean, std).to(device), [task] * eval_seeds,
                              eval_episodes).mean(axis=1)
    _, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    teacher = saved["evaluation"]["final_return"][member] if saved.get("evaluation") else None
    return {"task": task, "whole_data_bc": returns.tolist(), "teacher": teacher,
            "teacher_algorithm": saved["algorithm"], "teacher_member": saved["members"][member]}


# ------------------------------------------------------------------------------- run


def distill(data_path: Path, agents_path: Path, task: str, config: DistillConfig, outer_steps: int,
            out_path: Path, device: torch.device, *, seed: int = 0, log_every: int = 100,
            checkpoint_every: int = 1000, eval_every: int = 0, eval_seeds: int = 5,
            eval_episodes: int = 10, generalisation: bool = False) -> dict:
    """Distil the dataset relabelled for ``task`` (``data_path``) with the teacher from
    ``agents_path``; write the synthetic set, its learning curve and scores to ``out_path``.

    Scores (mean return per evaluation seed): the initial random real pairs, the set every
    ``eval_every`` outer steps (0: only at the end) and the final set; with
    ``generalisation``, also the final set's scores with the learners of ``GENERALISATION``.
    """
    from .offline.train import load_agent  # training imports this package's evaluation

    out_path = Path(out_path)
    data, mean, std, obs = standardised_data(data_path, device)
    raw_obs, dataset_actions = data["observation"], data["action"]

    teacher, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    teacher_actions, teacher_values = teacher_labels(teacher, member, raw_obs)
    if config.objective == "dbc":
        real = RealData(obs, dataset_actions, None)
    else:
        weights = config.q_scale * teacher_values if config.objective == "av_pbc" else None
        real = RealData(obs, teacher_actions, weights)

    generator = torch.Generator(device).manual_seed(seed)
    start = torch.randperm(len(obs), generator=generator, device=device)[: config.synthetic]
    distiller = Distiller(obs[start], dataset_actions[start], config)
    seeds = list(range(eval_seeds))

    def evaluate(set_obs, set_actions, learner: Learner = Learner()) -> list[float]:
        if not eval_episodes:
            return []
        return score(set_obs.detach(), set_actions.detach(), mean, std, task, config, seeds,
                     eval_episodes, learner).tolist()

    run_id = {"config": asdict(config), "data": str(data_path), "agents": str(agents_path),
              "task": task, "seed": seed, "outer_steps": outer_steps, "eval_every": eval_every,
              "eval_seeds": eval_seeds, "eval_episodes": eval_episodes}
    checkpoint = out_path.with_name(out_path.name + ".ckpt")
    state = load_checkpoint(checkpoint, run_id, device)
    if state is None:
        step, losses, curve = 0, [], []
        random_pairs = evaluate(distiller.obs, distiller.actions)
    else:
        distiller.load_state_dict(state["distiller"])
        distiller.optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        step, losses, curve, random_pairs = state["step"], state["losses"], state["curve"], state["random_pairs"]
        log.info("resuming at outer step %d", step)

    log.info("%s on %s (%d states), teacher %s member %d (%s), %s", config.objective, task,
             len(obs), saved["algorithm"], member, saved["members"][member], asdict(config))
    while step < outer_steps:
        step += 1
        loss = distiller.step(real, generator)
        if step % log_every == 0 or step == outer_steps:
            log.info("outer step %d/%d %s", step, outer_steps, checked_metrics({"loss": loss}, step))
            losses.append({"step": step, "loss": loss.item()})
        if eval_every and step % eval_every == 0 and step < outer_steps:
            curve.append({"step": step, "returns": evaluate(distiller.obs, distiller.actions)})
        if step % checkpoint_every == 0 and step < outer_steps:
            save_checkpoint(checkpoint, run_id, {
                "distiller": distiller.state_dict(), "optimizer": distiller.optimizer.state_dict(),
                "generator": generator.get_state(), "step": step, "losses": losses, "curve": curve,
                "random_pairs": random_pairs,
            })
    final = evaluate(distiller.obs, distiller.actions)
    curve.append({"step": outer_steps, "returns": final})
    others = {name: evaluate(distiller.obs, distiller.actions, learner)
              for name, learner in GENERALISATION.items()} if generalisation else {}
    result = {
        "task": task, "objective": config.objective, "config": asdict(config), "seed": seed,
        "teacher": {"agents": str(agents_path), "algorithm": saved["algorithm"], "member": member,
                    **saved["members"][member]},
        "observation": distiller.obs.detach().cpu(), "action": distiller.actions.detach().cpu(),
        "mean": mean.cpu(), "std": std.cpu(),
        "losses": losses, "curve": curve, "random_pairs": random_pairs, "final": final,
        "generalisation": others,
    }
    save_torch(out_path, result)
    checkpoint.unlink(missing_ok=True)
    return result
