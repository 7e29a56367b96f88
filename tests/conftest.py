import os
import shutil
from pathlib import Path

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
