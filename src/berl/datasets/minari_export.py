"""A generated dataset as local Minari datasets, one per task, for Minari-based libraries.

Minari keeps one reward per step, so each task the dataset was relabelled for becomes its own
Minari dataset, `<domain>/<dataset>/<task>-v0`, under the export folder (a Minari datasets
root): same observations, actions and episode boundaries, that task's rewards. Episodes are
the stored ones: observations `length + 1` rows (the reset state first), actions and rewards
`length` rows (the stored row 0 is the reset's placeholder action); dm_control episodes end
by the time limit, so the last step is a truncation, and a zero discount marks a termination.
The metadata records where the data came from (agent, alpha, q, preset, seed, configuration
hash). Load one with

    MINARI_DATASETS_PATH=<export root> python -c "import minari; minari.load_dataset('walker/rnd/walker_walk-v0')"
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from berl.datasets import storage


def minari_id(domain: str, dataset: str, task: str) -> str:
    return f"{domain}/{dataset}/{task}-v0"


def episode_buffers(episodes: list[dict], rewards: np.ndarray) -> list:
    """Minari episode buffers of stored episodes, with one task's flat per-transition rewards."""
    from minari.data_collector import EpisodeBuffer

    lengths = [len(episode["observation"]) - 1 for episode in episodes]
    if len(rewards) != sum(lengths):
        raise storage.InputError(f"{len(rewards)} relabelled rewards for {sum(lengths)} stored transitions")
    buffers, start = [], 0
    for index, (episode, length) in enumerate(zip(episodes, lengths)):
        terminated = episode["discount"][1:, 0] == 0
        truncated = np.zeros(length, dtype=bool)
        truncated[-1] = not terminated[-1]
        buffers.append(EpisodeBuffer(
            id=index, observations=episode["observation"], actions=episode["action"][1:],
            rewards=rewards[start:start + length, 0], terminations=terminated, truncations=truncated,
        ))
        start += length
    return buffers


def export_minari(manifest_path: Path, relabelled: dict[str, Path], out_dir: Path, dataset: str,
                  metadata: dict) -> list[str]:
    """Write one Minari dataset per task under `out_dir` (= <root>/<domain>/<dataset>).

    The datasets are built in a staging root beside `out_dir` and moved into place together,
    so an interrupted export leaves no partial dataset. Returns the Minari dataset ids.
    """
    import gymnasium as gym
    import minari

    manifest, episodes = storage.load_dataset(manifest_path)
    domain = manifest["domain"]
    observation_size, action_size = episodes[0]["observation"].shape[1], episodes[0]["action"].shape[1]
    spaces = {"observation_space": gym.spaces.Box(-np.inf, np.inf, (observation_size,), np.float32),
              "action_space": gym.spaces.Box(-1.0, 1.0, (action_size,), np.float32)}
    out_dir = Path(out_dir).resolve()  # Minari mishandles a relative datasets root
    root = out_dir.parents[1]
    staging = root / f".staging-{domain}-{dataset}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(staging)  # where Minari writes
    ids = []
    try:
        for task, path in relabelled.items():
            rewards = storage.load_transitions(path, (observation_size, action_size), what=domain).reward
            ids.append(minari_id(domain, dataset, task))
            exported = minari.create_dataset_from_buffers(
                ids[-1], episode_buffers(episodes, rewards), algorithm_name=metadata.get("agent", ""),
                author={"berl"}, description=f"{dataset} ({domain}) relabelled for {task}", **spaces)
            exported.storage.update_metadata({"berl": {"dataset": dataset, "domain": domain, "task": task,
                                                       **metadata}})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH")
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    (staging / domain / dataset).rename(out_dir)
    shutil.rmtree(staging)
    return ids
