import numpy as np
import pytest
import torch

from berl import storage
from berl.offline import train as train_module
from berl.offline.td3 import TD3, TD3Config
from berl.log import DivergenceError
from berl.offline.train import load_agent, train


def contextual_bandit(n=4096, seed=0) -> storage.Transitions:
    """One-step problem: reward -|a - a*(s)|^2 with a*(s) = 0.5 s, every step terminal."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    action = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    reward = -((action - 0.5 * obs) ** 2).sum(1, keepdims=True).astype(np.float32)
    return storage.Transitions(obs, action, reward, np.zeros((n, 1), np.float32), obs.copy())


def batch_of(transitions, index):
    return {k: torch.as_tensor(v[index])[None] for k, v in transitions.arrays().items()}


def test_a_member_of_a_batch_starts_and_trains_exactly_like_the_agent_alone():
    data = contextual_bandit(512)
    config = TD3Config(hidden_dim=32, batch_size=64, policy_noise=0.0)
    alone = TD3(2, 2, [5], config)
    batched = TD3(2, 2, [3, 5, 9], config)
    rng = np.random.default_rng(0)
    generator = torch.Generator()
    for _ in range(20):
        own = batch_of(data, rng.integers(0, 512, 64))
        other = batch_of(data, rng.integers(0, 512, (2, 64)))
        stacked = {k: torch.cat([other[k][0, :1], own[k], other[k][0, 1:]]) for k in own}
        alone.update(own, generator)
        batched.update(stacked, generator)
    obs = torch.as_tensor(data.observation[None, :100])
    np.testing.assert_allclose(
        batched.act(obs.expand(3, -1, -1))[1], alone.act(obs)[0], rtol=0, atol=1e-5
    )
    assert not torch.allclose(batched.act(obs.expand(3, -1, -1))[0], alone.act(obs)[0])


def test_td3_learns_the_optimal_action_of_a_contextual_bandit(tmp_path):
    data = contextual_bandit()
    path = tmp_path / "bandit.npz"
    storage.save_transitions(path, data)
    train("td3", path, tmp_path / "agents.pt", [0, 1], steps=1500,
          config={"hidden_dim": 64, "batch_size": 256, "lr": 1e-3},
          device=torch.device("cpu"), log_every=500, checkpoint_every=10_000)
    agent = load_agent(tmp_path / "agents.pt", torch.device("cpu"))
    obs = torch.rand(2, 500, 2) * 2 - 1
    error = ((agent.act(obs) - 0.5 * obs) ** 2).sum(-1).mean(-1)
    untrained = TD3(2, 2, [0, 1], TD3Config(hidden_dim=64))
    before = ((untrained.act(obs) - 0.5 * obs) ** 2).sum(-1).mean(-1)
    assert (error < 0.02).all(), error  # the zero action scores 1/6
    assert (error < before / 10).all()


def test_a_killed_training_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    path = tmp_path / "bandit.npz"
    storage.save_transitions(path, contextual_bandit(1024))
    kwargs = dict(seeds=[0, 1], steps=60, config={"hidden_dim": 32, "batch_size": 32},
                  device=torch.device("cpu"), log_every=20, checkpoint_every=20)
    reference = train("td3", path, tmp_path / "reference.pt", **kwargs)

    real_update = TD3.update
    calls = {"n": 0}

    def dies_at_step_50(self, batch, generator):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt("killed")
        return real_update(self, batch, generator)

    monkeypatch.setattr(TD3, "update", dies_at_step_50)
    with pytest.raises(KeyboardInterrupt):
        train("td3", path, tmp_path / "resumed.pt", **kwargs)
    assert (tmp_path / "resumed.pt.ckpt").exists() and not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(TD3, "update", real_update)
    resumed = train("td3", path, tmp_path / "resumed.pt", **kwargs)

    for key, value in reference["agent"].items():
        torch.testing.assert_close(resumed["agent"][key], value, rtol=0, atol=0)
    assert not (tmp_path / "resumed.pt.ckpt").exists()


def test_non_finite_losses_stop_training_with_a_diagnostic(tmp_path):
    data = contextual_bandit(256)
    data.reward[3] = np.nan
    path = tmp_path / "bad.npz"
    storage.save_transitions(path, data)
    with pytest.raises(DivergenceError, match="non-finite loss at step"):
        train("td3", path, tmp_path / "agents.pt", [0], steps=50,
              config={"hidden_dim": 16, "batch_size": 256}, device=torch.device("cpu"),
              log_every=10, checkpoint_every=100)
    assert not (tmp_path / "agents.pt").exists()


def test_unknown_algorithm_is_named():
    with pytest.raises(ValueError, match="'sac'"):
        train_module.build_agent("sac", 2, 2, [0], {})


def test_a_checkpoint_from_other_settings_is_not_resumed(tmp_path):
    path = tmp_path / "bandit.npz"
    storage.save_transitions(path, contextual_bandit(256))
    common = dict(seeds=[0], steps=40, device=torch.device("cpu"), log_every=20,
                  checkpoint_every=20)
    reference = train("td3", path, tmp_path / "reference.pt",
                      config={"hidden_dim": 16, "batch_size": 32}, **common)
    # A leftover checkpoint of a wider network must be ignored, not crash or be mixed in.
    wide = TD3(2, 2, [0], TD3Config(hidden_dim=32, batch_size=32))
    torch.save({"run": {"config": "other"}, "agent": wide.state_dict(), "step": 20},
               tmp_path / "agents.pt.ckpt")
    result = train("td3", path, tmp_path / "agents.pt",
                   config={"hidden_dim": 16, "batch_size": 32}, **common)
    for key, value in reference["agent"].items():
        torch.testing.assert_close(result["agent"][key], value, rtol=0, atol=0)
