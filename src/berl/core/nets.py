"""Ensembles of independent MLPs evaluated as one batched matrix product per layer.

Member ``m`` of every layer only ever sees slice ``m`` of the input, so K members trained
with a summed loss receive exactly the gradients they would get if trained alone, and one
optimiser step updates all of them. Inputs have shape (members, batch, features).

A member's arithmetic can also be made bit for bit the same whatever K is: torch hands a
batched product of one matrix pair to a different kernel (a matrix-vector one for a single
row or column) than a batch of several, whose rounding differs. Under ``member_equality()``
a one-member layer is evaluated as a batch of two views of the same member, so that a job of
one explorer writes exactly the dataset the same explorer writes inside a batched job. That
doubles a one-member job's arithmetic, so by default a one-member layer runs as a batch of
one: the same function, rounded differently (the environment variable
``BERL_MEMBER_EQUALITY=1`` switches equality on for a whole run). Member equality also
keeps the optimisers off the fused Adam kernel (``adam``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


_MEMBER_EQUALITY = os.environ.get("BERL_MEMBER_EQUALITY", "0") == "1"


@contextmanager
def member_equality(enabled: bool = True) -> Iterator[None]:
    """Within the block, a one-member layer computes exactly what the same member computes
    inside a batch of several (module docstring)."""
    global _MEMBER_EQUALITY
    previous, _MEMBER_EQUALITY = _MEMBER_EQUALITY, enabled
    try:
        yield
    finally:
        _MEMBER_EQUALITY = previous


class EnsembleLinear(nn.Module):
    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(members, 1, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _MEMBER_EQUALITY and self.weight.shape[0] == 1:  # the batched kernel (module docstring)
            pair = (2, -1, -1)
            return torch.baddbmm(self.bias.expand(pair), x.expand(pair), self.weight.expand(pair))[:1]
        return torch.baddbmm(self.bias, x, self.weight)

    @torch.no_grad()
    def orthogonal_(self, generators: list[torch.Generator]) -> None:
        """Orthogonal weights and zero biases, member m drawn from ``generators[m]``."""
        members, in_features, out_features = self.weight.shape
        for member, generator in zip(range(members), generators, strict=True):
            weight = torch.empty(out_features, in_features)
            nn.init.orthogonal_(weight, generator=generator)
            self.weight[member] = weight.T.to(self.weight.device)
        self.bias.zero_()


class EnsembleLayerNorm(nn.Module):
    def __init__(self, members: int, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, 1, features))
        self.bias = nn.Parameter(torch.zeros(members, 1, features))
        # torch's layer norm takes one affine for all rows, not one per member, so the members'
        # own is applied after it; it is handed a unit affine because its CPU kernel without
        # one takes a slower path (1.7x on a critic's 2 x 1408 x 128 activations), while
        # x * 1 + 0 changes no bit.
        self.register_buffer("unit_weight", torch.ones(features), persistent=False)
        self.register_buffer("unit_bias", torch.zeros(features), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalised = F.layer_norm(x, x.shape[-1:], self.unit_weight, self.unit_bias)
        return torch.addcmul(self.bias, normalised, self.weight)  # one pass, not two


def ensemble_mlp(
    members: int, in_features: int, hidden: int, out_features: int, generators: list[torch.Generator]
) -> nn.Sequential:
    """ExORL's network shape: Linear-LayerNorm-Tanh, Linear-ReLU, Linear."""
    return orthogonal_(nn.Sequential(
        EnsembleLinear(members, in_features, hidden),
        EnsembleLayerNorm(members, hidden),
        nn.Tanh(),
        EnsembleLinear(members, hidden, hidden),
        nn.ReLU(),
        EnsembleLinear(members, hidden, out_features),
    ), generators)


