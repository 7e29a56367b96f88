"""Replays of K exploration runs in lockstep, kept on the learner's device, sampled as n-step
transitions.

Member m's transitions are row m of each array, so the K explorers of a batched job append
their steps together and draw their minibatches in one gather. Episodes all last
``episode_length`` steps and never terminate early, so transition i of a run is step
``i % episode_length`` of episode ``i // episode_length``; an n-step sample may start at any
step that leaves n - 1 more steps inside the same episode.
"""

from __future__ import annotations

import numpy as np
import torch

from berl.core.nets import MemberStreams


class NStepReplay:
    def __init__(self, members: int, capacity: int, obs_dim: int, action_dim: int, nstep: int,
                 episode_length: int, device: torch.device):
        if not 1 <= nstep <= episode_length:
            raise ValueError(f"nstep must be in [1, {episode_length}], got {nstep}")
        self.nstep, self.episode_length, self.size = nstep, episode_length, 0
        self.observation = torch.zeros(members, capacity, obs_dim, device=device)
        self.action = torch.zeros(members, capacity, action_dim, device=device)
        self.next_observation = torch.zeros(members, capacity, obs_dim, device=device)
        self.members = torch.arange(members, device=device)[:, None]

    def extend(self, observation: np.ndarray, action: np.ndarray, next_observation: np.ndarray) -> None:
        """Append n transitions of every member: arrays of shape (K, n, ·)."""
        i, n = self.size, observation.shape[1]
        self.observation[:, i:i + n] = torch.from_numpy(observation)
        self.action[:, i:i + n] = torch.from_numpy(action)
        self.next_observation[:, i:i + n] = torch.from_numpy(next_observation)
        self.size += n

    def valid_starts(self) -> int:
        per_episode = self.episode_length - self.nstep + 1
        full, partial = divmod(self.size, self.episode_length)
        return full * per_episode + max(0, partial - self.nstep + 1)

    def sample(self, batch_size: int, streams: MemberStreams) -> dict[str, torch.Tensor]:
        """(s_t, a_t, s_{t+1}), s_{t+n} and t itself for valid starts t drawn uniformly by
        each member from its own stream; every array has shape (K, B, ·)."""
        per_episode = self.episode_length - self.nstep + 1
        u = streams.randint(self.valid_starts(), (batch_size,))
        start = (u // per_episode) * self.episode_length + u % per_episode
        return {
            "index": start,
            "observation": self.observation[self.members, start],
            "action": self.action[self.members, start],
            "next_observation": self.next_observation[self.members, start],
            "nstep_observation": self.next_observation[self.members, start + self.nstep - 1],
        }
