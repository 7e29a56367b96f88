"""Collect an exploration dataset: run an agent in a domain and store every episode.

Collection is resumable. After each stored episode a checkpoint (the agent's networks,
optimisers and random states, and the environment's random state) is written atomically
next to the episodes; a rerun with the same settings keeps the episodes the checkpoint
covers, refills the agent's replay from them and carries on, so an interrupted run ends
with exactly the dataset an uninterrupted one writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from berl.core.checkpoint import load_checkpoint, save_checkpoint
from berl.core.log import checked_metrics, get_logger
from berl.core.settings import setting
from berl.datasets import envs, storage
from berl.explore.agents import make_agent

log = get_logger(__name__)

CHECKPOINT = "collect.ckpt"


@dataclass
class CollectSettings:
    """The ``collect`` block: the size and number of the datasets."""

    transitions: int = setting(doc="transitions per dataset, rounded up to whole 1000-step episodes")
    seeds: int = setting(1, "replicates of every dataset, collected with exploration seeds seed, seed + 1, ... "
                            "(the dataset's `seed` onwards); every later stage runs on each", flag=False)


def run_episode(env: envs.Env, agent) -> dict[str, np.ndarray]:
    """Play one full episode, recording ExORL's rows (row 0 is the reset state)."""
    observation = env.reset()
    observations, actions = [observation], [np.zeros(env.action_dim, np.float32)]
    rewards, physics = [0.0], [env.physics_state()]
    done = False
    while not done:
        action = agent.act(observation)
        next_observation, reward, done = env.step(action)
        agent.observe(observation, action, next_observation, done)
        observations.append(next_observation)
        actions.append(action)
        rewards.append(reward)
        physics.append(env.physics_state())
        observation = next_observation
    return {
        "observation": np.stack(observations).astype(np.float32),
        "action": np.stack(actions).astype(np.float32),
        "reward": np.asarray(rewards, np.float32)[:, None],
        # dm_control's walker and quadruped never terminate early: discount is always 1.
        "discount": np.ones((len(rewards), 1), np.float32),
        "physics": np.stack(physics),
    }


def _resume(episode_dir: Path, checkpoint: Path, run: dict, env: envs.Env, agent,
            device: torch.device) -> int:
    """Restore the last checkpoint of this run; return how many episodes it covers.

    Episodes beyond the checkpoint (or every episode, without one) are deleted: they
    would not match what the restored agent does next.
    """
    state = load_checkpoint(checkpoint, run, device)
    done = 0 if state is None else state["episodes"]
    kept = []
    for path in storage.episode_files(episode_dir):
        if storage.parse_episode_name(path)[0] < done:
            kept.append(path)
        else:
            path.unlink()
    if len(kept) != done:
        log.warning("%s: %d of the checkpoint's %d episodes are missing; starting afresh",
                    episode_dir, len(kept), done)
        for path in kept:
            path.unlink()
        return 0
    if state is not None:
        agent.load_state_dict(state["agent"])
        env.set_random_state(state["environment"])
        for path in kept:
            agent.remember(storage.load_domain_episode(path, run["domain"]))
        log.info("resuming after episode %d", done)
    return done


def collect(
    domain: str, spec: dict, transitions: int, seed: int, dataset_dir: Path, *,
    settings: dict | None = None, encoder_path: Path | None = None,
    device: torch.device = torch.device("cpu"),
) -> Path:
    """Collect ``ceil(transitions / episode length)`` full episodes; return the manifest.

    ``spec`` names the agent and its reward (a dataset entry of the configuration);
    ``settings`` are the explorer's settings (``ExploreSettings`` or any field of the
    agent's config), the agent's defaults for the others.
    """
    if domain not in envs.COLLECTION_TASK:
        raise ValueError(f"unknown domain {domain!r}; known: {', '.join(envs.DOMAINS)}")
    env = envs.Env(envs.COLLECTION_TASK[domain], seed)
    n_episodes = math.ceil(transitions / envs.EPISODE_LENGTH)
    agent = make_agent(
        spec, env.observation_dim, env.action_dim, seed, settings=settings, encoder_path=encoder_path,
        capacity=n_episodes * envs.EPISODE_LENGTH, episode_length=envs.EPISODE_LENGTH,
        device=device,
    )
    # The folder is made only once the inputs (the encoder) have been read.
    dataset_dir = Path(dataset_dir)
    episode_dir = dataset_dir / storage.EPISODE_DIR
    episode_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = dataset_dir / CHECKPOINT
    run = {"domain": domain, "spec": spec, "episodes": n_episodes, "seed": seed,
           "settings": settings or {}, "encoder": str(encoder_path)}
    done = _resume(episode_dir, checkpoint, run, env, agent, device)
    log.info("collecting episodes %d..%d of %s with %s", done + 1, n_episodes, domain, spec)
    start = time.perf_counter()
    for index in range(done, n_episodes):
        episode = run_episode(env, agent)
        storage.save_episode(episode_dir, index, episode)
        save_checkpoint(checkpoint, run, {
            "episodes": index + 1, "agent": agent.state_dict(), "environment": env.random_state(),
        })
        if (index + 1) % max(1, n_episodes // 10) == 0 or index + 1 == n_episodes:
            steps = (index + 1 - done) * envs.EPISODE_LENGTH
            rate = steps / (time.perf_counter() - start)
            learning = checked_metrics(agent.metrics, index + 1)
            log.info("episode %d/%d, %.0f steps/s %s", index + 1, n_episodes, rate, learning)
    manifest = storage.write_manifest(
        dataset_dir, {"domain": domain, **spec, "seed": seed, "collection_task": env.name},
    )
    checkpoint.unlink(missing_ok=True)
    return manifest
