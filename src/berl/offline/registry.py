"""The offline algorithms by name: build a batch of agents, or rebuild a trained one."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from berl.core.checkpoint import check_finite, load_torch
from berl.core.validate import InputError, one_line
from berl.datasets.envs import known_sizes
from berl.offline.calql import CalQL, CORLCalQL
from berl.offline.cql import CQL
from berl.offline.crr import CRR
from berl.offline.settings import ALGORITHM_CONFIGS
from berl.offline.td3 import TD3

AGENTS = dict(zip(ALGORITHM_CONFIGS, (TD3, CQL, CRR, CalQL, CORLCalQL), strict=True))
# Each algorithm's agent class and settings, by name.
ALGORITHMS = {name: (AGENTS[name], config) for name, config in ALGORITHM_CONFIGS.items()}


def build_agent(algorithm: str, obs_dim: int, act_dim: int, seeds: list[int], config: dict):
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    agent_cls, config_cls = ALGORITHMS[algorithm]
    unknown = sorted(set(config) - {f.name for f in fields(config_cls)})
    if unknown:
        raise InputError(f"{algorithm} has no setting {', '.join(unknown)}")
    return agent_cls(obs_dim, act_dim, seeds, config_cls(**config))


def load_agent(path: Path, device: torch.device):
    """Rebuild trained agents from ``train``'s output file.

    Returns the agent and the file's description of it (members, steps, data, ...).
    """
    saved = load_torch(path, device, ("algorithm", "observation_dim", "action_dim", "members", "config", "agent"),
                       "agents")
    sizes = (saved["observation_dim"], saved["action_dim"])
    for member in saved["members"]:
        if known_sizes(member["task"]) not in (None, sizes):
            raise InputError(f"{path}: agents of (observation, action) sizes {sizes}, "
                               f"{member['task']} has {known_sizes(member['task'])}")
    weights = saved.pop("agent")
    check_finite(path, weights)
    try:
        agent = build_agent(saved["algorithm"], *sizes, [m["seed"] for m in saved["members"]], saved["config"])
        agent.load_state_dict(weights)
    except (RuntimeError, TypeError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: agent weights do not match their settings ({one_line(exc)})") from exc
    return agent.to(device).eval(), saved
