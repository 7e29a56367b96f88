"""Exploration agents that generate datasets.

An agent maps the current observation to an action in [-1, 1]^d (``act``) and learns from
each transition it experiences (``observe``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .uniform import UniformRandomAgent

AGENT_NAMES = ("random", "apt")


def make_agent(spec: dict, obs_dim: int, action_dim: int, seed: int, *, sizes: dict | None = None,
               encoder_path: Path | None = None, capacity: int = 0, episode_length: int = 1000,
               device: torch.device = torch.device("cpu")):
    """Build the agent a dataset spec names (``{"agent": "apt", "reward": "be", ...}``)."""
    agent = spec["agent"]
    if agent == "random":
        return UniformRandomAgent(action_dim, seed)
    if agent == "apt":
        from ..encoder import load_encoder
        from ..rewards import ParticleReward
        from .apt import APTAgent, APTConfig

        if encoder_path is None:
            raise ValueError("the APT agent needs a pretrained encoder (encoder_path)")
        reward_fields = {k: spec[k] for k in ("alpha", "beta", "q") if k in spec}
        return APTAgent(
            obs_dim, action_dim, seed, APTConfig(**(sizes or {})),
            ParticleReward(kind=spec["reward"], **reward_fields),
            load_encoder(encoder_path, device), capacity, episode_length, device,
        )
    raise ValueError(f"unknown exploration agent {agent!r}; known: {', '.join(AGENT_NAMES)}")
