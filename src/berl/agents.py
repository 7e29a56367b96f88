"""Exploration agents that generate datasets.

An agent maps the current observation to an action in [-1, 1]^d and may learn from what
it sees through ``observe``. The uniform-random agent is the simplest dataset source and
the reference point every learned explorer is compared with.
"""

from __future__ import annotations

import numpy as np


class UniformRandomAgent:
    name = "random"

    def __init__(self, observation_dim: int, action_dim: int, seed: int):
        self.action_dim = action_dim
        self._rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)

    def observe(self, observation, action, next_observation) -> None:
        """Random exploration learns nothing."""


AGENTS = {UniformRandomAgent.name: UniformRandomAgent}


def make_agent(name: str, observation_dim: int, action_dim: int, seed: int):
    if name not in AGENTS:
        raise ValueError(f"unknown exploration agent {name!r}; known: {', '.join(AGENTS)}")
    return AGENTS[name](observation_dim, action_dim, seed)
