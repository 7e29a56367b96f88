"""D4RL's MuJoCo locomotion datasets (OBD's benchmark) as transition files of this pipeline.

Two sources give the same data:

- a D4RL HDF5 file (``halfcheetah-medium-v2.hdf5``, ...), with the arrays observations,
  actions, rewards, terminals, timeouts and optionally next_observations, one row per step;
- a Minari dataset id (``mujoco/halfcheetah/medium-v0``), read with ``minari`` from the
  local datasets root (``MINARI_DATASETS_PATH``), downloaded first by ``berl fetch-d4rl``.

Importing one checks every array (present, numeric, one row per step, the environment's
observation and action sizes, at least one transition, finite) and writes a transition
file (``berl.datasets.storage``) with episode ends, and an info file naming the Gymnasium
task to evaluate in and the reference returns of the normalised score.

Without next_observations, D4RL's own conversion is followed: the next state of row i is
row i + 1, and a row cut by the time limit (``timeouts``) is dropped, since its successor
starts another episode; the row before it then ends its episode.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from berl.core.io import read_json, write_json
from berl.core.log import get_logger
from berl.core.validate import Array, InputError, check_arrays, missing_keys
from berl.datasets import storage
from berl.datasets.envs import GYM_TASKS

log = get_logger(__name__)

# D4RL's reference returns (random policy, expert), from which its normalised score is made.
REFERENCE_RETURNS: dict[str, tuple[float, float]] = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
}
# The Gymnasium task of each environment: D4RL's v2 files match v4 (gym's v3 model and
# observations on the `mujoco` bindings), Minari's datasets were recorded in v5.
GYM_NAMES = {"halfcheetah": "HalfCheetah", "hopper": "Hopper", "walker2d": "Walker2d"}
D4RL_VERSION, MINARI_VERSION = "v4", "v5"

# OBD's Table 1: three environments, three data levels each.
OBD_DATASETS = [f"{env}-{level}-v2" for env in ("halfcheetah", "hopper", "walker2d")
                for level in ("medium-replay", "medium", "medium-expert")]


def source_of(name: str, root: Path | str) -> Path:
    """Where a dataset's data is read from: its D4RL file, or its Minari dataset's folder."""
    if is_minari(name):
        minari_root = os.environ.get("MINARI_DATASETS_PATH", os.path.expanduser("~/.minari/datasets"))
        return Path(minari_root) / name
    return Path(root) / f"{name}.hdf5"


HDF5_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
D4RL_NAME = re.compile(r"^(halfcheetah|hopper|walker2d)-[a-z-]+-v\d+$")
MINARI_ID = re.compile(r"^mujoco/(halfcheetah|hopper|walker2d)/[a-z-]+-v\d+$")
HOW_TO_GET = ("download D4RL's file (e.g. with `d4rl`: gym.make('{name}').get_dataset(), or from "
              "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/{name}.hdf5) into {root}/, "
              "or name the Minari id (mujoco/<env>/<level>-v0) and run `berl fetch-d4rl`")


def is_minari(name: str) -> bool:
    return "/" in name


def environment(name: str) -> str:
    """The environment of a D4RL name (``hopper-medium-replay-v2``) or Minari id
    (``mujoco/hopper/medium-v0``): halfcheetah, hopper or walker2d."""
    match = (MINARI_ID if is_minari(name) else D4RL_NAME).match(name)
    if match is None:
        raise InputError(f"{name!r} is neither a D4RL locomotion name (<env>-<level>-v2) nor a Minari id "
                         f"(mujoco/<env>/<level>-v0) of halfcheetah, hopper or walker2d")
    return match.group(1)


def gym_task(name: str) -> str:
    """The Gymnasium task that a dataset's policies are evaluated in."""
    version = MINARI_VERSION if is_minari(name) else D4RL_VERSION
    return f"{GYM_NAMES[environment(name)]}-{version}"


def folder_name(name: str) -> str:
    """A dataset's folder under the results: its D4RL name, or its Minari id with '-' for '/'."""
    return name.replace("/", "-")


def normalised_score(returns, reference: tuple[float, float]):
    """D4RL's normalised score, 100 (R - R_random) / (R_expert - R_random)."""
    random, expert = reference
    return 100.0 * (np.asarray(returns, dtype=np.float64) - random) / (expert - random)


# --------------------------------------------------------------------------- checks


def _fail(path, message: str):
    raise storage.InputError(f"{path}: {message}")


def check_steps(path, arrays: dict[str, np.ndarray], env: str) -> None:
    """Shapes, types and values of one dataset's per-step arrays against the environment."""
    observation_size, action_size = GYM_TASKS[f"{GYM_NAMES[env]}-{D4RL_VERSION}"]
    expected = [Array("observations", observation_size), Array("next_observations", observation_size, optional=True),
                Array("actions", action_size), Array("rewards"), Array("terminals"),
                Array("timeouts", optional=True)]
    check_arrays(path, arrays, expected, what=env)


def _transitions(observations, actions, rewards, terminals, ends, next_observations) -> storage.Transitions:
    return storage.Transitions(
        observation=np.ascontiguousarray(observations, dtype=np.float32),
        action=np.ascontiguousarray(actions, dtype=np.float32),
        reward=np.asarray(rewards, dtype=np.float32).reshape(-1, 1),
        discount=(1.0 - np.asarray(terminals, dtype=np.float32)).reshape(-1, 1),
        next_observation=np.ascontiguousarray(next_observations, dtype=np.float32),
        episode_end=np.asarray(ends, dtype=bool).reshape(-1),
    )


# -------------------------------------------------------------------------- sources


