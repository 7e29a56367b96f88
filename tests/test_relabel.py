import numpy as np
import pytest

from berl.core.validate import InputError
from berl.datasets import envs, storage
from berl.datasets.relabel import relabel
from berl.explore.agents import UniformRandomAgent
from berl.explore.collect import collect, run_episodes


@pytest.mark.parametrize("task", list(envs.TASKS))
def test_relabelled_rewards_equal_the_rewards_seen_during_collection(tmp_path, task):
    env = envs.Env(task, seed=7)
    episode, = run_episodes([env], UniformRandomAgent(env.action_dim, [7]))
    storage.save_episode(tmp_path / storage.EPISODE_DIR, 0, episode)
    manifest = storage.write_manifest(tmp_path, {"domain": envs.domain_of(task)})

    transitions = relabel(manifest, task, tmp_path / "relabelled.npz")

    assert len(transitions) == envs.EPISODE_LENGTH
    assert episode["reward"][1:].std() > 0  # a non-trivial reward signal is compared
    np.testing.assert_allclose(transitions.reward, episode["reward"][1:], rtol=0, atol=1e-6)
    loaded = storage.load_transitions(tmp_path / "relabelled.npz")
    np.testing.assert_array_equal(loaded.reward, transitions.reward)


def test_collect_writes_a_dataset_that_relabels_for_every_task_of_its_domain(tmp_path):
    manifest_path = collect("walker", {"agent": "random"}, transitions=1500, seed=3, dataset_dir=tmp_path)
    manifest, paths = storage.read_manifest(manifest_path)
    assert len(paths) == 2 and manifest["transitions"] == 2 * envs.EPISODE_LENGTH
    collected = np.concatenate([storage.load_episode(p)["reward"][1:] for p in paths])
    # Data is collected in walker_stand, so relabelling with that task reproduces it.
    stand = relabel(manifest_path, "walker_stand", tmp_path / "stand.npz")
    np.testing.assert_allclose(stand.reward, collected, atol=1e-6)
    run = relabel(manifest_path, "walker_run", tmp_path / "run.npz")
    assert not np.allclose(run.reward, stand.reward)
    np.testing.assert_array_equal(run.observation, stand.observation)
    # Episode ends are kept (Monte-Carlo returns need them): the last row of each episode.
    ends = storage.load_transitions(tmp_path / "run.npz").episode_end
    assert np.flatnonzero(ends).tolist() == [envs.EPISODE_LENGTH - 1, 2 * envs.EPISODE_LENGTH - 1]


def test_relabelling_with_another_domains_task_is_refused(tmp_path):
    manifest_path = collect("walker", {"agent": "random"}, transitions=1, seed=0, dataset_dir=tmp_path)
    with pytest.raises(InputError, match="quadruped_run"):
        relabel(manifest_path, "quadruped_run", tmp_path / "x.npz")