def ensemble_relu_mlp(members: int, sizes: tuple[int, ...], generators: list[torch.Generator]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (URLB's auxiliary nets)."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(sizes[:-1], sizes[1:]):
        layers += [EnsembleLinear(members, width_in, width_out), nn.ReLU()]
    return orthogonal_(nn.Sequential(*layers[:-1]), generators)


def orthogonal_(module: nn.Module, generators: list[torch.Generator]) -> nn.Module:
    """Orthogonal weights and zero biases for every ensemble layer of ``module``, in order,
    member m's from ``generators[m]``."""
    for layer in module.modules():
        if isinstance(layer, EnsembleLinear):
            layer.orthogonal_(generators)
    return module


def member_generators(seeds: list[int], salt: int) -> list[torch.Generator]:
    """One CPU generator per member, so member m's draws depend on its seed alone."""
    return [torch.Generator().manual_seed(seed * 1_000_003 + salt) for seed in seeds]


class FusedAdam:
    """Adam over a fixed list of tensors: torch's fused Adam kernel, one call per step, with
    one step counter for all of them.

    ``torch.optim.Adam(fused=True)`` runs the same kernel on the same values, so the two
    agree bit for bit (tests/test_offline.py), but it keeps a counter per tensor and increments
    each as a separate small operation, and walks its parameter groups in Python on every
    step: for a network of 128 units that bookkeeping costs more than the update. Every
    tensor here is updated on every step (each must have a gradient), as in our agents.
    """

    def __init__(self, parameters, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps = lr, betas, eps
        # made at the first step (or load), on the device the parameters are on by then
        self.exp_avg: list[torch.Tensor] = []
        self.exp_avg_sq: list[torch.Tensor] = []
        self.steps: torch.Tensor | None = None  # float32, as the kernel reads it

    def _make_state(self) -> None:
        self.exp_avg = [torch.zeros_like(p) for p in self.parameters]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.parameters]
        self.steps = torch.zeros((), device=self.parameters[0].device)

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.steps is None:
            self._make_state()
        grads = [p.grad for p in self.parameters]
        if any(grad is None for grad in grads):
            raise RuntimeError("FusedAdam: every parameter must have a gradient at each step")
        self.steps += 1
        torch._fused_adam_(
            self.parameters, grads, self.exp_avg, self.exp_avg_sq, [], [self.steps] * len(grads),
            amsgrad=False, lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
            weight_decay=0.0, eps=self.eps, maximize=False,
        )

    def state_dict(self) -> dict:
        if self.steps is None:
            self._make_state()
        return {"steps": self.steps.clone(), "exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq]}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        self._make_state()
        self.steps.copy_(state["steps"])
        for mine, saved in zip(self.exp_avg + self.exp_avg_sq, state["exp_avg"] + state["exp_avg_sq"], strict=True):
            mine.copy_(saved)


Optimizer = FusedAdam | torch.optim.Adam  # what ``adam`` makes


def adam(parameters, lr: float) -> Optimizer:
    """Adam with one fused kernel call per step (``FusedAdam``) instead of a Python loop of
    small ops per tensor, which dominates a small network's step on a CPU. The update rule
    is Adam's; only the rounding differs, and the fused kernel's rounding of an element
    depends on where it falls in its tensor, so under ``member_equality`` (when the optimiser
    is made) torch's per-tensor loop keeps members bit for bit alike."""
    if _MEMBER_EQUALITY:
        return torch.optim.Adam(parameters, lr=lr, foreach=False)
    return FusedAdam(parameters, lr=lr)


@torch.no_grad()
def soft_update_(target: nn.Module, source: nn.Module, tau: float) -> None:
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


class MemberStreams:
    """One random stream per ensemble member, so that each member's minibatch indices and
    noise depend on its own seed alone, never on which other members share its job.

    Draws return a leading member axis: ``randint(n, (B,))`` has shape (K, B).
    """

    def __init__(self, seeds: list[int], device: torch.device):
        self.generators = [torch.Generator(device).manual_seed(seed) for seed in seeds]
        self.device = device

    def randint(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.stack([
            torch.randint(high, shape, generator=g, device=self.device) for g in self.generators
        ])

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.stack([
            torch.randn(shape, generator=g, device=self.device) for g in self.generators
        ])

    def uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        return torch.stack([
            torch.empty(shape, device=self.device).uniform_(low, high, generator=g)
            for g in self.generators
        ])

    def state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def load_state(self, states: list[torch.Tensor]) -> None:
        for generator, state in zip(self.generators, states, strict=True):
            generator.set_state(state.cpu())
