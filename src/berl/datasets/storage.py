"""Dataset storage.

Episodes are stored as in ExORL: one compressed ``.npz`` per episode, named
``<timestamp>_<index>_<length>.npz``, with keys observation, action, reward, discount and
physics, each holding ``length + 1`` rows (row 0 is the reset state, with a zero action).
A ``manifest.json`` beside the episode folder is written last and marks a finished dataset.

Relabelled datasets are flat transition arrays for one task, stored in one ``.npz`` and
loaded as contiguous arrays ready to move to the training device. Their optional
``episode_end`` array marks the last transition of every episode (terminated or cut by the
time limit), which Monte-Carlo returns need.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from berl.core.io import atomic_path, read_json, write_json
from berl.core.validate import ANY_WIDTH, Array, InputError, check_arrays, width
from berl.datasets.envs import DOMAIN_SIZES, PHYSICS_SIZES

EPISODE_KEYS = ("observation", "action", "reward", "discount", "physics")
TRANSITION_KEYS = ("observation", "action", "reward", "discount", "next_observation")
EPISODE_END = "episode_end"  # optional transition array: True on each episode's last row
# Largest distance between next_obs[t] and obs[t + 1] at which row t + 1 continues row t's
# episode in Monte-Carlo returns (CORL's Cal-QL's).
NEXT_STATE_TOLERANCE = 1e-6
MANIFEST = "manifest.json"
EPISODE_DIR = "episodes"



def _read_npz(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays an ``.npz`` file has (unchecked), naming the file if it is unreadable
    or holds Python objects (an object array, which only unpickling reads)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names if name in data.files}
    except FileNotFoundError as exc:
        raise InputError(f"{path}: file not found") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        if str(exc).startswith("Object arrays cannot be loaded"):  # numpy's refusal to unpickle an array
            raise InputError(f"{path}: refused: an array holds pickled Python objects; only arrays of numbers "
                             "are read") from exc
        raise InputError(f"{path}: truncated or corrupt file ({exc})") from exc


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


# --------------------------------------------------------------------------- episodes


def episode_name(index: int, length: int) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}_{index}_{length}.npz"


def parse_episode_name(path: Path) -> tuple[int, int]:
    """Return (index, length) from an ExORL episode file name."""
    try:
        _, index, length = Path(path).stem.rsplit("_", 2)
        return int(index), int(length)
    except ValueError as exc:
        raise InputError(f"{path}: not an episode file name <timestamp>_<index>_<length>.npz") from exc


def save_episode(directory: Path, index: int, episode: dict[str, np.ndarray]) -> Path:
    rows = {key: len(episode[key]) for key in EPISODE_KEYS}
    if len(set(rows.values())) != 1:
        raise ValueError(f"episode arrays differ in length: {rows}")
    path = Path(directory) / episode_name(index, rows["observation"] - 1)
    _save_npz(path, {key: episode[key] for key in EPISODE_KEYS})
    return path


def episode_arrays(observation_size: int = ANY_WIDTH, action_size: int = ANY_WIDTH,
                   physics_size: int = ANY_WIDTH) -> list[Array]:
    return [Array("observation", observation_size), Array("action", action_size), Array("reward"),
            Array("discount"), Array("physics", physics_size)]


def load_episode(path: Path, sizes: tuple[int, ...] | None = None, what: str = "") -> dict[str, np.ndarray]:
    """A checked episode file of at least one step: its name's length + 1 rows of each array,
    with ``sizes`` (observation, action[, physics]) columns when given (``what`` names
    their source)."""
    path = Path(path)
    _, length = parse_episode_name(path)
    if length < 1:
        raise InputError(f"{path}: an episode of {length} steps holds no transition")
    episode = _read_npz(path, EPISODE_KEYS)
    check_arrays(path, episode, episode_arrays(*(sizes or ())), what=what, rows=length + 1,
                 rows_from="the name promises")
    return episode


def check_domain(domain, where: Path | str) -> str:
    """``domain`` if it is one this project simulates, else an error naming ``where``."""
    if domain not in DOMAIN_SIZES:
        raise InputError(f"{where}: unknown domain {domain!r}; known: {', '.join(DOMAIN_SIZES)}")
    return domain


def load_domain_episode(path: Path, domain: str) -> dict[str, np.ndarray]:
    """An episode file held to the observation, action and physics sizes of ``domain``
    (relabelling sets the simulator to each stored physics state)."""
    sizes = (*DOMAIN_SIZES[check_domain(domain, path)], PHYSICS_SIZES[domain])
    return load_episode(path, sizes, what=f"the {domain} domain")


def episode_files(directory: Path) -> list[Path]:
    """Episode files of a folder, in index order; hidden files (a killed write's temporary,
    ``berl.core.io.atomic_path``) are not episodes."""
    return sorted((path for path in Path(directory).glob("*.npz") if not path.name.startswith(".")),
                  key=lambda p: parse_episode_name(p)[0])


def write_manifest(dataset_dir: Path, metadata: dict) -> Path:
    dataset_dir = Path(dataset_dir)
    files = episode_files(dataset_dir / EPISODE_DIR)
    episodes = [{"file": f.name, "length": parse_episode_name(f)[1]} for f in files]
    manifest = {
        **metadata,
        "episodes": episodes,
        "transitions": sum(e["length"] for e in episodes),
    }
    write_json(dataset_dir / MANIFEST, manifest)
    return dataset_dir / MANIFEST


def read_manifest(manifest_path: Path) -> tuple[dict, list[Path]]:
    """Return the manifest and the episode paths it lists, checking that it names a known
    domain, lists at least one episode, that each exists, and that the length it lists for
    each is the one the file's name gives."""
    manifest_path = Path(manifest_path)
    try:
        manifest = read_json(manifest_path)
        listed = [(e["file"], e["length"]) for e in manifest["episodes"]]
        domain = manifest["domain"]
    except KeyError as exc:
        raise InputError(f"{manifest_path}: not a dataset manifest (no {exc} key)") from exc
    except (ValueError, TypeError) as exc:
        raise InputError(f"{manifest_path}: not a dataset manifest ({exc})") from exc
    check_domain(domain, manifest_path)
    if not listed:
        raise InputError(f"{manifest_path}: lists no episodes")
    paths = [manifest_path.parent / EPISODE_DIR / name for name, _ in listed]
    for path, (_, length) in zip(paths, listed):
        if parse_episode_name(path)[1] != length:
            raise InputError(f"{manifest_path}: lists {path.name} with {length} steps, its name gives "
                             f"{parse_episode_name(path)[1]}")
    absent = [str(p) for p in paths if not p.exists()]
    if absent:
        raise InputError(f"{manifest_path}: listed episode files are missing: {absent[:3]}")
    return manifest, paths


