"""Offline behaviour distillation: a few synthetic (state, action) pairs that train a policy.

A synthetic set of N pairs is learnt so that a freshly initialised policy, trained on it by
behaviour cloning for a fixed number of plain SGD steps, does well on the real data. Each
outer step draws a new policy initialisation, unrolls the whole inner training, evaluates
the trained policy on minibatches of real states, and backpropagates through every inner
step into the synthetic states and actions (no truncation). Objectives on real states s:

- ``dbc``: behaviour cloning of the dataset's actions, mean (pi(s) - a)^2;
- ``pbc``: cloning of a teacher's actions a* ~ pi*(s), mean (pi(s) - a*)^2;
- ``av_pbc``: the same, each state weighted by ``q_scale`` x Q1(s, a*) from the teacher's
  first critic, so that states where acting well is worth more count more.

Every cloning loss, inner and outer, is a mean over states and action dimensions. The
policy is OBD's tanh-Gaussian: trained on its reparameterised sampled action, it acts with
tanh(mean). States are standardised by the dataset's mean and standard deviation (plus
1e-3); the synthetic states live in that space, and the policy reads standardised states.
Defaults follow the reference code, LeavesLei/OBD (facts: sections 5 and 7).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal
from pathlib import Path

import numpy as np
import torch
from torch import nn

from berl.core.checkpoint import load_checkpoint, save_checkpoint, save_torch
from berl.core.log import checked_metrics, get_logger
from berl.core.settings import describe, setting
from berl.core.validate import InputError
from berl.datasets import envs, storage
from berl.offline.evaluate import rollout_returns
from berl.offline.registry import load_agent

log = get_logger(__name__)

STD_EPS = 1e-3  # added to the states' standard deviation, as OBD
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # the tanh-Gaussian policy's clamp, as OBD


Objective = Literal["dbc", "pbc", "av_pbc"]


@dataclass
class DistillConfig:
    """OBD's values (facts: sections 5 and 7); the other choices are switches."""

    synthetic: int = setting(256, "synthetic (state, action) pairs N_syn")
    objective: Objective = setting("av_pbc", "distillation objective")
    policy: Literal["tanh_gaussian", "mlp"] = setting(
        "tanh_gaussian", "the distilled policy: OBD's tanh-Gaussian, trained on its sampled actions and acting "
        "with tanh(mean), or a deterministic ReLU MLP ending in tanh")
    layers: int = setting(4, "linear layers of the distilled policy")
    width: int = setting(256, "hidden width of the distilled policy")
    inner_steps: int = setting(100, "BC steps on the synthetic set, unrolled, per outer step")
    inner_lr: float = setting(0.1, "learning rate of the inner loop's plain SGD")
    outer_lr: float = setting(0.1, "learning rate of the outer SGD (with momentum) on the synthetic set")
    momentum: float = setting(0.9, "momentum of the outer SGD")
    clip_norm: float = setting(2.0, "norm the gradient on the synthetic set is clipped to")
    minibatches: int = setting(10, "real minibatches per outer step")
    batch_size: int = setting(256, "states per real minibatch")
    q_scale: float = setting(0.02, "Av-PBC's weight per unit of Q")
    teacher_action: Literal["sample", "mean"] = setting(
        "sample", "PBC and Av-PBC targets: a sample of the teacher's policy (OBD's) or its deterministic action")
    teacher_q: Literal["q1", "min"] = setting(
        "q1", "Av-PBC's Q(s, a*): the teacher's first critic (OBD's) or min(Q1, Q2)")
    clamp_actions: bool = setting(False, "clamp the distilled actions to [-1, 1] after each outer step "
                                         "(OBD leaves them free)")
    eval_seeds: int = setting(10, "fresh policies trained on a set per score")
    eval_episodes: int = setting(10, "episodes per policy")

    def __post_init__(self):
        for name, info in describe(DistillConfig).items():
            if info["choices"] and getattr(self, name) not in info["choices"]:
                known = ", ".join(info["choices"])
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; known: {known}")


