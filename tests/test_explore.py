"""Encoder pretraining, the n-step replay and the APT explorer."""

import numpy as np
import pytest
import torch

from berl import envs, storage
from berl.agents.replay import NStepReplay
from berl.collect import collect
from berl.encoder import ICMEncoder, EncoderConfig, load_encoder, pretrain
from berl.relabel import relabel


def test_replay_samples_only_nstep_windows_inside_one_episode():
    replay = NStepReplay(capacity=25, obs_dim=1, action_dim=1, nstep=3, episode_length=10,
                         device=torch.device("cpu"))
    for t in range(25):  # two full episodes and half of a third
        replay.add(np.array([t], np.float32), np.zeros(1, np.float32),
                   np.array([t + 1], np.float32))
    assert replay.valid_starts() == 8 + 8 + 3
    batch = replay.sample(5000, torch.Generator().manual_seed(0))
    start = batch["observation"][:, 0].long()
    assert set(start.tolist()) == {*range(0, 8), *range(10, 18), *range(20, 23)}
    np.testing.assert_array_equal(batch["nstep_observation"][:, 0], start + 3)
    np.testing.assert_array_equal(batch["next_observation"][:, 0], start + 1)


@pytest.fixture(scope="module")
def walker_random(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walker_random")
    return collect("walker", {"agent": "random"}, 2000, seed=0, dataset_dir=folder)


def test_encoder_pretraining_reduces_its_dynamics_losses(walker_random, tmp_path):
    _, paths = storage.read_manifest(walker_random)
    episode = storage.load_episode(paths[0])
    obs = torch.as_tensor(episode["observation"][:-1])
    action = torch.as_tensor(episode["action"][1:])
    next_obs = torch.as_tensor(episode["observation"][1:])
    torch.manual_seed(0)
    before = ICMEncoder(24, 6, EncoderConfig(hidden_dim=128)).losses(obs, action, next_obs)
    pretrain(walker_random, tmp_path / "encoder.pt", steps=300, batch_size=256, hidden_dim=128,
             device=torch.device("cpu"), log_every=100)
    encoder = load_encoder(tmp_path / "encoder.pt", torch.device("cpu"))
    after = encoder.losses(obs, action, next_obs)
    assert encoder.encode(obs).shape == (len(obs), 512)
    assert after[0] < 0.7 * before[0] and after[1] < 0.9 * before[1], (before, after)


def test_a_missing_encoder_is_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere.pt"):
        load_encoder(tmp_path / "nowhere.pt", torch.device("cpu"))


@pytest.mark.parametrize("spec", [
    {"agent": "apt", "reward": "be", "alpha": 0.5},
    {"agent": "apt", "reward": "renyi", "q": 1.1},
    {"agent": "apt", "reward": "shannon"},
])
def test_apt_collection_learns_and_writes_episodes_that_relabel(walker_random, tmp_path, spec):
    pretrain(walker_random, tmp_path / "encoder.pt", steps=20, batch_size=64, hidden_dim=64,
             device=torch.device("cpu"))
    sizes = {"hidden_dim": 32, "batch_size": 64, "seed_frames": 1000}
    manifest_path = collect("walker", spec, 2000, seed=1, dataset_dir=tmp_path / "data",
                            sizes=sizes, encoder_path=tmp_path / "encoder.pt")
    manifest, paths = storage.read_manifest(manifest_path)
    assert manifest["transitions"] == 2000 and manifest["reward"] == spec["reward"]
    stored = np.concatenate([storage.load_episode(p)["reward"][1:] for p in paths])
    transitions = relabel(manifest_path, "walker_stand", tmp_path / "stand.npz")
    np.testing.assert_allclose(transitions.reward, stored, atol=1e-6)
    second = storage.load_episode(paths[1])["action"][1:]
    first = storage.load_episode(paths[0])["action"][1:]
    # Episode 1 is uniform; episode 2 comes from the learnt policy plus N(0, 0.2) noise,
    # which clips at the action bounds far more often than uniform actions do.
    assert np.isfinite(second).all() and np.abs(second).max() <= 1.0
    assert not np.allclose(second.std(0), first.std(0), atol=0.02)


def test_apt_update_reduces_the_critic_loss_on_a_fixed_batch(walker_random, tmp_path):
    from berl.agents import make_agent

    pretrain(walker_random, tmp_path / "encoder.pt", steps=10, batch_size=64, hidden_dim=64,
             device=torch.device("cpu"))
    agent = make_agent({"agent": "apt", "reward": "be", "alpha": 0.5}, 24, 6, seed=0,
                       sizes={"hidden_dim": 64, "batch_size": 256, "seed_frames": 10**9,
                              "encoder_online": False},
                       encoder_path=tmp_path / "encoder.pt", capacity=2000,
                       episode_length=envs.EPISODE_LENGTH)
    _, paths = storage.read_manifest(walker_random)
    episode = storage.load_episode(paths[0])
    for t in range(1, len(episode["action"])):
        agent.observe(episode["observation"][t - 1], episode["action"][t],
                      episode["observation"][t], t == len(episode["action"]) - 1)
    batch = agent.replay.sample(256, torch.Generator().manual_seed(0))
    agent.replay.sample = lambda *args: batch  # the same batch at every update
    losses = []
    for _ in range(200):
        agent.update()
        losses.append(float(agent.metrics["critic_loss"]))
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:5]), losses[:5] + losses[-5:]
