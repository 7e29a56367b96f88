import numpy as np
import pytest
from conftest import fake_episode

from berl.datasets import storage


def test_episode_roundtrip_and_exorl_name(tmp_path):
    episode = fake_episode("walker", 5, 0)
    path = storage.save_episode(tmp_path, 4, episode)
    assert storage.parse_episode_name(path) == (4, 5)
    loaded = storage.load_episode(path)
    for key in storage.EPISODE_KEYS:
        np.testing.assert_array_equal(loaded[key], episode[key])
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_truncated_file_is_named(tmp_path):
    path = storage.save_episode(tmp_path, 0, fake_episode("walker", 200, 0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(storage.InputError, match=path.name):
        storage.load_episode(path)


def test_corrupt_file_is_named(tmp_path):
    path = storage.save_episode(tmp_path, 0, fake_episode("walker", 5, 0))
    path.write_bytes(b"not an npz at all")
    with pytest.raises(storage.InputError, match=f"{path.name}.*corrupt"):
        storage.load_episode(path)


def test_missing_array_and_wrong_length_are_named(tmp_path):
    episode = fake_episode("walker", 5, 0)
    path = tmp_path / "20240101T000000_0_5.npz"
    np.savez_compressed(path, **{k: v for k, v in episode.items() if k != "physics"})
    with pytest.raises(storage.InputError, match="physics"):
        storage.load_episode(path)
    lying = tmp_path / "20240101T000000_1_9.npz"
    np.savez_compressed(lying, **episode)
    with pytest.raises(storage.InputError, match="promises 10"):
        storage.load_episode(lying)


def test_manifest_lists_episodes_and_detects_missing_files(tmp_path):
    episode_dir = tmp_path / storage.EPISODE_DIR
    paths = [storage.save_episode(episode_dir, i, fake_episode("walker", 5, i)) for i in range(3)]
    manifest_path = storage.write_manifest(tmp_path, {"domain": "walker"})
    manifest, listed = storage.read_manifest(manifest_path)
    assert listed == paths and manifest["transitions"] == 15
    paths[1].unlink()
    with pytest.raises(storage.InputError, match="missing"):
        storage.read_manifest(manifest_path)


def test_transitions_follow_exorl_layout_and_are_contiguous(tmp_path):
    episode = fake_episode("walker", 5, 0)
    reward = np.arange(5, dtype=np.float32)
    transitions = storage.episode_transitions(episode, reward)
    np.testing.assert_array_equal(transitions.observation, episode["observation"][:-1])
    np.testing.assert_array_equal(transitions.next_observation, episode["observation"][1:])
    np.testing.assert_array_equal(transitions.action, episode["action"][1:])
    path = tmp_path / "t.npz"
    storage.save_transitions(path, storage.concatenate([transitions, transitions]))
    loaded = storage.load_transitions(path)
    assert len(loaded) == 10 and loaded.reward[:5, 0].tolist() == reward.tolist()
    tensors = loaded.to_torch("cpu")
    assert all(t.is_contiguous() and t.dtype.is_floating_point for t in tensors.values())


def test_failed_write_keeps_the_previous_file(tmp_path):
    from berl.core.io import atomic_path

    target = tmp_path / "result.txt"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("killed")
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_a_killed_writes_temporaries_are_not_episodes_and_go_with_their_checkpoint(tmp_path):
    from berl.core.io import remove_with_temporaries

    # What a SIGKILL between atomic_path's creating and renaming leaves: ".<name>.<random><suffix>".
    path = storage.save_episode(tmp_path, 0, fake_episode("walker", 5, 0))
    (tmp_path / f".{path.name}.k3x9q.npz").write_bytes(b"half an episode")
    assert storage.episode_files(tmp_path) == [path]
    checkpoint = tmp_path / "collect.ckpt"
    checkpoint.write_bytes(b"state")
    leftovers = [tmp_path / ".collect.ckpt.qcxhm1tm.ckpt", tmp_path / ".collect.ckpt.a1b2.ckpt"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a checkpoint")
    other = tmp_path / ".collect.ckpt2.zz.ckpt"  # another file's temporary stays
    other.write_bytes(b"")
    remove_with_temporaries(checkpoint)
    assert not checkpoint.exists() and not any(leftover.exists() for leftover in leftovers) and other.exists()