@dataclass(kw_only=True)
class DistillSettings(DistillConfig):
    """The ``distill`` block: OBD's hyperparameters (``DistillConfig``; a preset names only
    what its scale changes), the runs' lengths, and which distillations the workflow runs."""

    outer_steps: int = setting(doc="outer steps of a distillation")
    bc_steps: int = setting(doc="Adam steps of the whole-data BC baseline")
    eval_every: int = setting(0, "outer steps between scores (0: only at the end)")
    log_every: int = setting(100, "outer steps between progress lines")
    checkpoint_every: int = setting(1000, "outer steps between checkpoints")
    seed: int = setting(0, "seed of the initial pairs and of every outer step's draws")
    teacher: Literal["td3", "cql", "crr", "calql"] = setting(
        doc="offline algorithm whose best seed per task is the teacher", flag=False)
    sizes: list[int] = setting(doc="further N_syn of the Av-PBC size sweep", flag=False)
    tasks: list[str] | None = setting(None, "tasks to distil for (none: every task of the preset)", flag=False)
    datasets: list[str] | None = setting(None, "datasets to distil (none: every dataset of the preset)", flag=False)
    objectives: list[Objective] = setting(["dbc", "pbc", "av_pbc"], "objectives distilled", flag=False)
    generalisation: list[Objective] = setting(
        [], "objectives whose final sets (at `synthetic` pairs) are also scored with 2/3/5-layer policies, "
            "Adam, and 10-policy ensembles, OBD's generalisation study", flag=False)


# Settings that only one of the two entry points reads: a distillation's run (its length,
# scoring, logging, checkpoints and seed) and objective, and the whole-data BC's length.
RUN_SETTINGS = ("outer_steps", "eval_every", "log_every", "checkpoint_every", "seed")
DISTILL_ONLY = ("objective",) + RUN_SETTINGS
BASELINES_ONLY = ("bc_steps",)


# ---------------------------------------------------------------- the distilled policy


