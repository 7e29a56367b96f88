"""The uniform-random explorer: the simplest dataset source and the encoder's training data."""

from __future__ import annotations

import numpy as np


class UniformRandomAgent:
    """K uniform-random explorers, member m drawing from its own seed."""

    name = "random"
    metrics: dict = {}  # nothing is learnt, so nothing to report

    def __init__(self, action_dim: int, seeds: list[int]):
        self.action_dim = action_dim
        self._rngs = [np.random.default_rng(seed) for seed in seeds]

    def act(self, observations: np.ndarray) -> np.ndarray:
        return np.stack([rng.uniform(-1.0, 1.0, self.action_dim) for rng in self._rngs]).astype(np.float32)

    def observe(self, observations, actions, next_observations, episode_end: bool) -> None:
        """Random exploration learns nothing."""

    def remember(self, episodes: list[dict[str, np.ndarray]]) -> None:
        """Nothing to refill: the agents keep no memory of past episodes."""

    def state_dict(self) -> dict:
        return {"rngs": [rng.bit_generator.state for rng in self._rngs]}

    def load_state_dict(self, state: dict) -> None:
        for rng, rng_state in zip(self._rngs, state["rngs"], strict=True):
            rng.bit_generator.state = rng_state
