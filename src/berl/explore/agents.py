"""Exploration agents that generate datasets.

An agent maps the current observation to an action in [-1, 1]^d (``act``), learns from
each transition it experiences (``observe``), and can be checkpointed (``state_dict``)
and refilled from stored episodes (``remember``) to resume an interrupted collection.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import jsonschema
import torch

from berl.core.validate import InputError
from berl.explore.apt import APTAgent
from berl.explore.encoder import ICMEncoder, load_encoder
from berl.explore.rewards import ParticleReward
from berl.explore.rnd import RNDAgent
from berl.explore.settings import (
    AGENT_NAMES,
    ENCODER_INITS,
    REWARD_PARAMETERS,
    APTConfig,
    EncoderConfig,
    RNDConfig,
    SMMConfig,
    dataset_schema,
)
from berl.explore.smm import SMMAgent
from berl.explore.uniform import UniformRandomAgent

def check_spec(spec: dict) -> None:
    """A dataset's explorer entry (a dataset entry of the configuration without its name and
    seed) against the entries' schema: a known explorer, and a reward exactly where APT
    needs one. The first problem is bad input, named by its rule's description."""
    schema = dataset_schema()
    # An explorer's entry: no name needed, and no ExORL import (which collects nothing).
    schema["required"] = ["agent"]
    schema["properties"]["agent"] = {"enum": list(AGENT_NAMES)}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(spec))
    unknown = sorted(set(spec) - set(schema["properties"]))
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)} in the dataset {spec}")
    if "agent" not in spec or any(list(error.path) == ["agent"] for error in errors):
        raise InputError(f"unknown exploration agent {spec.get('agent')!r}; known: {', '.join(AGENT_NAMES)}")
    for error in errors:
        rule = error.schema_path[1] if error.schema_path[0] == "allOf" else None
        raise InputError(schema["allOf"][rule]["description"] if rule is not None
                         else f"dataset {spec}: {error.message}")


def make_agent(specs: list[dict], obs_dim: int, action_dim: int, seeds: list[int], *,
               settings: dict | None = None, encoder_path: Path | None = None, capacity: int = 0,
               episode_length: int = 1000, device: torch.device = torch.device("cpu")):
    """Build the agents that the dataset specs name (``{"agent": "apt", "reward": "be", ...}``),
    one explorer per spec and seed, all of one kind, run in lockstep.

    ``settings`` holds the explorers' settings; each agent takes the ones its config defines
    (``encoder_online`` only concerns APT, ``knn_rms`` its particle reward).
    """
    for spec in specs:
        check_spec(spec)
    kinds = {spec["agent"] for spec in specs}
    if len(kinds) != 1 or len(specs) != len(seeds):
        raise InputError(f"one job runs explorers of one kind, one seed each; got {sorted(kinds)} "
                         f"for {len(specs)} datasets and {len(seeds)} seeds")
    agent, = kinds
    if agent == "random":
        return UniformRandomAgent(action_dim, seeds)

    def config(cls, given: dict | None = None):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (settings or {}).items() if k in known}, **(given or {}))

    common = dict(capacity=capacity, episode_length=episode_length, device=device)
    if agent == "smm":
        return SMMAgent(obs_dim, action_dim, seeds, config(SMMConfig), **common)
    if agent == "rnd":
        return RNDAgent(obs_dim, action_dim, seeds, config(RNDConfig), **common)

    apt_config = config(APTConfig)
    if apt_config.encoder_init not in ENCODER_INITS:
        raise InputError(f"encoder_init: {apt_config.encoder_init!r} is not one of {ENCODER_INITS}")
    if apt_config.encoder_init == "pretrained":
        if encoder_path is None:
            raise InputError("the APT agent needs a pretrained encoder (encoder_path)")
        encoder = load_encoder(encoder_path, device, observation_dim=obs_dim, action_dim=action_dim,
                               members=len(seeds))
    else:  # URLB's: a fresh encoder, as wide as the explorer, seeded by the explorer's seed
        encoder = ICMEncoder(obs_dim, action_dim, EncoderConfig(hidden_dim=apt_config.hidden_dim), seeds).to(device)
    rewards = [config(ParticleReward, {"kind": spec["reward"]} | {k: spec[k] for k in REWARD_PARAMETERS if k in spec})
               for spec in specs]
    return APTAgent(obs_dim, action_dim, seeds, apt_config, rewards, encoder, **common)