def read_hdf5(path: Path, env: str) -> storage.Transitions:
    """A D4RL HDF5 file as transitions (D4RL's conversion; see the module's docstring)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        _fail(path, "no such file; " + HOW_TO_GET.format(name=path.stem, root=path.parent))
    try:
        with h5py.File(path, "r") as file:
            missing = [key for key in HDF5_KEYS if key not in file]
            if missing:
                _fail(path, f"missing arrays {missing} (a D4RL file has {', '.join(HDF5_KEYS)})")
            keys = HDF5_KEYS + (("next_observations",) if "next_observations" in file else ())
            arrays = {key: file[key][()] for key in keys}
    except storage.InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        _fail(path, f"not a readable HDF5 file ({exc})")
    check_steps(path, arrays, env)
    terminals = arrays["terminals"].reshape(-1).astype(bool)
    timeouts = arrays["timeouts"].reshape(-1).astype(bool)
    if "next_observations" in arrays:
        return _transitions(arrays["observations"], arrays["actions"], arrays["rewards"], terminals,
                            terminals | timeouts, arrays["next_observations"])
    # Row i's successor is row i + 1: the last row and the rows cut by the time limit have none.
    keep = ~timeouts
    keep[-1] = False
    ends = terminals | np.append(timeouts[1:], True)  # the row before a dropped one ends its episode
    if not keep.any():
        _fail(path, "no transitions once the rows without a successor are dropped")
    rows = np.flatnonzero(keep)
    return _transitions(arrays["observations"][rows], arrays["actions"][rows], arrays["rewards"][rows],
                        terminals[rows], ends[rows], arrays["observations"][rows + 1])


def _refuse_environment_code(dataset_id: str) -> None:
    """Refuse a local Minari dataset whose metadata lacks its spaces: to find them, Minari
    would make the environment the metadata names, importing and calling its entry point."""
    from minari.storage import get_dataset_path

    metadata_path = get_dataset_path(dataset_id) / "data" / "metadata.json"
    if not metadata_path.is_file():
        return  # minari.load_dataset reports an absent dataset
    metadata = read_json(metadata_path)
    missing = missing_keys(metadata, ("observation_space", "action_space"))
    if missing:
        _fail(metadata_path, f"refused: no {', '.join(missing)}, so reading the dataset would run the code of "
                             "the environment its env_spec names")


def read_minari(dataset_id: str, env: str) -> tuple[storage.Transitions, tuple[float, float] | None]:
    """A local Minari dataset as transitions, with its reference returns (ref_min_score,
    ref_max_score) when its metadata has them."""
    import minari

    root = os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")
    _refuse_environment_code(dataset_id)
    try:
        dataset = minari.load_dataset(dataset_id)
    except (FileNotFoundError, ValueError) as exc:
        raise storage.InputError(f"{dataset_id}: no such Minari dataset under {root} ({exc}); "
                                   "run `berl fetch-d4rl` where there is internet") from exc
    parts = []
    for episode in dataset.iterate_episodes():
        observations = np.asarray(episode.observations)
        steps = len(episode.actions)
        if len(observations) != steps + 1:
            _fail(dataset_id, f"episode {episode.id} has {len(observations)} observations for {steps} actions")
        ends = np.arange(steps) == steps - 1
        arrays = {"observations": observations[:-1], "next_observations": observations[1:],
                  "actions": np.asarray(episode.actions), "rewards": np.asarray(episode.rewards),
                  "terminals": np.asarray(episode.terminations)}
        check_steps(f"{dataset_id} (episode {episode.id})", arrays, env)
        parts.append(_transitions(arrays["observations"], arrays["actions"], arrays["rewards"],
                                  arrays["terminals"], ends, arrays["next_observations"]))
    if not parts:
        _fail(dataset_id, "no episodes")
    metadata = dataset.storage.metadata
    reference = None
    if metadata.get("ref_min_score") is not None and metadata.get("ref_max_score") is not None:
        reference = (float(metadata["ref_min_score"]), float(metadata["ref_max_score"]))
    return storage.concatenate(parts), reference


def import_d4rl(name: str, root: Path, out_path: Path, info_path: Path) -> storage.Transitions:
    """Read dataset ``name`` (a D4RL file ``<root>/<name>.hdf5`` or a Minari id), check it,
    and write its transitions and its info (Gymnasium task, reference returns, source)."""
    env = environment(name)
    reference = REFERENCE_RETURNS[env]
    if is_minari(name):
        transitions, minari_reference = read_minari(name, env)
        reference = minari_reference or reference
        source = f"minari:{name}"
    else:
        path = Path(root) / f"{name}.hdf5"
        transitions = read_hdf5(path, env)
        source = str(path)
    storage.save_transitions(out_path, transitions)
    info = {"dataset": name, "environment": env, "task": gym_task(name), "source": source,
            "transitions": len(transitions), "episodes": int(transitions.episode_end.sum()),
            "reference_returns": {"random": reference[0], "expert": reference[1]}}
    write_json(info_path, info)
    log.info("%s: %d transitions in %d episodes from %s", name, info["transitions"], info["episodes"], source)
    return transitions


def fetch(dataset_ids: list[str]) -> None:
    """Download Minari datasets into the local root (needs internet)."""
    import minari

    for dataset_id in dataset_ids:
        if not is_minari(dataset_id):
            raise InputError(f"{dataset_id!r} is not a Minari id; D4RL files are fetched by hand: "
                             + HOW_TO_GET.format(name=dataset_id, root="<root>"))
        environment(dataset_id)
        try:
            minari.download_dataset(dataset_id)
        except Exception as exc:  # minari raises several network errors of its own
            raise storage.InputError(f"{dataset_id}: download failed ({exc})") from exc
        log.info("fetched %s", dataset_id)
