"""Replay of one exploration run, kept on the learner's device, sampled as n-step transitions.

Episodes all last ``episode_length`` steps and never terminate early, so transition i of
the run is step ``i % episode_length`` of episode ``i // episode_length``; an n-step sample
may start at any step that leaves n - 1 more steps inside the same episode.
"""

from __future__ import annotations

import numpy as np
import torch


class NStepReplay:
    def __init__(self, capacity: int, obs_dim: int, action_dim: int, nstep: int,
                 episode_length: int, device: torch.device):
        if not 1 <= nstep <= episode_length:
            raise ValueError(f"nstep must be in [1, {episode_length}], got {nstep}")
        self.nstep, self.episode_length, self.size = nstep, episode_length, 0
        self.observation = torch.zeros(capacity, obs_dim, device=device)
        self.action = torch.zeros(capacity, action_dim, device=device)
        self.next_observation = torch.zeros(capacity, obs_dim, device=device)

    def add(self, observation: np.ndarray, action: np.ndarray, next_observation: np.ndarray) -> None:
        i = self.size
        self.observation[i] = torch.from_numpy(observation)
        self.action[i] = torch.from_numpy(action)
        self.next_observation[i] = torch.from_numpy(next_observation)
        self.size += 1

    def extend(self, observation: np.ndarray, action: np.ndarray, next_observation: np.ndarray) -> None:
        """Append a block of transitions at once (how a resumed run refills its replay)."""
        i, n = self.size, len(observation)
        self.observation[i:i + n] = torch.from_numpy(observation)
        self.action[i:i + n] = torch.from_numpy(action)
        self.next_observation[i:i + n] = torch.from_numpy(next_observation)
        self.size += n

    def valid_starts(self) -> int:
        per_episode = self.episode_length - self.nstep + 1
        full, partial = divmod(self.size, self.episode_length)
        return full * per_episode + max(0, partial - self.nstep + 1)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """(s_t, a_t, s_{t+1}), s_{t+n} and t itself for uniformly drawn valid starts t."""
        per_episode = self.episode_length - self.nstep + 1
        u = torch.randint(self.valid_starts(), (batch_size,), generator=generator,
                          device=self.observation.device)
        start = (u // per_episode) * self.episode_length + u % per_episode
        return {
            "index": start,
            "observation": self.observation[start],
            "action": self.action[start],
            "next_observation": self.next_observation[start],
            "nstep_observation": self.next_observation[start + self.nstep - 1],
        }
