"""The uniform-random explorer: the simplest dataset source and the encoder's training data."""

from __future__ import annotations

import numpy as np


class UniformRandomAgent:
    name = "random"
    metrics: dict = {}  # nothing is learnt, so nothing to report

    def __init__(self, action_dim: int, seed: int):
        self.action_dim = action_dim
        self._rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)

    def observe(self, observation, action, next_observation, episode_end: bool) -> None:
        """Random exploration learns nothing."""

    def remember(self, episode: dict[str, np.ndarray]) -> None:
        """Nothing to refill: the agent keeps no memory of past episodes."""

    def state_dict(self) -> dict:
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self._rng.bit_generator.state = state["rng"]
