"""Replays of K exploration runs in lockstep, kept on the learner's device, sampled as n-step
transitions.

Member m's transitions are row m of each array, so the K explorers of a batched job append
their steps together and draw their minibatches in one gather. Episodes all last
``episode_length`` steps and never terminate early, so transition i of a run is step
``i % episode_length`` of episode ``i // episode_length``; an n-step sample may start at any
step that leaves n - 1 more steps inside the same episode.

As URLB's replay, a sample comes from finished episodes only (``running_episode=True`` also
draws from the steps of the episode being played). URLB's loader runs ``num_workers`` = 4
processes; worker w holds the episodes whose index is w mod 4, and the loader takes its
batches from the workers in turn, so batch t comes from worker t mod 4 and draws from a
quarter of the episodes. ``partitions`` models those workers (1: every batch draws from
all episodes). A URLB worker re-reads the stored episodes every 1000 samples, and its
loader prefetches two batches per worker; here a partition sees every episode finished
before the batch is drawn. The lag this leaves out is a few of a worker's batches (tens of
environment steps against 1000-step episodes), and none at the first update: URLB starts
its loader there, after its 4000 seed frames, so every worker then reads its episode.
"""

from __future__ import annotations

import numpy as np
import torch

from berl.core.nets import MemberStreams


class NStepReplay:
    def __init__(self, members: int, capacity: int, obs_dim: int, action_dim: int, nstep: int,
                 episode_length: int, device: torch.device, *, running_episode: bool = False,
                 partitions: int = 1):
        if not 1 <= nstep <= episode_length:
            raise ValueError(f"nstep must be in [1, {episode_length}], got {nstep}")
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, got {partitions}")
        self.nstep, self.episode_length, self.size = nstep, episode_length, 0
        self.per_episode = episode_length - nstep + 1  # n-step windows inside one episode
        self.running_episode, self.partitions = running_episode, partitions
        self.batches_drawn = 0  # decides the partition of the next batch
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

    def valid_starts(self, partition: int = 0) -> int:
        """How many n-step windows partition ``partition`` draws from: every window of its
        finished episodes, and those of the running episode where that one is sampled and
        falls in this partition."""
        finished, running_steps = divmod(self.size, self.episode_length)
        starts = len(range(partition, finished, self.partitions)) * self.per_episode
        if self.running_episode and finished % self.partitions == partition:
            starts += max(0, running_steps - self.nstep + 1)
        return starts

    def sample(self, batch_size: int, streams: MemberStreams) -> dict[str, torch.Tensor] | None:
        """(s_t, a_t, s_{t+1}), s_{t+n} and t itself for valid starts t drawn uniformly by
        each member from its own stream; every array has shape (K, B, ·). The batch comes
        from partition ``batches_drawn mod partitions``; None when that partition holds no
        window yet (then no batch is drawn, but the next call asks the next partition)."""
        partition = self.batches_drawn % self.partitions
        self.batches_drawn += 1
        starts = self.valid_starts(partition)
        if starts == 0:
            return None
        # Window u is window u mod per_episode of the partition's episode u // per_episode;
        # the running episode, where sampled, comes after the partition's finished ones.
        u = streams.randint(starts, (batch_size,))
        episode = partition + self.partitions * (u // self.per_episode)
        start = episode * self.episode_length + u % self.per_episode
        return {
            "index": start,
            "observation": self.observation[self.members, start],
            "action": self.action[self.members, start],
            "next_observation": self.next_observation[self.members, start],
            "nstep_observation": self.next_observation[self.members, start + self.nstep - 1],
        }

    # Only the draw count is checkpointed: a resumed run refills the contents from its episodes.
    def state_dict(self) -> dict:
        return {"batches_drawn": self.batches_drawn}

    def load_state_dict(self, state: dict) -> None:
        self.batches_drawn = state["batches_drawn"]
