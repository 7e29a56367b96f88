"""Exploration agents that generate datasets.

An agent maps the current observation to an action in [-1, 1]^d (``act``), learns from
each transition it experiences (``observe``), and can be checkpointed (``state_dict``)
and refilled from stored episodes (``remember``) to resume an interrupted collection.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import torch

from berl.core.settings import setting
from berl.core.validate import InputError
from berl.explore.apt import ENCODER_INITS, APTAgent, APTConfig
from berl.explore.encoder import EncoderConfig, ICMEncoder, load_encoder
from berl.explore.explorer import ExplorerConfig
from berl.explore.rewards import ParticleReward
from berl.explore.rnd import RNDAgent, RNDConfig
from berl.explore.smm import SMMAgent, SMMConfig
from berl.explore.uniform import UniformRandomAgent

AGENT_NAMES = ("random", "apt", "smm", "rnd")
REWARD_PARAMETERS = ("alpha", "beta", "q")  # of APT's particle reward
REWARD_KEYS = ("reward", *REWARD_PARAMETERS)


@dataclass
class ExploreSettings:
    """The ``explore`` block: the learning explorers (APT, SMM, RND and their DDPG backbone).
    Defaults are the agents' own (URLB's values)."""

    hidden_dim: int = setting(ExplorerConfig.hidden_dim, "hidden width of the actor and critics")
    batch_size: int = setting(ExplorerConfig.batch_size, "replay minibatch (and APT's particle set)")
    seed_frames: int = setting(ExplorerConfig.seed_frames, "uniform-random steps before learning")
    encoder_online: bool = setting(APTConfig.encoder_online, "APT keeps training its encoder while exploring")
    encoder_init: Literal["pretrained", "scratch"] = setting(
        APTConfig.encoder_init, "APT's encoder starts from the domain's pretrained one, or fresh as in URLB")
    encoder_nstep_successor: bool = setting(
        APTConfig.encoder_nstep_successor,
        "APT's online encoder update pairs (s, a) with the n-step successor, as URLB's replay")
    knn_rms: bool = setting(ParticleReward.knn_rms,
                            "divide APT's k-NN distances by their running mean, as URLB's knn_rms")
    critic: Literal["shared_trunk", "separate"] = setting(
        ExplorerConfig.critic, "the explorers' critic: URLB's Q1 and Q2 heads on one shared trunk, or two "
                               "separate nets as the offline learners' (ExORL's)")
    replay_running_episode: bool = setting(
        ExplorerConfig.replay_running_episode,
        "minibatches also draw from the running episode (URLB's replay holds finished episodes only)")
    replay_partitions: int = setting(
        ExplorerConfig.replay_partitions,
        "minibatch t draws from the episodes whose index is t mod this, as URLB's replay loader's 4 workers; "
        "1: from all episodes")


def check_spec(spec: dict) -> None:
    """A dataset's agent entry names a known agent, and a reward exactly where APT needs one."""
    unknown = sorted(set(spec) - {"agent", *REWARD_KEYS})
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)} in the dataset {spec}")
    agent, reward = spec.get("agent"), {k: spec[k] for k in REWARD_KEYS if k in spec}
    if agent not in AGENT_NAMES:
        raise InputError(f"unknown exploration agent {agent!r}; known: {', '.join(AGENT_NAMES)}")
    if agent == "apt" and "reward" not in reward:
        raise InputError("an apt dataset needs a reward")
    if agent != "apt" and reward:
        raise InputError(f"{', '.join(reward)} only apply to apt datasets")


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
