"""Relabel a collected dataset with one task's reward, from the stored physics states."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from berl.core.log import get_logger
from berl.core.validate import InputError
from berl.datasets import envs, storage

log = get_logger(__name__)


def task_rewards(env: envs.Env, physics: np.ndarray) -> np.ndarray:
    """Reward of every stored state after the first (row 0 is the reset state)."""
    return np.array([env.reward_of_state(state) for state in physics[1:]], np.float32)


def relabel(manifest_path: Path, task: str, out_path: Path) -> storage.Transitions:
    manifest, paths = storage.read_manifest(Path(manifest_path))
    if envs.domain_of(task) != manifest["domain"]:
        raise InputError(
            f"task {task!r} does not belong to the {manifest['domain']!r} dataset {manifest_path}"
        )
    env = envs.Env(task, seed=0)
    parts = []
    for number, path in enumerate(paths, 1):
        episode = storage.load_domain_episode(path, manifest["domain"])
        parts.append(storage.episode_transitions(episode, task_rewards(env, episode["physics"])))
        if number % max(1, len(paths) // 10) == 0 or number == len(paths):
            log.info("relabelled %d/%d episodes for %s", number, len(paths), task)
    transitions = storage.concatenate(parts)
    storage.save_transitions(Path(out_path), transitions)
    log.info("%d transitions, mean reward %.4f", len(transitions), transitions.reward.mean())
    return transitions
