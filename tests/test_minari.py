"""Minari out: an exported dataset loads back with `minari.load_dataset` and identical arrays."""

from pathlib import Path

import numpy as np
import pytest

from berl.datasets import storage
from berl.datasets.minari_export import export_minari
from berl.datasets.relabel import relabel


@pytest.fixture
def relabelled_twice(walker_random, tmp_path):
    manifest = walker_random
    relabelled = {}
    for task in ("walker_stand", "walker_run"):
        relabelled[task] = tmp_path / f"{task}.npz"
        relabel(manifest, task, relabelled[task])
    return manifest, relabelled


def test_exported_dataset_loads_back_with_identical_arrays(relabelled_twice, tmp_path, monkeypatch):
    import minari

    manifest, relabelled = relabelled_twice
    root = tmp_path / "minari"
    metadata = {"agent": "random", "alpha": 0.5, "preset": "smoke", "seed": 3, "config_hash": "abc"}
    monkeypatch.chdir(tmp_path)  # a relative export folder, as the rule passes it
    ids = export_minari(manifest, relabelled, Path("minari/walker/random"), "random", metadata)
    assert ids == ["walker/random/walker_stand-v0", "walker/random/walker_run-v0"]
    assert not list(root.rglob(".staging*"))

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    _, paths = storage.read_manifest(manifest)
    stored = [storage.load_episode(path) for path in paths]
    for task, dataset_id in zip(relabelled, ids):
        dataset = minari.load_dataset(dataset_id)
        assert dataset.observation_space.shape == (24,) and dataset.action_space.shape == (6,)
        assert dataset.action_space.low.min() == -1 and dataset.action_space.high.max() == 1
        assert dataset.total_episodes == len(stored) and dataset.total_steps == sum(len(e["action"]) - 1 for e in stored)
        rewards = storage.load_transitions(relabelled[task]).reward[:, 0]
        start = 0
        for episode, original in zip(dataset.iterate_episodes(), stored):
            length = len(original["observation"]) - 1
            np.testing.assert_array_equal(episode.observations, original["observation"])
            np.testing.assert_array_equal(episode.actions, original["action"][1:])
            np.testing.assert_array_equal(episode.rewards, rewards[start:start + length])
            assert not episode.terminations.any() and episode.truncations.tolist() == [False] * (length - 1) + [True]
            start += length
        assert start == len(rewards)
        kept = dataset.storage.metadata["berl"]
        assert kept == {"dataset": "random", "domain": "walker", "task": task, **metadata}
    # The two tasks' datasets differ in rewards only.
    stand, run = (minari.load_dataset(i) for i in ids)
    first = next(stand.iterate_episodes()), next(run.iterate_episodes())
    assert not np.array_equal(first[0].rewards, first[1].rewards)


def test_rewards_that_do_not_match_the_episodes_are_refused(relabelled_twice, tmp_path):
    manifest, relabelled = relabelled_twice
    other = storage.load_transitions(relabelled["walker_run"])
    short = tmp_path / "short.npz"
    storage.save_transitions(short, storage.Transitions(*(getattr(other, key)[:-5] for key in storage.TRANSITION_KEYS)))
    with pytest.raises(storage.InputError, match="relabelled rewards for"):
        export_minari(manifest, {"walker_run": short}, tmp_path / "minari" / "walker" / "random", "random", {})
    assert not (tmp_path / "minari" / "walker" / "random").exists()
    assert not list(tmp_path.rglob(".staging*"))