def load_dataset(manifest_path: Path) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """The manifest and every episode it lists, each checked against the dataset's domain."""
    manifest, paths = read_manifest(manifest_path)
    return manifest, [load_domain_episode(path, manifest.get("domain")) for path in paths]


# ------------------------------------------------------------------------ transitions


@dataclass
class Transitions:
    """Contiguous (s, a, r, discount, s') arrays of one task, one row per transition."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    discount: np.ndarray
    next_observation: np.ndarray
    episode_end: np.ndarray | None = None  # (N,) bool, when the episode boundaries are known

    def __len__(self) -> int:
        return len(self.observation)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array it holds, the optional episode ends included when known."""
        keys = TRANSITION_KEYS + ((EPISODE_END,) if self.episode_end is not None else ())
        return {key: getattr(self, key) for key in keys}

    def to_torch(self, device) -> dict:
        import torch

        return {
            key: torch.as_tensor(np.ascontiguousarray(value, dtype=np.float32), device=device)
            for key, value in self.arrays().items()
        }


def save_transitions(path: Path, transitions: Transitions) -> None:
    _save_npz(Path(path), transitions.arrays())


def transition_arrays(observation_size: int, action_size: int) -> list[Array]:
    return [Array("observation", observation_size), Array("action", action_size), Array("reward"),
            Array("discount"), Array("next_observation", observation_size), Array(EPISODE_END, optional=True)]


def load_transitions(path: Path, sizes: tuple[int, int] | None = None, what: str = "") -> Transitions:
    """A checked transition file (``berl.core.validate``): every array present, finite and
    one row per transition, next states as wide as states, and with ``sizes``
    (observation, action) the environment's widths (``what`` names it)."""
    path = Path(path)
    arrays = _read_npz(path, TRANSITION_KEYS + (EPISODE_END,))
    expected = sizes or (width(arrays, "observation"), width(arrays, "action"))
    check_arrays(path, arrays, transition_arrays(*expected), what=what)
    return Transitions(**arrays)


def episode_transitions(episode: dict[str, np.ndarray], reward: np.ndarray) -> Transitions:
    """Transition i pairs obs[i-1] and action[i] with reward[i] and obs[i] (ExORL's layout)."""
    return Transitions(
        observation=episode["observation"][:-1],
        action=episode["action"][1:],
        reward=np.asarray(reward, dtype=np.float32).reshape(-1, 1),
        discount=episode["discount"][1:],
        next_observation=episode["observation"][1:],
        episode_end=np.arange(len(episode["observation"]) - 1) == len(episode["observation"]) - 2,
    )


def concatenate(parts: list[Transitions]) -> Transitions:
    """One set of the parts' rows, in order (episode ends kept when every part has them)."""
    keys = set.intersection(*(set(part.arrays()) for part in parts))
    return Transitions(**{key: np.concatenate([getattr(p, key) for p in parts]) for key in keys})


def returns_to_go(transitions: Transitions, discount: float, path: Path | str = "") -> np.ndarray:
    """The discounted Monte-Carlo return from every transition to the end of its episode,
    shape (N, 1): r_t + discount * (return of t + 1), restarting at each episode end and
    stopping at a termination (a zero discount). As CORL's Cal-QL, an episode also ends
    where the next row does not start from this row's next state (next_obs[t] and obs[t + 1]
    further apart than ``NEXT_STATE_TOLERANCE``): the rows are not one trajectory there. A
    dataset that ends mid-episode counts its last row as an episode end."""
    if transitions.episode_end is None:
        raise InputError(f"{path or 'the dataset'}: no episode_end array, which Monte-Carlo returns need "
                           "(written by relabelling and by the D4RL import; rerun the stage that made it)")
    reward = transitions.reward[:, 0].astype(np.float64)
    gap = np.linalg.norm(transitions.next_observation[:-1] - transitions.observation[1:], axis=1)
    next_row_follows = np.append(gap <= NEXT_STATE_TOLERANCE, False)
    continues = (transitions.discount[:, 0] > 0) & ~transitions.episode_end.astype(bool) & next_row_follows
    returns = np.zeros(len(reward))
    following = 0.0
    for t in range(len(reward) - 1, -1, -1):
        following = reward[t] + discount * following * continues[t]
        returns[t] = following
    return returns.astype(np.float32)[:, None]
