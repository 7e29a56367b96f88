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

Scoring follows OBD's protocol. A run scores its set every ``eval_every`` outer steps and
at its end (the evaluated checkpoints); the set's score is the mean over its last 10
checkpoints (5 for Av-PBC), and a distillation job pools ``seeds`` runs. Random selection
is scored on 10 draws of random real pairs. OBD's generalisation study trains other
architectures on the sets of the last 4 checkpoints and averages them.
Defaults follow the reference code, LeavesLei/OBD (facts: sections 5, 7 and 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Literal
from pathlib import Path

import numpy as np
import torch
from torch import nn

from berl.core.checkpoint import load_checkpoint, save_checkpoint, save_torch
from berl.core.io import remove_with_temporaries
from berl.core.log import checked_metrics, get_logger
from berl.core.nets import adam
from berl.core.validate import InputError
from berl.datasets import envs, storage
from berl.distill.settings import Architecture, BaselineSettings, DistillConfig, DistillRun, Objective
from berl.offline.evaluate import rollout_returns
from berl.offline.registry import load_agent

log = get_logger(__name__)

STD_EPS = 1e-3  # added to the states' standard deviation, as OBD
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # the tanh-Gaussian policy's clamp, as OBD


RESIDUAL_LAYERS = 6  # res_mlp has as many linear layers as mlp6, so the two differ only by the skips
ENSEMBLE_SIZE = 10  # the study's ensembles: 10 policies of the inner loop's learner, actions averaged
ENSEMBLE = f"ensemble{ENSEMBLE_SIZE}"


# ---------------------------------------------------------------- the distilled policy


@dataclass(frozen=True)
class Policy:
    """The distilled policy's architecture, applied to a list of parameter tensors so that
    training it can be differentiated. Hidden layers are ReLU, ``layers`` linear layers in all.

    ``residual``: the layers between the first and the last form blocks of two, each adding
    its Linear-ReLU-Linear output to its input, h <- h + W2 relu(W1 h + b1) + b2 (the first
    layer's ReLU output enters the first block, the last block's sum the head). Same
    parameters as the plain MLP of that depth; ``layers`` must be even, 4 or more.

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
    residual: bool = False

    def __post_init__(self):
        if self.residual and (self.layers < 4 or self.layers % 2):
            raise ValueError(f"a residual policy has an input layer, blocks of two layers and a head: "
                             f"an even number of layers from 4, not {self.layers}")

    @classmethod
    def of(cls, config: DistillConfig) -> Policy:
        """The configured policy."""
        return cls(config.policy, config.layers, config.width)

    @classmethod
    def named(cls, config: DistillConfig, name: Architecture) -> Policy:
        """An architecture of the generalisation study, of the distilled policy's kind and
        width: ``mlp<k>`` has k linear layers; ``res_mlp`` six, its middle four in two
        residual blocks (input layer, two blocks, head)."""
        if name == "res_mlp":
            return cls(config.policy, RESIDUAL_LAYERS, config.width, residual=True)
        return cls(config.policy, int(name.removeprefix("mlp")), config.width)

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
        x = torch.relu(obs @ params[0] + params[1])
        if self.residual:
            for i in range(2, 2 * self.layers - 2, 4):
                x = x + torch.relu(x @ params[i] + params[i + 1]) @ params[i + 2] + params[i + 3]
        else:
            for i in range(2, 2 * self.layers - 2, 2):
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
    optimizer = adam(params, lr=lr)
    for _ in range(steps):
        batch_obs, batch_actions = obs, actions
        if batch_size is not None:
            index = torch.randint(len(obs), (batch_size,), generator=generator, device=obs.device)
            batch_obs, batch_actions = obs[index], actions[index]
        loss = cloning_loss(net, params, batch_obs, batch_actions, net.noise(batch_actions.shape, generator))
        optimizer.zero_grad()
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
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), cfg.clip_norm)
        self.optimizer.step()
        if cfg.clamp_actions:  # the policy's tanh cannot reach beyond [-1, 1]
            with torch.no_grad():
                self.actions.clamp_(-1.0, 1.0)
        return loss.detach()


# ------------------------------------------------------------------------ evaluation


class PolicyMembers(nn.Module):
    """Policies trained on sets, one ensemble per member (actions averaged over the
    ensemble), behind the ``act`` of offline agents so ``rollout_returns`` runs them."""

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
    """How the policies that score a set are built and trained on it. OBD scores a set with
    the inner loop's own learner (``inner``); its generalisation study swaps the
    architecture and the optimiser (``generalisation_learners``)."""

    net: Policy
    optimizer: Literal["sgd", "adam"]  # plain full-batch SGD, as the inner loop, or Adam
    steps: int
    lr: float
    ensemble: int = 1  # policies per evaluation seed, their actions averaged

    @classmethod
    def inner(cls, config: DistillConfig, ensemble: int = 1) -> Learner:
        return cls(Policy.of(config), "sgd", config.inner_steps, config.inner_lr, ensemble)

    def train(self, init: list[torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
              generator: torch.Generator) -> list[torch.Tensor]:
        if self.optimizer == "adam":
            return adam_cloning(self.net, init, obs, actions, self.steps, self.lr, generator)
        return train_on_pairs(self.net, init, obs, actions, self.steps, self.lr, generator, differentiable=False)


def generalisation_learners(config: DistillConfig) -> dict[str, Learner]:
    """OBD's generalisation study: each of ``generalisation_architectures`` trained for
    ``generalisation_steps`` full-batch Adam steps (the paper's optimiser; OBD's code runs
    SGD, its Adam option being inert), and ensembles of 10 policies of the inner loop's
    learner (OBD's ensemble evaluation)."""
    learners = {name: Learner(Policy.named(config, name), "adam", config.generalisation_steps,
                              config.generalisation_lr)
                for name in config.generalisation_architectures}
    return learners | {ENSEMBLE: Learner.inner(config, ensemble=ENSEMBLE_SIZE)}


def score_sets(sets: list[tuple[torch.Tensor, torch.Tensor]], mean: torch.Tensor, std: torch.Tensor, task: str,
               config: DistillConfig, learner: Learner) -> np.ndarray:
    """Mean return per (set, evaluation seed), shape (len(sets), eval_seeds), of policies
    that ``learner`` trains on each set of (standardised state, action) pairs. OBD's
    protocol: per evaluation seed a fresh policy (or ensemble), trained on its sampled
    actions, then ``eval_episodes`` episodes acting with tanh(mean). Every set uses the same
    evaluation seeds, and all the policies act in one lockstep batch of environments."""
    members = []
    for obs, actions in sets:
        for seed in range(config.eval_seeds):
            ensemble = []
            for j in range(learner.ensemble):
                generator = torch.Generator(obs.device).manual_seed(seed + 100_000 * j)
                init = learner.net.init(obs.shape[1], actions.shape[1], generator, obs.device)
                ensemble.append(learner.train(init, obs, actions, generator))
            members.append(ensemble)
    agent = PolicyMembers(learner.net, members, mean, std).to(mean.device)
    returns = rollout_returns(agent, [task] * len(members), config.eval_episodes).mean(axis=1)
    return returns.reshape(len(sets), config.eval_seeds)


def evaluation_steps(outer_steps: int, eval_every: int) -> list[int]:
    """The outer steps whose sets a run scores, its evaluated checkpoints: every
    ``eval_every`` (0: none) and the last. (OBD evaluates at 0, e, ..., n - e, before the
    step; here after it, so the final set is always among them.)"""
    return [*(range(eval_every, outer_steps, eval_every) if eval_every else []), outer_steps]


def smoothed(curve: list[dict], last: int) -> list[float]:
    """Per entry of the curve's returns (distillation seed x evaluation seed), the mean over
    its last ``last`` evaluated checkpoints (all of them where fewer): OBD's smoothing."""
    return np.mean([point["returns"] for point in curve[-last:]], axis=0).tolist()


def scored_checkpoints(config: DistillConfig, objective: Objective) -> int:
    """How many of a set's last evaluated checkpoints its score averages."""
    if config.scoring == "final":
        return 1
    return config.av_pbc_score_checkpoints if objective == "av_pbc" else config.score_checkpoints


def set_score(result: dict) -> list[float]:
    """A distillation's score per (distillation seed, evaluation seed), from its result
    file: OBD's mean over the last 10 evaluated checkpoints (Av-PBC 5), or the final set's
    with ``scoring: final``, as its configuration says."""
    config = DistillConfig(**result["config"])
    return smoothed(result["curve"], scored_checkpoints(config, result["objective"]))


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


def obd_config(settings: DistillConfig) -> DistillConfig:
    """OBD's hyperparameters alone, from a stage's settings that extend them (what a
    checkpoint's identity and a result's ``config`` record)."""
    return DistillConfig(**{item.name: getattr(settings, item.name) for item in fields(DistillConfig)})


def standardised_data(data_path: Path, task: str, device: torch.device):
    """A relabelled dataset on ``device``, checked against ``task``'s sizes, with its
    states' mean, std and standardised states."""
    data = storage.load_transitions(Path(data_path), envs.sizes_of(task), what=task).to_torch(device)
    mean, std = standardisation(data["observation"])
    return data, mean, std, (data["observation"] - mean) / std


def baselines(data_path: Path, agents_path: Path, task: str, settings: BaselineSettings,
              device: torch.device) -> dict:
    """Table 2's references for one (dataset, task): BC on the whole dataset (mean return per
    evaluation seed) and the teacher algorithm's final evaluation return for the task, one
    per training seed (``teacher``; the distillations label with the best of them,
    ``teacher_member``)."""

    config = obd_config(settings)
    data, mean, std, obs = standardised_data(data_path, task, device)
    net = Policy.of(config)
    members = [[whole_data_bc(obs, data["action"], config, settings.bc_steps, seed)]
               for seed in range(config.eval_seeds)]
    returns = rollout_returns(PolicyMembers(net, members, mean, std).to(device), [task] * config.eval_seeds,
                              config.eval_episodes).mean(axis=1)
    _, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    record = saved.get("evaluation")
    teacher = [record["final_return"][i] for i, m in enumerate(saved["members"]) if m["task"] == task] if record else []
    return {"task": task, "whole_data_bc": returns.tolist(), "teacher": teacher,
            "teacher_algorithm": saved["algorithm"], "teacher_member": saved["members"][member]}


# ------------------------------------------------------------------------------- run


def random_draw(size: int, synthetic: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``synthetic`` distinct real pairs of ``size``, the first draw of
    ``generator``: the pairs a run starts from, and a draw of random selection."""
    return torch.randperm(size, generator=generator, device=generator.device)[:synthetic]


def distill(data_path: Path, agents_path: Path, task: str, settings: DistillRun, out_path: Path,
            device: torch.device, *, generalisation: bool = False) -> dict:
    """Distil the dataset relabelled for ``task`` (``data_path``) with the teacher from
    ``agents_path``, ``settings.seeds`` times (distillation seeds ``settings.seed``,
    ``seed + 1``, ...); write the sets, their learning curves and scores to ``out_path``.

    Scores are mean returns per evaluation seed (none with ``config.eval_episodes`` 0),
    pooled over the runs: each list holds run after run one value per evaluation seed.
    ``curve``: each run's set at its evaluated checkpoints (``evaluation_steps``), whose
    last ones make its score (``set_score``); ``random_pairs``: random selection,
    ``random_draws`` draws of N_syn real pairs, draw d being the pairs that distillation
    seed ``seed + d`` starts from (one value per draw and evaluation seed); with
    ``generalisation``, the learners of ``generalisation_learners`` on each run's sets of
    its last ``generalisation_checkpoints`` checkpoints, averaged over those sets. A run's
    initial pairs, then every outer step (its teacher samples, policy initialisation,
    minibatches and policy noise) draw from one generator seeded with its distillation seed,
    so that every objective starts from the same pairs and a resumed run continues the
    same stream.
    """

    config = obd_config(settings)
    outer_steps, seed, seeds = settings.outer_steps, settings.seed, settings.seeds
    out_path = Path(out_path)
    data, mean, std, obs = standardised_data(data_path, task, device)
    raw_obs, dataset_actions = data["observation"], data["action"]
    teacher, saved = load_agent(Path(agents_path), device)
    member = best_member(saved, task)
    real = real_data(config, obs, raw_obs, dataset_actions, one_member(teacher, member), 0)
    inner = Learner.inner(config)
    learners = generalisation_learners(config) if generalisation else {}
    checkpoints = evaluation_steps(outer_steps, settings.eval_every)
    evaluated = set(checkpoints)
    kept = set(checkpoints[-config.generalisation_checkpoints:]) if generalisation else set()

    def scores(sets: list[tuple[torch.Tensor, torch.Tensor]], learner: Learner = inner) -> np.ndarray:
        if not config.eval_episodes:
            return np.zeros((len(sets), 0))
        return score_sets(sets, mean, std, task, config, learner)

    run_id = {"config": asdict(config), "data": str(data_path), "agents": str(agents_path),
              "task": task, "seed": seed, "seeds": seeds, "outer_steps": outer_steps,
              "eval_every": settings.eval_every,
              "generalisation": generalisation}
    checkpoint = out_path.with_name(out_path.name + ".ckpt")
    state = load_checkpoint(checkpoint, run_id, device)
    if state is None:
        draws = [random_draw(len(obs), config.synthetic, torch.Generator(device).manual_seed(seed + d))
                 for d in range(config.random_draws)]
        random_pairs = scores([(obs[index], dataset_actions[index]) for index in draws]).flatten().tolist()
        state = {"random_pairs": random_pairs, "runs": [], "current": None}
    log.info("%s on %s (%d states), teacher %s member %d (%s), %s", config.objective, task,
             len(obs), saved["algorithm"], member, saved["members"][member], asdict(config))

    runs = state["runs"]  # the finished runs
    for run_seed in range(seed + len(runs), seed + seeds):
        generator = torch.Generator(device).manual_seed(run_seed)
        start = random_draw(len(obs), config.synthetic, generator)
        distiller = Distiller(obs[start], dataset_actions[start], config)
        current = state["current"]
        if current is None:
            step, losses, curve, snapshots = 0, [], [], []
        else:
            distiller.load_state_dict(current["distiller"])
            distiller.optimizer.load_state_dict(current["optimizer"])
            generator.set_state(current["generator"])
            step, losses, curve, snapshots = (current[key] for key in ("step", "losses", "curve", "snapshots"))
            log.info("resuming at outer step %d (distillation seed %d)", step, run_seed)
        while step < outer_steps:
            step += 1
            loss = distiller.step(real, generator)
            if step % settings.log_every == 0 or step == outer_steps:
                log.info("seed %d outer step %d/%d %s", run_seed, step, outer_steps,
                         checked_metrics({"loss": loss}, step))
                losses.append({"seed": run_seed, "step": step, "loss": loss.item()})
            if step in evaluated:
                pairs = (distiller.obs.detach().clone(), distiller.actions.detach().clone())
                curve.append({"step": step, "returns": scores([pairs])[0].tolist()})
                if step in kept:
                    snapshots.append(pairs)
            if step % settings.checkpoint_every == 0 and step < outer_steps:
                state["current"] = {
                    "distiller": distiller.state_dict(), "optimizer": distiller.optimizer.state_dict(),
                    "generator": generator.get_state(), "step": step, "losses": losses, "curve": curve,
                    "snapshots": snapshots,
                }
                save_checkpoint(checkpoint, run_id, state)
        runs.append({"seed": run_seed, "observation": distiller.obs.detach().cpu(),
                     "action": distiller.actions.detach().cpu(), "losses": losses, "curve": curve,
                     "generalisation": {name: scores(snapshots, learner).mean(axis=0).tolist()
                                        for name, learner in learners.items()}})
        state["current"] = None
        if len(runs) < seeds:  # a resumed job skips the runs it finished
            save_checkpoint(checkpoint, run_id, state)

    def pooled(lists):
        return [value for values in lists for value in values]

    curve = [{"step": point["step"], "returns": pooled(run["curve"][i]["returns"] for run in runs)}
             for i, point in enumerate(runs[0]["curve"])]
    result = {
        "task": task, "objective": config.objective, "config": asdict(config), "seeds": [run["seed"] for run in runs],
        "teacher": {"agents": str(agents_path), "algorithm": saved["algorithm"], "member": member,
                    **saved["members"][member]},
        # (seeds, N_syn, dim): one set per run
        "observation": torch.stack([run["observation"].cpu() for run in runs]),
        "action": torch.stack([run["action"].cpu() for run in runs]),
        "mean": mean.cpu(), "std": std.cpu(),
        "losses": pooled(run["losses"] for run in runs), "curve": curve, "random_pairs": state["random_pairs"],
        "final": curve[-1]["returns"],
        "generalisation": {name: pooled(run["generalisation"][name] for run in runs) for name in learners},
    }
    save_torch(out_path, result)
    remove_with_temporaries(checkpoint)
    return result
