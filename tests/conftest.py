"""Shared fixtures and helpers: one way to start Snakemake, one snapshot of a folder, one
builder of fake episodes, and the runs that many tests read (the smoke DAG, run once per
session; a dry run per preset; a small random walker dataset and teacher)."""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

os.environ.setdefault("MUJOCO_GL", "disable")

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "envs", "profiles")
SMOKE = ("--config", "preset=smoke")


# ------------------------------------------------------------------------------ figures


def artists_outside_axes(fig) -> list[str]:
    """Every plotted point (line vertices, markers, error bars, scatter offsets, segments)
    of the figure's visible axes that lies outside its axes, as 'axes title: artist'. Axes
    turned off (tables, text) are skipped; limits are taken as drawn (autoscaled)."""
    from matplotlib.collections import PathCollection

    problems = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        ax.get_xlim(), ax.get_ylim()  # settle autoscaled limits before reading transforms
        box = ax.bbox
        for artist in [*ax.lines, *ax.collections]:
            if not artist.get_visible():
                continue
            if isinstance(artist, PathCollection):  # scatter: the markers sit at the offsets
                points = artist.get_offset_transform().transform(np.asarray(artist.get_offsets(), dtype=float))
            elif hasattr(artist, "get_xydata"):
                points = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
            else:
                vertices = [path.vertices for path in artist.get_paths() if len(path.vertices)]
                if not vertices:
                    continue
                points = artist.get_transform().transform(np.concatenate(vertices).astype(float))
            points = points[np.isfinite(points).all(axis=1)]
            # A marker centred on the frame is half hidden: markers (points, caps, scatter)
            # must sit 2 pixels inside; a line may run along the frame (a reference line does).
            marked = isinstance(artist, PathCollection) or (
                hasattr(artist, "get_marker") and artist.get_marker() not in (None, "None", "", " "))
            tolerance = -2.0 if marked else 1.0
            outside = ((points[:, 0] < box.x0 - tolerance) | (points[:, 0] > box.x1 + tolerance)
                       | (points[:, 1] < box.y0 - tolerance) | (points[:, 1] > box.y1 + tolerance))
            if outside.any():
                problems.append(f"{ax.get_title() or ax.get_ylabel() or 'axes'}: {artist.get_label() or artist}")
    return problems


@pytest.fixture(autouse=True)
def figures_show_their_data(monkeypatch):
    """Every figure a test saves must show all its data inside its axes (a point on an
    axis edge or beyond it is not seen): saving one that does not fails the test."""
    from matplotlib.figure import Figure

    save = Figure.savefig

    def checked_savefig(self, *args, **kwargs):
        problems = artists_outside_axes(self)
        assert not problems, f"data outside the axes of {self.get_suptitle() or 'a figure'}: {problems}"
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", checked_savefig)


# ------------------------------------------------------------------------------ helpers


def snakemake_argv(*args) -> list[str]:
    return [sys.executable, "-m", "snakemake", *map(str, args)]


def snakemake(workdir: Path, *args) -> subprocess.CompletedProcess:
    """Snakemake run in ``workdir`` with ``args``, its output captured."""
    return subprocess.run(snakemake_argv(*args), cwd=workdir, capture_output=True, text=True)


def shell_commands(dry_run_output: str) -> list[str]:
    """The `berl` commands that a dry run (-p) prints."""
    commands = [line.split("Shell command: ", 1)[-1].strip() for line in dry_run_output.splitlines()]
    return [command for command in commands if command.startswith("python -m berl")]


def snapshot(root: Path, *folders: str) -> dict[str, bytes]:
    """Every file under ``folders`` of ``root`` (all of ``root`` without them), by its path
    relative to ``root``, with its bytes."""
    tops = [root / folder for folder in folders] or [root]
    return {str(path.relative_to(root)): path.read_bytes() for top in tops for path in sorted(top.rglob("*"))
            if path.is_file()}


def copy_workflow(target: Path) -> Path:
    """A scratch copy of the workflow (no results), to run Snakemake in."""
    target.mkdir(parents=True, exist_ok=True)
    for item in WORKFLOW_FILES:
        source = REPO / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / item)
    return target


