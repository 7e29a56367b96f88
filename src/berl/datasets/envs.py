"""Environments with flat float32 observations and actions in [-1, 1]: dm_control's tasks
(the pipeline's own datasets) and Gymnasium's MuJoCo locomotion (the D4RL branch)."""

from __future__ import annotations

import os
import warnings

import numpy as np

from berl.core.validate import InputError

# Task name -> (dm_control domain, dm_control task).
TASKS: dict[str, tuple[str, str]] = {
    "walker_stand": ("walker", "stand"),
    "walker_walk": ("walker", "walk"),
    "walker_run": ("walker", "run"),
    "quadruped_walk": ("quadruped", "walk"),
    "quadruped_run": ("quadruped", "run"),
}

# Exploration data of a domain is collected in this task's environment. Observations and
# dynamics are the same for every task of a domain; the task only fixes the reward
# stored during collection, which the relabel stage replaces anyway.
COLLECTION_TASK: dict[str, str] = {"walker": "walker_stand", "quadruped": "quadruped_walk"}

DOMAINS: tuple[str, ...] = tuple(COLLECTION_TASK)

# (observation size, action size) of each domain's flat observations and actions.
DOMAIN_SIZES: dict[str, tuple[int, int]] = {"walker": (24, 6), "quadruped": (78, 12)}
# Width of each domain's physics state (MuJoCo's qpos, qvel and actuator activations), from
# which relabelling recomputes rewards.
PHYSICS_SIZES: dict[str, int] = {"walker": 18, "quadruped": 57}

# Both domains run 1000 control steps per episode (walker at 40 Hz, quadruped at 50 Hz).
EPISODE_LENGTH = 1000
# Rewards are in [0, 1] per step, so an episode returns at most 1000.
MAX_EPISODE_RETURN = 1000.0


def normalised_score(returns):
    """dm_control returns as a percentage of the 1000 maximum."""
    return 100.0 * returns / MAX_EPISODE_RETURN


def domain_of(task: str) -> str:
    return TASKS[_check_task(task)][0]


def tasks_of(domain: str) -> list[str]:
    return [task for task, (dom, _) in TASKS.items() if dom == domain]


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return task


def flatten_observation(observation: dict) -> np.ndarray:
    return np.concatenate(
        [np.asarray(value, dtype=np.float32).ravel() for value in observation.values()]
    )


class ActionScale:
    """Maps an action in [-1, 1]^d (clipped first) onto an environment's own bounds."""

    def __init__(self, low: np.ndarray, high: np.ndarray):
        self.low = np.asarray(low, dtype=np.float64)
        self.range = np.asarray(high, dtype=np.float64) - self.low

    def __call__(self, action: np.ndarray) -> np.ndarray:
        return self.low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * self.range


class Env:
    """One dm_control task; ``step`` takes an action in [-1, 1]^d and rescales it."""

    def __init__(self, task: str, seed: int):
        os.environ.setdefault("MUJOCO_GL", "disable")  # state-based only: no display probing
        from dm_control import (
            suite,  # imported here: the Snakefile reads this module too
        )

        domain, task_name = TASKS[_check_task(task)]
        self.name = task
        self._env = suite.load(domain, task_name, task_kwargs={"random": seed})
        spec = self._env.action_spec()
        self._to_bounds = ActionScale(spec.minimum, spec.maximum)
        self.action_dim = int(spec.shape[0])
        self.observation_dim = int(
            sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        )

    @property
    def physics(self):
        return self._env.physics

    @property
    def task(self):
        return self._env.task

    def random_state(self) -> dict:
        """The task's random state, which draws every episode's initial state, in numbers and
        lists only: checkpoints hold it, and they are read without unpickling numpy arrays."""
        state = self._env.task.random.get_state(legacy=False)
        return {**state, "state": {**state["state"], "key": state["state"]["key"].tolist()}}

    def set_random_state(self, state: dict) -> None:
        self._env.task.random.set_state(state)

    def reseed(self, seed: int) -> None:
        """Draw the next episodes' initial states as a fresh ``Env(task, seed)`` would."""
        self._env.task.random.seed(seed)

    def physics_state(self) -> np.ndarray:
        return self._env.physics.get_state().copy()

    def reset(self) -> np.ndarray:
        return flatten_observation(self._env.reset().observation)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Advance one control step; returns (observation, reward, episode_over)."""
        time_step = self._env.step(self._to_bounds(action))
        return (
            flatten_observation(time_step.observation),
            float(time_step.reward),
            time_step.last(),
        )

    def reward_of_state(self, state: np.ndarray) -> float:
        """The task reward of a stored physics state (how datasets are relabelled)."""
        physics = self._env.physics
        with physics.reset_context():
            physics.set_state(state)
        return float(self._env.task.get_reward(physics))


# Gymnasium's MuJoCo tasks of the D4RL branch. D4RL's v2 files were recorded in the
# mujoco-py environments of gym (v3); Gymnasium's v4 has their model files and observation
# layout on the `mujoco` bindings. Minari's `mujoco/*` datasets were recorded in v5.
GYM_TASKS: dict[str, tuple[int, int]] = {  # id -> (observation size, action size)
    f"{name}-{version}": sizes
    for name, sizes in (("HalfCheetah", (17, 6)), ("Hopper", (11, 3)), ("Walker2d", (17, 6)))
    for version in ("v4", "v5")
}


class GymEnv:
    """One Gymnasium MuJoCo task with its time limit (1000 steps); an episode also ends
    when the task terminates it (a hopper or walker that falls). The first reset draws
    the initial state from ``seed``."""

    def __init__(self, task: str, seed: int):
        import gymnasium  # imported here: the Snakefile reads this module too

        if task not in GYM_TASKS:
            raise InputError(f"unknown Gymnasium task {task!r}; known: {', '.join(GYM_TASKS)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # v4's deprecation notice: v4 is the version D4RL matches
            self._env = gymnasium.make(task)
        self.name, self._seed = task, seed
        self._to_bounds = ActionScale(self._env.action_space.low, self._env.action_space.high)
        self.observation_dim, self.action_dim = GYM_TASKS[task]

    def reseed(self, seed: int) -> None:
        """Draw the next reset's initial state as a fresh ``GymEnv(task, seed)`` would."""
        self._seed = seed

    def reset(self) -> np.ndarray:
        observation, _ = self._env.reset(seed=self._seed)
        self._seed = None  # later episodes continue the environment's random stream
        return observation.astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Advance one step; returns (observation, reward, episode_over)."""
        observation, reward, terminated, truncated, _ = self._env.step(self._to_bounds(action))
        return observation.astype(np.float32), float(reward), terminated or truncated


def sizes_of(task: str) -> tuple[int, int]:
    """(observation size, action size) of a task, without building its environment."""
    return GYM_TASKS[task] if task in GYM_TASKS else DOMAIN_SIZES[domain_of(task)]


def known_sizes(task: str) -> tuple[int, int] | None:
    """The sizes of an environment's task; None for any other name (the tests' toy problems)."""
    return sizes_of(task) if task in GYM_TASKS or task in TASKS else None


def make_env(task: str, seed: int) -> Env | GymEnv:
    """The environment of a task name: a Gymnasium id (``Hopper-v4``) or a dm_control task."""
    return GymEnv(task, seed) if task in GYM_TASKS else Env(task, seed)
