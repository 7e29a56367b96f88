"""The offline algorithms by name: build a batch of agents, or rebuild a trained one."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from berl.offline.calql import CalQL, CalQLConfig
from berl.offline.cql import CQL, CQLConfig
from berl.offline.crr import CRR, CRRConfig
from berl.offline.td3 import TD3, TD3Config

ALGORITHMS = {"td3": (TD3, TD3Config), "cql": (CQL, CQLConfig), "crr": (CRR, CRRConfig),
              "calql": (CalQL, CalQLConfig)}


def build_agent(algorithm: str, obs_dim: int, act_dim: int, seeds: list[int], config: dict):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    agent_cls, config_cls = ALGORITHMS[algorithm]
    unknown = sorted(set(config) - {f.name for f in fields(config_cls)})
    if unknown:
        raise ValueError(f"{algorithm} has no setting {', '.join(unknown)}")
    return agent_cls(obs_dim, act_dim, seeds, config_cls(**config))


def load_agent(path: Path, device: torch.device):
    """Rebuild trained agents from ``train``'s output file.

    Returns the agent and the file's description of it (members, steps, data, ...).
    """
    try:
        saved = torch.load(Path(path), map_location=device, weights_only=False)
        agent = build_agent(
            saved["algorithm"], saved["observation_dim"], saved["action_dim"],
            [m["seed"] for m in saved["members"]], saved["config"],
        )
        agent.load_state_dict(saved.pop("agent"))
    except (OSError, RuntimeError, KeyError, EOFError, TypeError) as exc:
        raise ValueError(f"{path}: unreadable agent file ({exc})") from exc
    return agent.to(device).eval(), saved