def edit_config(workdir: Path, change) -> None:
    """Apply ``change`` to the parsed config.yaml of a workflow copy and write it back."""
    path = workdir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def fake_episode(domain: str, steps: int, seed: int) -> dict[str, np.ndarray]:
    """An episode of ``steps`` transitions (``steps + 1`` rows, as stored) of random numbers
    with the domain's widths."""
    from berl.datasets import envs

    observation, action = envs.DOMAIN_SIZES[domain]
    rng, rows = np.random.default_rng(seed), steps + 1
    return {"observation": rng.normal(size=(rows, observation)).astype(np.float32),
            "action": rng.uniform(-1, 1, (rows, action)).astype(np.float32),
            "reward": rng.uniform(0, 1, (rows, 1)).astype(np.float32),
            "discount": np.ones((rows, 1), np.float32),
            "physics": rng.normal(size=(rows, envs.PHYSICS_SIZES[domain])).astype(np.float64)}


def write_dataset(folder: Path, episodes: list[dict], domain: str = "walker") -> Path:
    """A dataset folder holding ``episodes``; its manifest's path."""
    from berl.datasets import storage

    for index, episode in enumerate(episodes):
        storage.save_episode(folder / storage.EPISODE_DIR, index, episode)
    return storage.write_manifest(folder, {"domain": domain, "agent": "random"})


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    return copy_workflow(tmp_path)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole smoke-preset DAG, run once per session in a scratch copy; tests read it and
    never write into it."""
    root = copy_workflow(tmp_path_factory.mktemp("smoke_run"))
    run = snakemake(root, "--cores", "2", *SMOKE)
    assert run.returncode == 0, run.stderr[-4000:]
    (root / "snakemake.log").write_text(run.stdout + run.stderr)
    return root


@pytest.fixture(scope="session")
def dry_run(tmp_path_factory):
    """``dry_run(preset)``: the printed dry run (``-n --forceall -p``) of a preset's whole DAG
    with at least two collection replicates (paper's own three), and with the D4RL branch on
    (its files need only exist) except at quick, which shows it off. One run per preset and
    session."""
    from berl.datasets.d4rl import OBD_DATASETS

    @functools.cache
    def run(preset: str) -> subprocess.CompletedProcess:
        root = copy_workflow(tmp_path_factory.mktemp(f"dry_{preset}"))
        if preset != "quick":
            (root / "data/d4rl").mkdir(parents=True)
            for name in OBD_DATASETS:
                (root / f"data/d4rl/{name}.hdf5").touch()

        def replicated(config):
            config["preset"] = preset
            collect = config["presets"][preset]["collect"]
            collect["seeds"] = max(collect["seeds"], 2)

        edit_config(root, replicated)
        done = snakemake(root, "-n", "--forceall", "-p")
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    return run


@pytest.fixture(scope="session")
def walker_random(tmp_path_factory) -> Path:
    """The manifest of 2000 transitions of uniform-random walker data (two episodes)."""
    from berl.explore.collect import collect

    folder = tmp_path_factory.mktemp("walker") / "random"
    return collect("walker", {"agent": "random"}, 2000, seed=0, dataset_dir=folder)


@pytest.fixture(scope="session")
def walker_teacher(walker_random, tmp_path_factory):
    """The random walker dataset relabelled for walker_walk and a small TD3 agents file."""
    from berl.datasets.relabel import relabel
    from berl.offline.settings import EvaluateSettings, TrainSettings
    from berl.offline.train import train

    root = tmp_path_factory.mktemp("teacher")
    data = root / "walker_walk.npz"
    relabel(walker_random, "walker_walk", data)
    train("td3", {"walker_walk": data}, root / "agents.pt",
          TrainSettings(steps=30, seeds=2, hidden_dim=32, batch_size=32, log_every=30, checkpoint_every=30,
                        eval_every=30), EvaluateSettings(episodes=1), torch.device("cpu"))
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
