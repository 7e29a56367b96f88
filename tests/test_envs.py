import numpy as np
import pytest

from berl.core.validate import InputError
from berl.datasets import envs

DIMS = {"walker": (24, 6), "quadruped": (78, 12)}


@pytest.mark.parametrize("task", list(envs.TASKS))
def test_flat_float32_observations_and_dimensions(task):
    env = envs.Env(task, seed=0)
    obs = env.reset()
    assert obs.dtype == np.float32 and obs.ndim == 1
    assert (env.observation_dim, env.action_dim) == DIMS[envs.domain_of(task)]
    assert obs.shape == (env.observation_dim,)


def test_actions_in_unit_box_are_rescaled_to_the_actuator_range():
    env = envs.Env("quadruped_walk", seed=0)
    env.reset()
    spec = env._env.action_spec()
    assert not np.allclose(spec.maximum, 1.0)  # quadruped's range is not [-1, 1]
    env.step(np.ones(env.action_dim))
    np.testing.assert_allclose(env.physics.data.ctrl, spec.maximum)
    env.step(-5 * np.ones(env.action_dim))  # out-of-range actions are clipped first
    np.testing.assert_allclose(env.physics.data.ctrl, spec.minimum)
    env.step(np.zeros(env.action_dim))
    np.testing.assert_allclose(env.physics.data.ctrl, (spec.minimum + spec.maximum) / 2)


def test_seeding_is_reproducible_and_seed_dependent():
    first = envs.Env("quadruped_walk", seed=1).reset()
    again = envs.Env("quadruped_walk", seed=1).reset()
    other = envs.Env("quadruped_walk", seed=2).reset()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_episodes_last_episode_length_steps():
    env = envs.Env("walker_run", seed=0)
    env.reset()
    steps, done = 0, False
    while not done:
        _, _, done = env.step(np.zeros(env.action_dim))
        steps += 1
    assert steps == envs.EPISODE_LENGTH


def test_unknown_task_is_named():
    with pytest.raises(InputError, match="walker_fly"):
        envs.Env("walker_fly", seed=0)
    assert envs.tasks_of("walker") == ["walker_stand", "walker_walk", "walker_run"]
