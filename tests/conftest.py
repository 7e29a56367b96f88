import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "disable")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A scratch copy of the workflow (no results), to run Snakemake in."""
    for item in ("Snakefile", "config.yaml", "workflow", "envs", "profiles"):
        source = REPO / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / item)
    return tmp_path


@pytest.fixture(scope="session")
def walker_teacher(tmp_path_factory):
    """A random walker dataset relabelled for walker_walk and a small TD3 agents file."""
    from berl.datasets.relabel import relabel
    from berl.explore.collect import collect
    from berl.offline.train import train

    root = tmp_path_factory.mktemp("walker")
    manifest = collect("walker", {"agent": "random"}, 2000, seed=0, dataset_dir=root / "random")
    data = root / "walker_walk.npz"
    relabel(manifest, "walker_walk", data)
    train("td3", {"walker_walk": data}, root / "agents.pt", [0, 1], 30,
          {"hidden_dim": 32, "batch_size": 32}, torch.device("cpu"), log_every=30,
          checkpoint_every=30, eval_every=30, eval_episodes=1)
    return data, root / "agents.pt"


def gym_rollouts(task: str, steps: int, seed: int, time_limit: int) -> dict:
    """``steps`` steps of uniform random actions in a Gymnasium task, one row per step in
    D4RL's layout: an episode ends by termination (a fall) or at ``time_limit`` steps."""
    from berl.datasets.envs import GymEnv

    env = GymEnv(task, seed)
    rng = np.random.default_rng(seed)
    rows = {key: [] for key in ("observations", "next_observations", "actions", "rewards", "terminals", "timeouts")}
    obs, length = env.reset(), 0
    for _ in range(steps):
        action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        next_obs, reward, over = env.step(action)
        length += 1
        cut = length == time_limit
        terminal = over and not cut and length < 1000
        for key, value in zip(rows, (obs, next_obs, action, reward, terminal, cut and not terminal)):
            rows[key].append(value)
        obs = next_obs
        if over or cut:
            obs, length = env.reset(), 0
    return {key: np.asarray(value) for key, value in rows.items()}


def write_d4rl_file(path: Path, task: str, steps: int = 300, seed: int = 0, time_limit: int = 100,
                    next_observations: bool = False, **changes) -> dict:
    """A D4RL-layout HDF5 file of real rollouts (``changes`` replace or, as None, drop arrays)."""
    import h5py

    arrays = gym_rollouts(task, steps, seed, time_limit)
    if not next_observations:
        arrays.pop("next_observations")
    arrays.update(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        for key, value in arrays.items():
            if value is not None:
                file.create_dataset(key, data=value)
    return arrays
