"""One validation for every data file (the stages' behaviour on bad files is in
test_bad_inputs): what the check accepts and refuses, and damaged checkpoints."""

import numpy as np
import pytest
from conftest import fake_episode

from berl.core.validate import ANY_WIDTH, Array, InputError, check_arrays
from berl.datasets import storage

ROWS = 50


def walker_transitions() -> dict:
    rng = np.random.default_rng(0)
    return {"observation": rng.normal(size=(ROWS, 24)).astype(np.float32),
              "action": rng.uniform(-1, 1, (ROWS, 6)).astype(np.float32),
              "reward": rng.uniform(0, 1, (ROWS, 1)).astype(np.float32),
              "discount": np.ones((ROWS, 1), np.float32),
              "next_observation": rng.normal(size=(ROWS, 24)).astype(np.float32)}


def test_a_good_file_loads_with_its_episode_ends(tmp_path):
    ends = np.zeros(ROWS, bool)
    ends[[9, 49]] = True
    np.savez(tmp_path / "t.npz", **walker_transitions(), episode_end=ends)
    loaded = storage.load_transitions(tmp_path / "t.npz", (24, 6), what="walker_walk")
    assert len(loaded) == ROWS and loaded.episode_end.tolist() == ends.tolist()


def test_an_episode_must_hold_the_rows_its_name_promises(tmp_path):
    episode = fake_episode("walker", 10, 0)
    path = storage.save_episode(tmp_path, 0, episode)
    assert storage.load_episode(path, (24, 6))["physics"].shape == (11, 18)
    wrong = path.with_name(path.name.replace("_10.npz", "_12.npz"))
    path.rename(wrong)
    with pytest.raises(InputError, match=f"^{wrong}: observation has 11 rows, the name promises 13$"):
        storage.load_episode(wrong)
    with pytest.raises(InputError, match="observation has shape \\(11, 24\\), the quadruped domain has 78 columns"):
        storage.load_episode(storage.save_episode(tmp_path, 1, episode), (78, 12), what="the quadruped domain")


def test_check_arrays_reports_the_first_problem_it_meets():
    expected = [Array("x", ANY_WIDTH), Array("y"), Array("z", 2, optional=True)]
    check_arrays("f", {"x": np.zeros((3, 5)), "y": np.zeros(3)}, expected)  # z may be absent
    with pytest.raises(InputError, match="^f: x has shape \\(3,\\), \\(rows, columns\\) expected$"):
        check_arrays("f", {"x": np.zeros(3), "y": np.zeros(3)}, expected)
    with pytest.raises(InputError, match="^f: y is a single value, one row per step expected$"):
        check_arrays("f", {"x": np.zeros((3, 5)), "y": np.float64(1.0)}, expected)
    with pytest.raises(InputError, match="^f: z has shape \\(3, 3\\), 2 columns expected$"):
        check_arrays("f", {"x": np.zeros((3, 5)), "y": np.zeros(3), "z": np.zeros((3, 3))}, expected)


# ------------------------------------------------------------------------ checkpoints


def _train_bandit(tmp_path, out, **kwargs):
    from test_offline import CPU, saved_bandits

    from berl.offline.settings import EvaluateSettings, TrainSettings
    from berl.offline.train import train

    data = saved_bandits(tmp_path, a=0.5, b=0.2)
    settings = TrainSettings(steps=40, seeds=1, hidden_dim=16, batch_size=16, log_every=20, checkpoint_every=20,
                             eval_every=40)
    return train("td3", data, out, settings, EvaluateSettings(episodes=0), CPU, **kwargs)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not a dict"])
def test_a_damaged_checkpoint_is_reported_and_the_run_starts_afresh(tmp_path, caplog, damage):
    import torch

    from berl.core.checkpoint import save_checkpoint

    reference = _train_bandit(tmp_path, tmp_path / "reference.pt")
    checkpoint = tmp_path / "agents.pt.ckpt"
    if damage == "garbage":
        checkpoint.write_bytes(b"\x00not a checkpoint" * 50)
    elif damage == "truncated":
        save_checkpoint(checkpoint, {"any": "run"}, {"weights": torch.zeros(1000)})
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    else:
        torch.save([1, 2, 3], checkpoint)
    result = _train_bandit(tmp_path, tmp_path / "agents.pt")
    assert f"ignoring unreadable checkpoint, starting from the beginning: {checkpoint}: " in caplog.text
    for key, value in reference["agent"].items():
        torch.testing.assert_close(result["agent"][key], value, rtol=0, atol=0)
    assert not checkpoint.exists()


def test_a_checkpoint_of_another_code_version_is_ignored(tmp_path, caplog, monkeypatch):
    import berl.core.checkpoint as checkpoints

    real = checkpoints.code_version()
    monkeypatch.setattr(checkpoints, "code_version", lambda: "another")
    checkpoints.save_checkpoint(tmp_path / "agents.pt.ckpt", {"any": "run"}, {"step": 20})
    monkeypatch.setattr(checkpoints, "code_version", lambda: real)
    assert checkpoints.load_checkpoint(tmp_path / "agents.pt.ckpt", {"any": "run"}, "cpu") is None
    assert "written by another version of the code" in caplog.text
    checkpoints.save_checkpoint(tmp_path / "agents.pt.ckpt", {"any": "run"}, {"step": 20})
    assert checkpoints.load_checkpoint(tmp_path / "agents.pt.ckpt", {"any": "run"}, "cpu")["step"] == 20