@dataclass(frozen=True)
class Policy:
    """The distilled policy's architecture, applied to a list of parameter tensors so that
    training it can be differentiated. Hidden layers are ReLU, ``layers`` linear layers in all.

    ``tanh_gaussian`` (OBD's): the last layer gives a mean and a log std per action
    dimension; log std = scale * head + offset, with the scalars scale and offset learnt
    (starting at 1 and -1) and the result clamped to [-20, 2]. Given standard normal
    ``noise`` it returns the reparameterised sample tanh(mean + std * noise), otherwise the
    action it acts with, tanh(mean). Weights orthogonal with gain sqrt(2) (the last layer's
    too), biases zero.
    ``mlp``: tanh of the last layer, deterministic (``noise`` unused), PyTorch's default
    initialisation (uniform, bound 1 / sqrt(fan_in)).
    """

    kind: str
    layers: int
    width: int

    @classmethod
    def of(cls, config: DistillConfig, layers: int | None = None) -> Policy:
        """The configured policy, or its architecture at another depth."""
        return cls(config.policy, layers or config.layers, config.width)

    def init(self, obs_dim: int, act_dim: int, generator: torch.Generator, device=None) -> list[torch.Tensor]:
        """Fresh parameters drawn from ``generator``: weight (fan_in, fan_out) and bias per
        layer, then the log-std scale and offset of ``tanh_gaussian``."""
        gaussian = self.kind == "tanh_gaussian"
        sizes = [obs_dim] + [self.width] * (self.layers - 1) + [act_dim * (2 if gaussian else 1)]
        params = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            if gaussian:  # drawn in nn.Linear's (out, in) layout, so orthogonal as nn.init's
                weight = torch.empty(fan_out, fan_in, device=device)
                nn.init.orthogonal_(weight, gain=math.sqrt(2), generator=generator)
                params += [weight.T.contiguous(), torch.zeros(fan_out, device=device)]
            else:
                bound = 1.0 / math.sqrt(fan_in)
                params += [(torch.rand(shape, generator=generator, device=device) * 2 - 1) * bound
                           for shape in ((fan_in, fan_out), (fan_out,))]
        if gaussian:
            params += [torch.ones((), device=device), -torch.ones((), device=device)]
        return params

    def noise(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor | None:
        """The standard normal noise of one sampled action per row (none for ``mlp``)."""
        if self.kind == "mlp":
            return None
        return torch.randn(shape, generator=generator, device=generator.device)

    def __call__(self, params: list[torch.Tensor], obs: torch.Tensor,
                 noise: torch.Tensor | None = None) -> torch.Tensor:
        x = obs
        for i in range(0, 2 * self.layers - 2, 2):
            x = torch.relu(x @ params[i] + params[i + 1])
        out = x @ params[2 * self.layers - 2] + params[2 * self.layers - 1]
        if self.kind == "mlp":
            return torch.tanh(out)
        mean, head = out.chunk(2, dim=-1)
        if noise is None:
            return torch.tanh(mean)
        scale, offset = params[-2:]
        log_std = (scale * head + offset).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return torch.tanh(mean + log_std.exp() * noise)


def cloning_loss(net: Policy, params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                 noise: torch.Tensor | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over states and action dimensions of the squared action error, each state's
    weighted by ``weights`` (OBD's nn.MSELoss, and its weighted form for Av-PBC)."""
    error = (net(params, obs, noise) - actions).pow(2)
    return (error if weights is None else weights[:, None] * error).mean()


def train_on_pairs(net: Policy, params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                   steps: int, lr: float, generator: torch.Generator, *,
                   differentiable: bool) -> list[torch.Tensor]:
    """``steps`` of full-batch SGD on the cloning loss of sampled actions (fresh noise from
    ``generator`` every step). With ``differentiable`` the graph of every step is kept, so
    the result can be differentiated with respect to the pairs."""
    if not differentiable:
        params = [p.detach().requires_grad_(True) for p in params]
    else:
        params = [p.requires_grad_(True) if p.is_leaf else p for p in params]
    for _ in range(steps):
        loss = cloning_loss(net, params, obs, actions, net.noise(actions.shape, generator))
        grads = torch.autograd.grad(loss, params, create_graph=differentiable)
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
        raise InputError(f"the agents file has no member for task {task!r}")
    if record is None:
        return candidates[0]
    return max(candidates, key=lambda i: record["final_return"][i])


@torch.no_grad()
def teacher_labels(agent, member: int, obs: torch.Tensor, noise: torch.Tensor, config: DistillConfig,
                   chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's action a* and its value Q(s, a*) for raw states ``obs`` (N, obs_dim),
    from member ``member`` of a trained offline agent.

    a* is the sample tanh(mu + sigma * noise) of a stochastic actor (CQL's) with the given
    standard normal ``noise`` (N, act_dim), or with ``teacher_action`` "mean" (and for
    TD3's and CRR's deterministic actors) the actor's action. Q is the first critic's with
    ``teacher_q`` "q1", else min(Q1, Q2).
    """
    members = len(agent.seeds)
    sample = getattr(agent.actor, "sample", None) if config.teacher_action == "sample" else None
    actions, values = [], []
    for part, part_noise in zip(obs.split(chunk), noise.split(chunk)):
        stacked = part.unsqueeze(0).expand(members, -1, -1)  # every member sees the states
        action = agent.act(stacked) if sample is None else sample(stacked, part_noise)[0]
        q = agent.critic(stacked, action)  # (2, K, B, 1)
        value = q[0] if config.teacher_q == "q1" else q.amin(dim=0)
        actions.append(action[member])
        values.append(value[member, :, 0])
    return torch.cat(actions), torch.cat(values)


def adam_cloning(net: Policy, params: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                 steps: int, lr: float, generator: torch.Generator,
                 batch_size: int | None = None) -> list[torch.Tensor]:
    """``steps`` Adam steps on the cloning loss of sampled actions, full batch or on random
    minibatches (noise and minibatches from ``generator``); the given parameters are left
    as they are."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        batch_obs, batch_actions = obs, actions
        if batch_size is not None:
            index = torch.randint(len(obs), (batch_size,), generator=generator, device=obs.device)
            batch_obs, batch_actions = obs[index], actions[index]
        loss = cloning_loss(net, params, batch_obs, batch_actions, net.noise(batch_actions.shape, generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return [p.detach() for p in params]


# ---------------------------------------------------------------------- distillation


@dataclass
class RealData:
    """Standardised real states and what one objective regresses on them: fixed targets and
    weights, or a ``teacher`` that labels each minibatch afresh."""

    obs: torch.Tensor  # (N, obs_dim), standardised
    targets: torch.Tensor | None = None  # (N, act_dim) fixed targets (DBC: the dataset's actions)
    weights: torch.Tensor | None = None  # (N,) fixed weights
    # (index, generator) -> the targets and weights (or None) of real states ``index``
    teacher: Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor | None]] | None = None

    def batch(self, index: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.teacher is not None:
            return self.teacher(index, generator)
        return self.targets[index], None if self.weights is None else self.weights[index]


def one_member(agent, member: int):
    """Member ``member`` of a trained offline agent as a one-member agent, in place, for
    labelling states: its actor and its critics Q1 and Q2 keep that member's weights alone
    (the target critic and optimisers, unused here, are left as they were), so that every
    outer step's labels cost one member's forward pass instead of all K."""
    members = len(agent.seeds)
    for module, keep in ((agent.actor, [member]), (agent.critic, [member, members + member])):
        for tensor in module.parameters():
            tensor.data = tensor.data[keep].clone()
    agent.seeds = [agent.seeds[member]]
    return agent


def real_data(config: DistillConfig, obs: torch.Tensor, raw_obs: torch.Tensor, dataset_actions: torch.Tensor,
              teacher, member: int) -> RealData:
    """The objective's targets on the standardised states ``obs``: the dataset's actions
    (DBC) or, as OBD, the teacher's a* for the raw states of each minibatch, sampled afresh
    at every outer step from its generator; Av-PBC's weights are ``q_scale`` x Q(s, a*),
    neither clipped nor normalised (a negative Q gives a negative weight, as OBD)."""
    if config.objective == "dbc":
        return RealData(obs, dataset_actions)

    def label(index: torch.Tensor, generator: torch.Generator):
        noise = torch.randn((len(index), dataset_actions.shape[1]), generator=generator, device=generator.device)
        actions, values = teacher_labels(teacher, member, raw_obs[index], noise, config)
        return actions, config.q_scale * values if config.objective == "av_pbc" else None

    return RealData(obs, teacher=label)


class Distiller(nn.Module):
    """The synthetic set and its outer optimiser."""

    def __init__(self, init_obs: torch.Tensor, init_actions: torch.Tensor, config: DistillConfig):
        super().__init__()
        self.config = config
        self.net = Policy.of(config)
        self.obs = nn.Parameter(init_obs.clone())
        self.actions = nn.Parameter(init_actions.clone())
        self.optimizer = torch.optim.SGD(self.parameters(), lr=config.outer_lr, momentum=config.momentum)

    def outer_loss(self, real: RealData, init: list[torch.Tensor], index: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        """The objective on real states ``index`` of a policy trained from ``init`` on the
        synthetic set, differentiable with respect to the set; the policy's noise, inner and
        outer, comes from ``generator``. As OBD, the trained policy's sampled actions are
        regressed on the targets."""
        cfg = self.config
        targets, weights = real.batch(index, generator)
        trained = train_on_pairs(self.net, init, self.obs, self.actions, cfg.inner_steps, cfg.inner_lr,
                                 generator, differentiable=True)
        return cloning_loss(self.net, trained, real.obs[index], targets,
                            self.net.noise(targets.shape, generator), weights)

    def step(self, real: RealData, generator: torch.Generator) -> torch.Tensor:
        """One outer step: new policy initialisation, new real minibatches."""
        cfg = self.config
        init = self.net.init(self.obs.shape[1], self.actions.shape[1], generator, self.obs.device)
        index = torch.randint(len(real.obs), (cfg.minibatches * cfg.batch_size,),
                              generator=generator, device=real.obs.device)
        loss = self.outer_loss(real, init, index, generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), cfg.clip_norm)
        self.optimizer.step()
        if cfg.clamp_actions:  # the policy's tanh cannot reach beyond [-1, 1]
            with torch.no_grad():
                self.actions.clamp_(-1.0, 1.0)
        return loss.detach()


# ------------------------------------------------------------------------ evaluation


class PolicyMembers(nn.Module):
    """Policies trained on one set, one ensemble per evaluation seed (actions averaged over
    the ensemble), behind the ``act`` of offline agents so ``rollout_returns`` runs them."""

    def __init__(self, net: Policy, members: list[list[list[torch.Tensor]]], mean: torch.Tensor,
                 std: torch.Tensor):
        super().__init__()
        self.net, self.members = net, members
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # carries the device

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        standardised = (obs - self.mean) / self.std
        return torch.stack([torch.stack([self.net(params, x) for params in ensemble]).mean(dim=0)
                            for ensemble, x in zip(self.members, standardised)])


@dataclass(frozen=True)
class Learner:
    """How the evaluated policies are built and trained on a set. The default is the inner
    loop's own learner, as OBD evaluates; the others are the paper's generalisation study."""

    layers: int | None = None  # None: the distilled policy's depth
    optimizer: str = "sgd"  # "sgd" (the inner loop's, lr inner_lr) or "adam" (lr 1e-3)
    ensemble: int = 1  # policies per evaluation seed, actions averaged


GENERALISATION = {
    "mlp2": Learner(layers=2), "mlp3": Learner(layers=3), "mlp5": Learner(layers=5),
    "adam": Learner(optimizer="adam"), "ensemble10": Learner(ensemble=10),
}


def score(obs: torch.Tensor, actions: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
          task: str, config: DistillConfig, learner: Learner = Learner()) -> np.ndarray:
    """Mean return per evaluation seed of policies trained by BC on the pairs, shape
    (eval_seeds,). OBD's protocol: per seed a fresh policy, ``inner_steps`` full-batch SGD
    steps at ``inner_lr`` on its sampled actions, then ``eval_episodes`` episodes acting
    with tanh(mean)."""
    obs_dim, act_dim = obs.shape[1], actions.shape[1]
    net = Policy.of(config, learner.layers)
    members = []
    for seed in range(config.eval_seeds):
        ensemble = []
        for j in range(learner.ensemble):
            generator = torch.Generator(obs.device).manual_seed(seed + 100_000 * j)
            init = net.init(obs_dim, act_dim, generator, obs.device)
            if learner.optimizer == "adam":
                ensemble.append(adam_cloning(net, init, obs, actions, config.inner_steps, 1e-3, generator))
            else:
                ensemble.append(train_on_pairs(net, init, obs, actions, config.inner_steps, config.inner_lr,
                                               generator, differentiable=False))
        members.append(ensemble)
    agent = PolicyMembers(net, members, mean, std).to(obs.device)
    return rollout_returns(agent, [task] * config.eval_seeds, config.eval_episodes).mean(axis=1)


def whole_data_bc(obs: torch.Tensor, actions: torch.Tensor, config: DistillConfig, steps: int,
                  seed: int, lr: float = 1e-3) -> list[torch.Tensor]:
    """The distilled policy's architecture trained by BC on every real pair (Adam, minibatches
    of ``config.batch_size``): the upper reference of Table 2."""
    generator = torch.Generator(obs.device).manual_seed(seed)
    net = Policy.of(config)
    init = net.init(obs.shape[1], actions.shape[1], generator, obs.device)
    return adam_cloning(net, init, obs, actions, steps, lr, generator, config.batch_size)


def standardisation(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OBD's mean and standard deviation of the states: population std plus 1e-3, so that a
    constant feature is divided by 1e-3 rather than by zero."""
    return states.mean(dim=0), states.std(dim=0, correction=0) + STD_EPS


def standardised_data(data_path: Path, task: str, device: torch.device):
    """A relabelled dataset on ``device``, checked against ``task``'s sizes, with its
    states' mean, std and standardised states."""
    data = storage.load_transitions(Path(data_path), envs.sizes_of(task), what=task).to_torch(device)
    mean, std = standardisation(data["observation"])
    return data, mean, std, (data["observation"] - mean) / std


def baselines(data_path: Path, agents_path: Path, task: str, config: DistillConfig, bc_steps: int,
              device: torch.device) -> dict:
    """Table 2's references for one (dataset, task): BC on the whole dataset (mean return per
    evaluation seed) and the teacher algorithm's final evaluation return for the task, one
    per training seed (``teacher``; the distillations label with the best of them,
    ``teacher_member``)."""

    data, mean, std, obs = standardised_data(data_path, task, device)
    net = Policy.of(config)
    members = [[whole_data_bc(obs, data["action"], config, bc_steps, seed)] for seed in range(config.eval_seeds)]
    returns = rollout_returns(PolicyMembers(net, members, mean, std).to(device), [task] * config.eval_seeds,
                              config.eval_episodes).mean(axis=1)
    _, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    record = saved.get("evaluation")
    teacher = [record["final_return"][i] for i, m in enumerate(saved["members"]) if m["task"] == task] if record else []
    return {"task": task, "whole_data_bc": returns.tolist(), "teacher": teacher,
            "teacher_algorithm": saved["algorithm"], "teacher_member": saved["members"][member]}


# ------------------------------------------------------------------------------- run


def distill(data_path: Path, agents_path: Path, task: str, config: DistillConfig, outer_steps: int,
            out_path: Path, device: torch.device, *, seed: int, log_every: int, checkpoint_every: int,
            eval_every: int, generalisation: bool = False) -> dict:
    """Distil the dataset relabelled for ``task`` (``data_path``) with the teacher from
    ``agents_path``; write the synthetic set, its learning curve and scores to ``out_path``.

    Scores (mean return per evaluation seed; none with ``config.eval_episodes`` 0): the
    initial random real pairs, the set every ``eval_every`` outer steps (0: only at the end)
    and the final set; with ``generalisation``, also the final set's scores with the
    learners of ``GENERALISATION``. The random pairs and then every outer step (its
    teacher samples, policy initialisation, minibatches and policy noise) draw from one
    generator seeded with ``seed``, so that every objective starts from the same pairs and
    a resumed run continues the same stream.
    """

    out_path = Path(out_path)
    data, mean, std, obs = standardised_data(data_path, task, device)
    raw_obs, dataset_actions = data["observation"], data["action"]

    generator = torch.Generator(device).manual_seed(seed)
    start = torch.randperm(len(obs), generator=generator, device=device)[: config.synthetic]
    distiller = Distiller(obs[start], dataset_actions[start], config)
    teacher, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    real = real_data(config, obs, raw_obs, dataset_actions, one_member(teacher, member), 0)

    def evaluate(set_obs, set_actions, learner: Learner = Learner()) -> list[float]:
        if not config.eval_episodes:
            return []
        return score(set_obs.detach(), set_actions.detach(), mean, std, task, config, learner).tolist()

    run_id = {"config": asdict(config), "data": str(data_path), "agents": str(agents_path),
              "task": task, "seed": seed, "outer_steps": outer_steps, "eval_every": eval_every}
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
