"""The shared skeleton of the learning explorers (APT, SMM, RND): DDPG on an intrinsic reward.

The learner is the project's clipped double-Q actor-critic (``offline.td3.TD3``) with one
member, which matches URLB's DDPG backbone: twin critics with a min target, target actions
with clipped Gaussian noise, soft target critics, ExORL/URLB network shapes. An explorer
acts uniformly at random for its first ``seed_frames`` steps, then with Gaussian noise
around its policy, and every ``update_every`` steps takes one n-step minibatch from its
own replay, asks the subclass for that batch's intrinsic reward (training whatever model
the reward comes from on the same batch) and updates the actor-critic on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from berl.core.nets import MemberStreams
from berl.explore.replay import NStepReplay
from berl.offline.td3 import TD3, TD3Config


@dataclass
class ExplorerConfig(TD3Config):
    """URLB's DDPG values are TD3Config's defaults; these are the exploration loop's."""

    nstep: int = 3
    seed_frames: int = 4000  # uniform-random actions before learning starts
    update_every: int = 2
    exploration_std: float = 0.2


class Explorer:
    """Subclasses implement ``intrinsic_reward`` and list their trained parts in ``stateful``."""

    name: str

    def __init__(self, obs_dim: int, action_dim: int, seed: int, config: ExplorerConfig,
                 capacity: int, episode_length: int, device: torch.device, context_dim: int = 0):
        self.config, self.device = config, device
        self.action_dim, self.episode_length = action_dim, episode_length
        self.learner = TD3(obs_dim + context_dim, action_dim, [seed], config).to(device)
        self.replay = NStepReplay(capacity, obs_dim, action_dim, config.nstep, episode_length, device)
        self.rng = np.random.default_rng(seed)
        # The learner draws its noise from a one-member stream; replay sampling and the
        # reward models share its generator.
        self.streams = MemberStreams([seed], device)
        self.generator = self.streams.generators[0]
        # The learner's target is r + discount * d * Q: d = discount^(n-1) makes it n-step.
        self.nstep_discount = config.discount ** (config.nstep - 1)
        self.steps = 0
        self.metrics: dict[str, torch.Tensor] = {}
        # Everything with a state_dict that a checkpoint must carry; subclasses add theirs.
        self.stateful: dict = {
            "learner": self.learner,
            "actor_optimizer": self.learner.optimizers["actor"],
            "critic_optimizer": self.learner.optimizers["critic"],
        }

    # -- what subclasses define ---------------------------------------------------------

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Rewards of shape (B,) for an n-step batch, and metrics of any model trained."""
        raise NotImplementedError

    def policy_input(self, observation: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """What the actor and critics see for transitions ``index`` of the run."""
        return observation

    def episode_started(self, episode: int) -> None:
        """Called before the first step of every episode after the first."""

    # -- the exploration loop -----------------------------------------------------------

    def act(self, observation: np.ndarray) -> np.ndarray:
        if self.steps < self.config.seed_frames:
            return self.rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)
        obs = torch.as_tensor(observation, device=self.device)[None]
        index = torch.full((1,), self.steps, device=self.device)
        mean = self.learner.act(self.policy_input(obs, index)[None])[0, 0].cpu().numpy()
        noise = self.rng.normal(0.0, self.config.exploration_std, self.action_dim)
        return np.clip(mean + noise, -1.0, 1.0).astype(np.float32)

    def observe(self, observation, action, next_observation, episode_end: bool) -> None:
        self.replay.add(observation, action, next_observation)
        self.steps += 1
        if self.steps >= self.config.seed_frames and self.steps % self.config.update_every == 0:
            self.update()
        if episode_end:
            self.episode_started(self.steps // self.episode_length)

    def update(self) -> None:
        batch = self.replay.sample(self.config.batch_size, self.generator)
        reward, metrics = self.intrinsic_reward(batch)
        learner_batch = {
            "observation": self.policy_input(batch["observation"], batch["index"])[None],
            "action": batch["action"][None],
            "reward": reward[None, :, None],
            "discount": torch.full_like(reward, self.nstep_discount)[None, :, None],
            "next_observation": self.policy_input(batch["nstep_observation"], batch["index"])[None],
        }
        metrics |= {k: v[0] for k, v in self.learner.update(learner_batch, self.streams).items()}
        self.metrics = metrics | {"intrinsic_reward": reward.mean()}

    # -- resuming -----------------------------------------------------------------------

    def remember(self, episode: dict[str, np.ndarray]) -> None:
        """Put a stored episode back into the replay (the replay is not checkpointed)."""
        observation = episode["observation"]
        self.replay.extend(observation[:-1], episode["action"][1:], observation[1:])

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            **{name: part.state_dict() for name, part in self.stateful.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"]
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"].cpu())
        for name, part in self.stateful.items():
            part.load_state_dict(state[name])
