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
    (``encoder_online`` only concerns APT, ``knn_rms`` its particle reward).
    """
    agent = spec["agent"]
    if agent == "random":
        return UniformRandomAgent(action_dim, seed)
    if agent not in AGENT_NAMES:
        raise ValueError(f"unknown exploration agent {agent!r}; known: {', '.join(AGENT_NAMES)}")

    def config(cls, given: dict | None = None):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (sizes or {}).items() if k in known}, **(given or {}))

    common = dict(capacity=capacity, episode_length=episode_length, device=device)
    if agent == "smm":
        from .smm import SMMAgent, SMMConfig

        return SMMAgent(obs_dim, action_dim, seed, config(SMMConfig), **common)
    if agent == "rnd":
        from .rnd import RNDAgent, RNDConfig

        return RNDAgent(obs_dim, action_dim, seed, config(RNDConfig), **common)

    from ..encoder import EncoderConfig, ICMEncoder, load_encoder
    from ..rewards import ParticleReward
    from .apt import ENCODER_INITS, APTAgent, APTConfig

    apt_config = config(APTConfig)
    if apt_config.encoder_init not in ENCODER_INITS:
        raise ValueError(f"encoder_init: {apt_config.encoder_init!r} is not one of {ENCODER_INITS}")
    if apt_config.encoder_init == "pretrained":
        if encoder_path is None:
            raise ValueError("the APT agent needs a pretrained encoder (encoder_path)")
        encoder = load_encoder(encoder_path, device)
    else:  # URLB's: a fresh encoder, as wide as the explorer, seeded by the explorer's seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = ICMEncoder(obs_dim, action_dim, EncoderConfig(hidden_dim=apt_config.hidden_dim))
        encoder = encoder.to(device)
    reward = config(ParticleReward, {"kind": spec["reward"]} | {
        k: spec[k] for k in ("alpha", "beta", "q") if k in spec})
    return APTAgent(obs_dim, action_dim, seed, apt_config, reward, encoder, **common)
