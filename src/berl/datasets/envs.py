"""dm_control environments with flat float32 observations and actions in [-1, 1]."""

from __future__ import annotations

import os

import numpy as np

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
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return task


def flatten_observation(observation: dict) -> np.ndarray:
    return np.concatenate(
        [np.asarray(value, dtype=np.float32).ravel() for value in observation.values()]
    )


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
        self._action_low = spec.minimum.astype(np.float64)
        self._action_range = (spec.maximum - spec.minimum).astype(np.float64)
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

    def random_state(self) -> tuple:
        """The task's random state, which draws every episode's initial state."""
        return self._env.task.random.get_state()

    def set_random_state(self, state: tuple) -> None:
        self._env.task.random.set_state(state)

    def physics_state(self) -> np.ndarray:
        return self._env.physics.get_state().copy()

    def reset(self) -> np.ndarray:
        return flatten_observation(self._env.reset().observation)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Advance one control step; returns (observation, reward, episode_over)."""
        unit = (np.clip(action, -1.0, 1.0) + 1.0) * 0.5
        time_step = self._env.step(self._action_low + unit * self._action_range)
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
