"""Exploration agents that generate datasets.

An agent maps the current observation to an action in [-1, 1]^d (``act``), learns from
each transition it experiences (``observe``), and can be checkpointed (``state_dict``)
and refilled from stored episodes (``remember``) to resume an interrupted collection.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from .uniform import UniformRandomAgent

AGENT_NAMES = ("random", "apt", "smm", "rnd")


def make_agent(spec: dict, obs_dim: int, action_dim: int, seed: int, *, sizes: dict | None = None,
               encoder_path: Path | None = None, capacity: int = 0, episode_length: int = 1000,
               device: torch.device = torch.device("cpu")):
    """Build the agent a dataset spec names (``{"agent": "apt", "reward": "be", ...}``).

    ``sizes`` holds the explorers' settings; each agent takes the ones its config defines
    (``encoder_online`` only concerns APT).
    """
    agent = spec["agent"]
    if agent == "random":
        return UniformRandomAgent(action_dim, seed)
    if agent not in AGENT_NAMES:
        raise ValueError(f"unknown exploration agent {agent!r}; known: {', '.join(AGENT_NAMES)}")

    def config(cls):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (sizes or {}).items() if k in known})

    common = dict(capacity=capacity, episode_length=episode_length, device=device)
    if agent == "smm":
        from .smm import SMMAgent, SMMConfig

        return SMMAgent(obs_dim, action_dim, seed, config(SMMConfig), **common)
    if agent == "rnd":
        from .rnd import RNDAgent, RNDConfig

        return RNDAgent(obs_dim, action_dim, seed, config(RNDConfig), **common)

    from ..encoder import load_encoder
    from ..rewards import ParticleReward
    from .apt import APTAgent, APTConfig

    if encoder_path is None:
        raise ValueError("the APT agent needs a pretrained encoder (encoder_path)")
    reward_fields = {k: spec[k] for k in ("alpha", "beta", "q") if k in spec}
    return APTAgent(
        obs_dim, action_dim, seed, config(APTConfig),
        ParticleReward(kind=spec["reward"], **reward_fields),
        load_encoder(encoder_path, device), **common,
    )
