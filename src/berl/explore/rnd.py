"""RND (random network distillation) as URLB runs it: a DDPG explorer rewarded by novelty.

A predictor network is trained to match a fixed, randomly initialised target network on
observations normalised by their batch statistics (URLB's BatchNorm without affine
parameters, always in training mode: each feature standardised by the minibatch's mean and
biased variance) and clipped to +-``observation_clip``. A sample's reward is its prediction error divided
by the running standard deviation of all prediction errors seen so far, so that the
reward scale stays stable while the predictor improves.
"""

from __future__ import annotations

import torch
from torch import nn

from berl.core.nets import adam, ensemble_relu_mlp, member_generators
from berl.explore.explorer import Explorer
from berl.explore.settings import RNDConfig


class RunningMoments(nn.Module):
    """Running mean and variance of K scalar streams, merged one batch at a time."""

    def __init__(self, members: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(members))
        self.register_buffer("variance", torch.ones(members))
        self.register_buffer("count", torch.tensor(1e-4))  # prior weight of (0, 1)

    @torch.no_grad()
    def update(self, values: torch.Tensor) -> None:
        """Merge a batch (K, B) of every stream."""
        n = values.shape[1]
        delta = values.mean(dim=1) - self.mean
        total = self.count + n
        # Chan et al.'s pairwise merge of (mean, variance, count) summaries; with population
        # variances it is exact, so the moments equal those of the whole stream.
        batch_variance = values.var(dim=1, correction=0)
        self.variance.copy_(
            (self.variance * self.count + batch_variance * n + delta.square() * self.count * n / total)
            / total
        )
        self.mean.add_(delta * n / total)
        self.count.copy_(total)


def batch_standardised(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each feature of each member's batch (K, B, D) standardised by the batch's statistics,
    as a training-mode BatchNorm1d without affine parameters does."""
    variance, mean = torch.var_mean(x, dim=1, correction=0, keepdim=True)
    return (x - mean) / torch.sqrt(variance + eps)


class RNDAgent(Explorer):
    name = "rnd"

    def __init__(self, obs_dim: int, action_dim: int, seeds: list[int], config: RNDConfig,
                 capacity: int, episode_length: int, device: torch.device):
        super().__init__(obs_dim, action_dim, seeds, config, capacity, episode_length, device)
        members, widths = len(self.seeds), (obs_dim, config.hidden_dim, config.hidden_dim, config.rep_dim)
        self.predictor = ensemble_relu_mlp(members, widths, member_generators(self.seeds, salt=5)).to(device)
        self.target = ensemble_relu_mlp(members, widths, member_generators(self.seeds, salt=6)).to(device)
        self.target.requires_grad_(False)
        self.predictor_optimizer = adam(self.predictor.parameters(), lr=config.lr)
        self.error_moments = RunningMoments(members).to(device)
        self.stateful |= {
            "predictor": self.predictor, "target": self.target,
            "predictor_optimizer": self.predictor_optimizer, "error_moments": self.error_moments,
        }

    def prediction_error(self, observation: torch.Tensor) -> torch.Tensor:
        """(K, B, obs) -> (K, B)."""
        clip = self.config.observation_clip
        x = batch_standardised(observation).clamp(-clip, clip)
        return (self.predictor(x) - self.target(x)).pow(2).mean(dim=-1)

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        loss = self.prediction_error(batch["observation"]).mean(dim=1)
        self.predictor_optimizer.zero_grad()
        loss.sum().backward()
        self.predictor_optimizer.step()
        with torch.no_grad():
            error = self.prediction_error(batch["observation"])  # after the step, as URLB
            self.error_moments.update(error)
            reward = error / (self.error_moments.variance.sqrt()[:, None] + 1e-8)
        return reward, {"predictor_loss": loss.detach()}
