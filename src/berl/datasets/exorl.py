"""ExORL's public exploration datasets as datasets of this pipeline.

ExORL stores the data of each of its nine agents (APS, DIAYN, Disagreement, ICM, ICM-APT,
Proto-RL, random, RND, SMM) under ``<root>/<domain>/<agent>/buffer/`` as one ``.npz`` per
episode, named ``<timestamp>_<index>_<length>.npz``, with the arrays observation, action,
reward, discount and physics: the layout this pipeline writes too. Importing a dataset copies
its first episodes (in index order) up to the preset's number of transitions into the
dataset folder and writes the manifest, so that relabelling, training, the coverage analyses
and distillation read it like a collected dataset. Every copied episode is read and checked
first (arrays, lengths, observation and action sizes of the domain), so a truncated or
foreign file is named before anything downstream runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from berl.core.io import atomic_path
from berl.core.log import get_logger
from berl.core.validate import InputError
from berl.datasets import storage
from berl.datasets.envs import DOMAIN_SIZES

log = get_logger(__name__)

def buffer_folder(source: Path) -> Path:
    """The folder of episode files: `source/buffer` when there is one, else `source`."""
    source = Path(source)
    return source / "buffer" if (source / "buffer").is_dir() else source


def import_exorl(source: Path, dataset_dir: Path, domain: str, transitions: int) -> Path:
    """Copy ExORL episodes holding at least `transitions` transitions; return the manifest."""
    if domain not in DOMAIN_SIZES:
        raise InputError(f"unknown domain {domain!r}; known: {', '.join(DOMAIN_SIZES)}")
    folder = buffer_folder(source)
    if not folder.is_dir():
        raise storage.InputError(f"{source}: no such ExORL dataset folder")
    files = storage.episode_files(folder)
    available = sum(storage.parse_episode_name(path)[1] for path in files)
    if available < transitions:
        raise storage.InputError(
            f"{folder}: {available} transitions in {len(files)} episode files, fewer than the {transitions} asked for")

    episodes = Path(dataset_dir) / storage.EPISODE_DIR
    if episodes.exists():
        shutil.rmtree(episodes)  # a partial import of an earlier, interrupted run
    episodes.mkdir(parents=True)
    copied = 0
    for path in files:
        episode = storage.load_domain_episode(path, domain)
        with atomic_path(episodes / path.name) as tmp:
            shutil.copyfile(path, tmp)
        copied += len(episode["observation"]) - 1
        if copied >= transitions:
            break
    log.info("imported %d transitions of %s from %s", copied, domain, folder)
    return storage.write_manifest(dataset_dir, {"domain": domain, "agent": "exorl", "source": str(folder)})
