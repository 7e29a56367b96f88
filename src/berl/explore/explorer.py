"""The shared skeleton of the learning explorers (APT, SMM, RND): DDPG on an intrinsic reward.

The learner is the project's clipped double-Q actor-critic (``offline.td3.TD3``), which
matches URLB's DDPG backbone: twin critics with a min target, target actions with clipped
Gaussian noise, soft target critics, ExORL/URLB network shapes. Its critic is URLB's, whose
Q1 and Q2 heads share one trunk (``critic: separate`` gives the offline learners' two
separate nets). An explorer acts uniformly at random for its first ``seed_frames`` steps,
then with Gaussian noise around its policy, and every ``update_every`` steps takes one
n-step minibatch from its own replay, asks the subclass for that batch's intrinsic reward
(training whatever model the reward comes from on the same batch) and updates the
actor-critic on it. As in URLB, minibatches come from finished episodes only, each from one
of ``replay_partitions`` interleaved shares of them (URLB's replay loader workers).

One explorer object runs K independent explorers in lockstep, one per seed, as the offline
learners do: every network is an ensemble with one member per explorer, the replay and the
random streams have a member axis, and member m's draws come from its own seed alone, so it
explores exactly as it would in a job of its own.
"""

from __future__ import annotations


import numpy as np
import torch

from berl.core.nets import MemberStreams
from berl.explore.replay import NStepReplay
from berl.offline.common import SharedTrunkTwinCritic, TwinCritic
from berl.explore.settings import ExplorerConfig
from berl.offline.td3 import TD3

CRITICS = {"shared_trunk": SharedTrunkTwinCritic, "separate": TwinCritic}


class Explorer:
    """Subclasses implement ``intrinsic_reward`` and list their trained parts in ``stateful``."""

    name: str

    def __init__(self, obs_dim: int, action_dim: int, seeds: list[int], config: ExplorerConfig,
                 capacity: int, episode_length: int, device: torch.device, context_dim: int = 0):
        self.config, self.device, self.seeds = config, device, list(seeds)
        self.action_dim, self.episode_length = action_dim, episode_length
        self.learner = TD3(obs_dim + context_dim, action_dim, self.seeds, config,
                           critic_class=CRITICS[config.critic]).to(device)
        self.replay = NStepReplay(len(self.seeds), capacity, obs_dim, action_dim, config.nstep,
                                  episode_length, device, running_episode=config.replay_running_episode,
                                  partitions=config.replay_partitions)
        # Acting draws from one numpy generator per member; the learner's noise, replay
        # sampling and the reward models from one torch stream per member.
        self.rngs = [np.random.default_rng(seed) for seed in self.seeds]
        self.streams = MemberStreams(self.seeds, device)
        # The learner's target is r + discount * d * Q: d = discount^(n-1) makes it n-step.
        self.nstep_discount = config.discount ** (config.nstep - 1)
        self.steps = 0
        self.metrics: dict[str, torch.Tensor] = {}
        # Everything with a state_dict that a checkpoint must carry; subclasses add theirs.
        self.stateful: dict = {
            "learner": self.learner,
            "actor_optimizer": self.learner.optimizers["actor"],
            "critic_optimizer": self.learner.optimizers["critic"],
            "replay": self.replay,  # its draw count, which decides the partition of the next batch
        }

    # -- what subclasses define ---------------------------------------------------------

    def intrinsic_reward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """Rewards of shape (K, B) for an n-step batch, and per-member metrics of any model trained."""
        raise NotImplementedError

    def policy_input(self, observation: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """What the actor and critics see for transitions ``index`` (K, B) of the runs."""
        return observation

    def episode_started(self, episode: int) -> None:
        """Called before the first step of every episode after the first."""

    # -- the exploration loop -----------------------------------------------------------

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Actions (K, action) for the members' current observations (K, obs)."""
        if self.steps < self.config.seed_frames:
            return np.stack([rng.uniform(-1.0, 1.0, self.action_dim) for rng in self.rngs]).astype(np.float32)
        obs = torch.as_tensor(observations, device=self.device)[:, None]
        index = torch.full(obs.shape[:2], self.steps, device=self.device)
        mean = self.learner.act(self.policy_input(obs, index))[:, 0].cpu().numpy()
        noise = np.stack([rng.normal(0.0, self.config.exploration_std, self.action_dim) for rng in self.rngs])
        return np.clip(mean + noise, -1.0, 1.0).astype(np.float32)

    def observe(self, observations, actions, next_observations, episode_end: bool) -> None:
        self.replay.extend(observations[:, None], actions[:, None], next_observations[:, None])
        self.steps += 1
        if self.steps >= self.config.seed_frames and self.steps % self.config.update_every == 0:
            self.update()
        if episode_end:
            self.episode_started(self.steps // self.episode_length)

    def update(self) -> None:
        batch = self.replay.sample(self.config.batch_size, self.streams)
        if batch is None:
            # The partition whose turn it is holds no finished episode yet: possible while
            # fewer than replay_partitions episodes are finished, so only where seed_frames
            # is shorter than that many episodes (URLB's 4000 seed frames give each of its
            # 4 workers an episode before the first update). Nothing to learn from: skip.
            return
        reward, metrics = self.intrinsic_reward(batch)
        learner_batch = {
            "observation": self.policy_input(batch["observation"], batch["index"]),
            "action": batch["action"],
            "reward": reward[..., None],
            "discount": torch.full_like(reward, self.nstep_discount)[..., None],
            "next_observation": self.policy_input(batch["nstep_observation"], batch["index"]),
        }
        metrics |= self.learner.update(learner_batch, self.streams)
        self.metrics = metrics | {"intrinsic_reward": reward.mean(dim=1)}

    # -- resuming -----------------------------------------------------------------------

    def remember(self, episodes: list[dict[str, np.ndarray]]) -> None:
        """Put one stored episode of every member back into the replay (its contents are
        not checkpointed, only its draw count)."""
        observation = np.stack([episode["observation"] for episode in episodes])
        action = np.stack([episode["action"] for episode in episodes])
        self.replay.extend(observation[:, :-1], action[:, 1:], observation[:, 1:])

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "rngs": [rng.bit_generator.state for rng in self.rngs],
            "streams": self.streams.state(),
            **{name: part.state_dict() for name, part in self.stateful.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"]
        for rng, rng_state in zip(self.rngs, state["rngs"], strict=True):
            rng.bit_generator.state = rng_state
        self.streams.load_state(state["streams"])
        for name, part in self.stateful.items():
            part.load_state_dict(state[name])
