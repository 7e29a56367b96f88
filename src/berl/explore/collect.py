"""Collect exploration datasets: run agents in a domain and store every episode.

One job collects a group of datasets whose explorers are of one kind (APT with any of its
rewards, SMM, RND or uniform random): K explorers, each in its own environment, step in
lockstep and learn as one batched ensemble (``berl.explore.explorer``). Each member writes
exactly the dataset it would write in a job of its own.

Collection is resumable. After each stored episode a checkpoint (the agents' networks,
optimisers and random states, and the environments' random states) is written atomically
into the first member's folder; a rerun with the same settings keeps the episodes the
checkpoint covers, refills the agents' replay from them and carries on, so an interrupted
run ends with exactly the datasets an uninterrupted one writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from berl.core.checkpoint import load_checkpoint, save_checkpoint
from berl.core.io import remove_with_temporaries
from berl.core.log import checked_metrics, get_logger
from berl.core.validate import InputError
from berl.datasets import envs, storage
from berl.explore.agents import make_agent

log = get_logger(__name__)

CHECKPOINT = "collect.ckpt"


@dataclass
class Member:
    """One dataset of a collection job: its configuration entry, exploration seed and folder."""

    spec: dict
    seed: int
    folder: Path

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)


def run_episodes(environments: list[envs.Env], agent) -> list[dict[str, np.ndarray]]:
    """Play one full episode in every environment in lockstep, recording ExORL's rows (row 0
    is the reset state); one episode per environment."""
    members, action_dim = len(environments), environments[0].action_dim
    observation = np.stack([env.reset() for env in environments])
    observations, actions = [observation], [np.zeros((members, action_dim), np.float32)]
    rewards, physics = [np.zeros(members)], [np.stack([env.physics_state() for env in environments])]
    done = False
    while not done:
        action = agent.act(observation)
        steps = [env.step(a) for env, a in zip(environments, action)]
        next_observation = np.stack([step[0] for step in steps])
        done = steps[0][2]  # every episode lasts the same number of steps
        agent.observe(observation, action, next_observation, done)
        observations.append(next_observation)
        actions.append(action)
        rewards.append(np.array([step[1] for step in steps]))
        physics.append(np.stack([env.physics_state() for env in environments]))
        observation = next_observation
    columns = {
        "observation": np.stack(observations, axis=1).astype(np.float32),
        "action": np.stack(actions, axis=1).astype(np.float32),
        "reward": np.stack(rewards, axis=1).astype(np.float32)[..., None],
        "physics": np.stack(physics, axis=1),
    }
    # dm_control's walker and quadruped never terminate early: discount is always 1.
    columns["discount"] = np.ones_like(columns["reward"])
    return [{key: value[member] for key, value in columns.items()} for member in range(members)]


def _resume(members: list[Member], checkpoint: Path, run: dict, environments: list[envs.Env], agent,
            device: torch.device) -> int:
    """Restore the last checkpoint of this run; return how many episodes it covers.

    Episodes beyond the checkpoint (or every episode, without one) are deleted: they
    would not match what the restored agents do next. So are checkpoints in the other
    members' folders: they are of other runs.
    """
    state = load_checkpoint(checkpoint, run, device)
    done = 0 if state is None else state["episodes"]
    kept: list[list[Path]] = []
    for member in members:
        if member.folder != checkpoint.parent:
            remove_with_temporaries(member.folder / CHECKPOINT)
        kept.append([])
        for leftover in (member.folder / storage.EPISODE_DIR).glob(".*"):
            leftover.unlink()  # a killed write's temporary (berl.core.io.atomic_path)
        for path in storage.episode_files(member.folder / storage.EPISODE_DIR):
            if storage.parse_episode_name(path)[0] < done:
                kept[-1].append(path)
            else:
                path.unlink()
    if any(len(paths) != done for paths in kept):
        log.warning("%s: %d of the checkpoint's %d episodes are missing; starting afresh", checkpoint.parent,
                    sum(map(len, kept)), done * len(members))
        for path in (path for paths in kept for path in paths):
            path.unlink()
        return 0
    if state is not None:
        agent.load_state_dict(state["agent"])
        for env, random_state in zip(environments, state["environments"], strict=True):
            env.set_random_state(random_state)
        for paths in zip(*kept):  # episode by episode, every member's at once
            agent.remember([storage.load_domain_episode(path, run["domain"]) for path in paths])
        log.info("resuming after episode %d", done)
    return done


def collect_group(
    domain: str, members: list[Member], transitions: int, *, settings: dict | None = None,
    encoder_path: Path | None = None, device: torch.device = torch.device("cpu"),
) -> list[Path]:
    """Collect ``ceil(transitions / episode length)`` full episodes for every member; return
    the members' manifests.

    A member's ``spec`` names its agent and reward (a dataset entry of the configuration);
    ``settings`` are the explorers' settings (``ExploreSettings`` or any field of the
    agent's config), the agent's defaults for the others.
    """
    if domain not in envs.COLLECTION_TASK:
        raise InputError(f"unknown domain {domain!r}; known: {', '.join(envs.DOMAINS)}")
    if not members:
        raise InputError("a collection job needs at least one dataset")
    environments = [envs.Env(envs.COLLECTION_TASK[domain], member.seed) for member in members]
    env = environments[0]
    n_episodes = math.ceil(transitions / envs.EPISODE_LENGTH)
    agent = make_agent(
        [member.spec for member in members], env.observation_dim, env.action_dim,
        [member.seed for member in members], settings=settings, encoder_path=encoder_path,
        capacity=n_episodes * envs.EPISODE_LENGTH, episode_length=envs.EPISODE_LENGTH, device=device,
    )
    # The folders are made only once the inputs (the encoder) have been read.
    for member in members:
        (member.folder / storage.EPISODE_DIR).mkdir(parents=True, exist_ok=True)
    checkpoint = members[0].folder / CHECKPOINT
    run = {"domain": domain, "episodes": n_episodes, "settings": settings or {}, "encoder": str(encoder_path),
           "members": [{"spec": m.spec, "seed": m.seed, "folder": str(m.folder)} for m in members]}
    done = _resume(members, checkpoint, run, environments, agent, device)
    log.info("collecting episodes %d..%d of %s with %d explorers: %s", done + 1, n_episodes, domain,
             len(members), [member.spec for member in members])
    start = time.perf_counter()
    for index in range(done, n_episodes):
        for member, episode in zip(members, run_episodes(environments, agent)):
            storage.save_episode(member.folder / storage.EPISODE_DIR, index, episode)
        save_checkpoint(checkpoint, run, {
            "episodes": index + 1, "agent": agent.state_dict(),
            "environments": [env.random_state() for env in environments],
        })
        if (index + 1) % max(1, n_episodes // 10) == 0 or index + 1 == n_episodes:
            steps = (index + 1 - done) * envs.EPISODE_LENGTH
            rate = steps / (time.perf_counter() - start)
            learning = checked_metrics(agent.metrics, index + 1)
            log.info("episode %d/%d, %.0f steps/s per explorer %s", index + 1, n_episodes, rate, learning)
    manifests = [storage.write_manifest(member.folder, {
        "domain": domain, **member.spec, "seed": member.seed, "collection_task": env.name,
    }) for member in members]
    remove_with_temporaries(checkpoint)
    return manifests


def collect(domain: str, spec: dict, transitions: int, seed: int, dataset_dir: Path, **options) -> Path:
    """Collect one dataset (a group of one member); return its manifest."""
    return collect_group(domain, [Member(spec, seed, dataset_dir)], transitions, **options)[0]
