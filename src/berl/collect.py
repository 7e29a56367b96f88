"""Collect an exploration dataset: run an agent in a domain and store every episode."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from . import envs, storage
from .agents import make_agent
from .log import checked_metrics, get_logger

log = get_logger(__name__)


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


def collect(
    domain: str, spec: dict, transitions: int, seed: int, dataset_dir: Path, *,
    sizes: dict | None = None, encoder_path: Path | None = None,
    device: torch.device = torch.device("cpu"),
) -> Path:
    """Collect ``ceil(transitions / episode length)`` full episodes; return the manifest.

    ``spec`` names the agent and its reward (a dataset entry of the configuration);
    ``sizes`` are the agent's network and batch sizes.
    """
    if domain not in envs.COLLECTION_TASK:
        raise ValueError(f"unknown domain {domain!r}; known: {', '.join(envs.DOMAINS)}")
    dataset_dir = Path(dataset_dir)
    episode_dir = dataset_dir / storage.EPISODE_DIR
    episode_dir.mkdir(parents=True, exist_ok=True)
    for stale in episode_dir.glob("*.npz"):  # left by an interrupted run
        stale.unlink()

    env = envs.Env(envs.COLLECTION_TASK[domain], seed)
    n_episodes = math.ceil(transitions / envs.EPISODE_LENGTH)
    agent = make_agent(
        spec, env.observation_dim, env.action_dim, seed, sizes=sizes, encoder_path=encoder_path,
        capacity=n_episodes * envs.EPISODE_LENGTH, episode_length=envs.EPISODE_LENGTH,
        device=device,
    )
    log.info("collecting %d episodes of %s with %s", n_episodes, domain, spec)
    start = time.perf_counter()
    steps = 0
    for index in range(n_episodes):
        episode = run_episode(env, agent)
        storage.save_episode(episode_dir, index, episode)
        steps += len(episode["action"]) - 1
        if (index + 1) % max(1, n_episodes // 10) == 0 or index + 1 == n_episodes:
            rate = steps / (time.perf_counter() - start)
            learning = checked_metrics(agent.metrics, steps)
            log.info("episode %d/%d, %d steps, %.0f steps/s %s", index + 1, n_episodes, steps, rate, learning)
    return storage.write_manifest(
        dataset_dir,
        {"domain": domain, **spec, "seed": seed, "collection_task": env.name},
    )
