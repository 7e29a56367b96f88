"""Offline TD3, CQL, CRR and Cal-QL: batching, learning, resuming and failure modes."""

import math

import numpy as np
import pytest
import torch

from berl.core.validate import InputError
from berl.core.log import DivergenceError
from berl.core.nets import EnsembleLinear, FusedAdam, MemberStreams, member_equality
from berl.datasets import storage
from berl.offline import cql, registry
from berl.offline.common import smoothed
from berl.offline.cql import CQL
from berl.offline.registry import load_agent
from berl.offline.settings import CQLConfig, EvaluateSettings, TD3Config, TrainSettings
from berl.offline.td3 import TD3
from berl.offline.train import train

ALGORITHMS = ["td3", "cql", "crr", "calql"]
CPU = torch.device("cpu")


def contextual_bandit(n=4096, seed=0, target_scale=0.5, action_noise=None) -> storage.Transitions:
    """One-step problem: reward -|a - a*(s)|^2 with a*(s) = target_scale * s, every step
    terminal (each transition its own episode), actions uniform (or, given ``action_noise``
    w, a*(s) + U(-w, w) kept in [-1, 1]). The best return is 0; the zero action scores
    -scale^2 * 2/3."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    if action_noise is None:
        action = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    else:
        noise = rng.uniform(-action_noise, action_noise, (n, 2))
        action = np.clip(target_scale * obs + noise, -1, 1).astype(np.float32)
    reward = -((action - target_scale * obs) ** 2).sum(1, keepdims=True).astype(np.float32)
    return storage.Transitions(obs, action, reward, np.zeros((n, 1), np.float32), obs.copy(),
                               episode_end=np.ones(n, bool))


def saved_bandits(tmp_path, **tasks) -> dict:
    """Relabelled files of one state-action set, one reward per task (target scales)."""
    paths = {}
    for task, scale in tasks.items():
        paths[task] = tmp_path / f"{task}.npz"
        storage.save_transitions(paths[task], contextual_bandit(1024, target_scale=scale))
    return paths


NO_EVALUATION = EvaluateSettings(episodes=0)


def run(algorithm, data, out, seeds, steps, *, hidden_dim, batch_size, **switches):
    """``seeds`` agents per task of ``algorithm``, its config's ``switches`` set."""
    settings = TrainSettings(steps=steps, seeds=seeds, hidden_dim=hidden_dim, batch_size=batch_size,
                             log_every=steps, checkpoint_every=10**9, eval_every=steps, **{algorithm: switches})
    return train(algorithm, data, out, settings, NO_EVALUATION, CPU)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_member_trained_in_a_batch_follows_its_trajectory_alone(tmp_path, algorithm):
    """Member (task b, seed 0) of a 2-task x 3-seed job == the same agent trained alone,
    including its own minibatch indices and noise."""
    data = saved_bandits(tmp_path, a=0.5, b=-0.3)
    config = dict(hidden_dim=32, batch_size=64, lr=1e-3)
    with member_equality():
        run(algorithm, data, tmp_path / "batch.pt", 3, 30, **config)
        run(algorithm, {"b": data["b"]}, tmp_path / "alone.pt", 1, 30, **config)
    batch, _ = load_agent(tmp_path / "batch.pt", CPU)
    alone, _ = load_agent(tmp_path / "alone.pt", CPU)
    obs = torch.rand(1, 200, 2) * 2 - 1
    actions = batch.act(obs.expand(6, -1, -1))
    np.testing.assert_allclose(actions[3], alone.act(obs)[0], rtol=0, atol=1e-5)
    # Same seed, other task: same start, different data, so a different policy by now.
    assert not torch.allclose(actions[0], actions[3], atol=1e-3)


def test_a_one_member_layer_matches_a_batched_member_exactly_only_under_member_equality():
    """The plain kernel computes the same function (to float32 rounding); the paired one is
    bit for bit the batched member's, for a single row or column (matrix-vector) as for a
    batch (a critic's output layer, of one column, is where the two kernels' rounding differs)."""
    torch.manual_seed(0)
    batched = EnsembleLinear(3, 40, 1)
    torch.nn.init.normal_(batched.weight)
    torch.nn.init.normal_(batched.bias)
    alone = EnsembleLinear(1, 40, 1)
    alone.load_state_dict({key: value[1:2] for key, value in batched.state_dict().items()})
    for rows in (1, 57):
        x = torch.randn(3, rows, 40)
        with torch.no_grad():
            member = batched(x)[1]
            plain = alone(x[1:2])[0]
            with member_equality():
                paired = alone(x[1:2])[0]
        assert torch.equal(paired, member)
        torch.testing.assert_close(plain, member, rtol=1e-5, atol=1e-5)


def _tensors_with_gradients(seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(shape, generator=generator).requires_grad_(True)
               for shape in ((2, 30, 16), (2, 1, 16), (1,), (3, 7))]
    for tensor in tensors:
        tensor.grad = torch.randn(tensor.shape, generator=generator)
    return tensors


def test_fused_adams_first_step_moves_each_weight_by_lr_against_its_gradients_sign():
    """Adam's first step, by hand: m = (1 - b1) g and v = (1 - b2) g^2, bias-corrected to g and
    g^2, so w <- w - lr * g / (|g| + eps)."""
    tensors = _tensors_with_gradients(0)
    start = [t.detach().clone() for t in tensors]
    FusedAdam(tensors, lr=0.01).step()
    for before, after in zip(start, tensors):
        expected = before - 0.01 * after.grad / (after.grad.abs() + 1e-8)
        torch.testing.assert_close(after.detach(), expected, rtol=1e-6, atol=1e-7)


def test_fused_adam_follows_torchs_fused_adam_bit_for_bit_and_resumes_from_its_state():
    ours, theirs, resumed = (_tensors_with_gradients(1) for _ in range(3))
    ours_optimizer, theirs_optimizer = FusedAdam(ours, lr=1e-3), torch.optim.Adam(theirs, lr=1e-3, fused=True)
    resumed_optimizer = FusedAdam(resumed, lr=1e-3)
    for step in range(6):
        if step == 3:  # the third optimiser takes over the first one's state from here
            resumed_optimizer.load_state_dict(ours_optimizer.state_dict())
            with torch.no_grad():
                for mine, source in zip(resumed, ours):
                    mine.copy_(source)
        for group in (ours, theirs, resumed):  # the same gradients for all three
            generator = torch.Generator().manual_seed(10 + step)
            for tensor in group:
                tensor.grad = torch.randn(tensor.shape, generator=generator)
        for optimizer in (ours_optimizer, theirs_optimizer, resumed_optimizer):
            optimizer.step()
    for mine, torchs, again in zip(ours, theirs, resumed):
        assert torch.equal(mine, torchs)
        assert torch.equal(mine, again)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm, steps, tolerance", [
    ("td3", 1500, 0.02), ("cql", 1500, 0.02), ("crr", 1500, 0.03),
])
def test_each_algorithm_learns_the_best_action_of_a_contextual_bandit(
    tmp_path, algorithm, steps, tolerance
):
    data = saved_bandits(tmp_path, bandit=0.5)
    run(algorithm, data, tmp_path / "agents.pt", 2, steps,
        hidden_dim=64, batch_size=256, lr=1e-3)
    agent, _ = load_agent(tmp_path / "agents.pt", CPU)
    obs = torch.rand(2, 500, 2) * 2 - 1
    regret = ((agent.act(obs) - 0.5 * obs) ** 2).sum(-1).mean(-1)  # best return minus return
    # The zero action's regret is 1/6 and a uniform action's 5/6.
    assert (regret < tolerance).all(), regret


@pytest.mark.parametrize("algorithm", ["td3", "cql", "calql"])
def test_a_killed_training_run_resumes_to_the_same_result(tmp_path, monkeypatch, algorithm):
    data = saved_bandits(tmp_path, a=0.5, b=0.2)
    kwargs = dict(settings=TrainSettings(steps=60, seeds=2, hidden_dim=32, batch_size=32, log_every=20,
                                         checkpoint_every=20, eval_every=60), evaluation=NO_EVALUATION, device=CPU)
    reference = train(algorithm, data, tmp_path / "reference.pt", **kwargs)

    agent_class = registry.ALGORITHMS[algorithm][0]
    real_update = agent_class.update
    calls = {"n": 0}

    def dies_at_step_50(self, batch, streams):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt("killed")
        return real_update(self, batch, streams)

    monkeypatch.setattr(agent_class, "update", dies_at_step_50)
    with pytest.raises(KeyboardInterrupt):
        train(algorithm, data, tmp_path / "resumed.pt", **kwargs)
    assert (tmp_path / "resumed.pt.ckpt").exists() and not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(agent_class, "update", real_update)
    resumed = train(algorithm, data, tmp_path / "resumed.pt", **kwargs)

    for key, value in reference["agent"].items():
        torch.testing.assert_close(resumed["agent"][key], value, rtol=0, atol=0)
    assert not (tmp_path / "resumed.pt.ckpt").exists()


def test_non_finite_losses_stop_training_with_a_diagnostic(tmp_path):
    data = contextual_bandit(256)
    data.reward[3] = 3e38  # finite (the data check lets it through), but its squared TD error is not
    path = tmp_path / "bad.npz"
    storage.save_transitions(path, data)
    with pytest.raises(DivergenceError, match="non-finite loss at step"):
        train("td3", {"bandit": path}, tmp_path / "agents.pt",
              TrainSettings(steps=50, seeds=1, hidden_dim=16, batch_size=256, log_every=10, checkpoint_every=100,
                            eval_every=50), NO_EVALUATION, CPU)
    assert not (tmp_path / "agents.pt").exists()


def test_unknown_algorithm_is_named():
    with pytest.raises(InputError, match="'sac'"):
        registry.build_agent("sac", 2, 2, [0], {})


def test_task_files_of_different_datasets_are_refused(tmp_path):
    paths = saved_bandits(tmp_path, a=0.5)
    storage.save_transitions(tmp_path / "other.npz", contextual_bandit(1024, seed=7))
    with pytest.raises(storage.InputError, match="other.npz"):
        run("td3", {"a": paths["a"], "b": tmp_path / "other.npz"}, tmp_path / "x.pt", 1, 5, hidden_dim=1024,
            batch_size=1024)


def test_a_checkpoint_from_other_settings_is_not_resumed(tmp_path):
    data = saved_bandits(tmp_path, bandit=0.5)
    common = dict(settings=TrainSettings(steps=40, seeds=1, hidden_dim=16, batch_size=32, log_every=20,
                                         checkpoint_every=20, eval_every=40), evaluation=NO_EVALUATION, device=CPU)
    reference = train("td3", data, tmp_path / "reference.pt", **common)
    # A leftover checkpoint of a wider network must be ignored, not crash or be mixed in.
    wide = registry.build_agent("td3", 2, 2, [0], {"hidden_dim": 32, "batch_size": 32})
    torch.save({"run": {"config": "other"}, "agent": wide.state_dict(), "step": 20},
               tmp_path / "agents.pt.ckpt")
    result = train("td3", data, tmp_path / "agents.pt", **common)
    for key, value in reference["agent"].items():
        torch.testing.assert_close(result["agent"][key], value, rtol=0, atol=0)


def test_smoothed_clips_noise_and_box_but_passes_the_gradient():
    """Hand-computed: 0.95 + clip(0.2 * 2, ±0.3) = 1.25 -> 1 in the box; 0.1 - 0.2 * 0.5 = 0;
    the clamp is straight-through, so d(sample)/d(action) stays 1 (URLB's truncated normal)."""
    action = torch.tensor([0.95, 0.1], requires_grad=True)
    sample = smoothed(action, torch.tensor([2.0, -0.5]), std=0.2, clip=0.3)
    torch.testing.assert_close(sample.detach(), torch.tensor([1.0, 0.0]))
    sample.sum().backward()
    torch.testing.assert_close(action.grad, torch.ones(2))


def bandit_batch(n=8) -> dict[str, torch.Tensor]:
    """A one-member minibatch (1, n, ·) of the contextual bandit."""
    data = contextual_bandit(n)
    return {k: torch.as_tensor(getattr(data, k))[None]
            for k in ("observation", "action", "reward", "discount", "next_observation")}


@pytest.mark.parametrize("noisy", [True, False])
def test_td3_actor_loss_evaluates_exorls_clipped_noisy_sample(monkeypatch, noisy):
    """ExORL's actor loss takes min Q at pi(s) + clip(0.2 * eps, ±0.3), kept in [-1, 1], with
    eps the stream's draw after the critic's target noise; the switch gives pi(s)."""
    from berl.offline import td3 as td3_module

    agent = TD3(2, 2, [7], TD3Config(hidden_dim=16, noisy_actor_loss=noisy))
    batch = bandit_batch()
    seen = []
    real = td3_module.frozen_critic_value
    monkeypatch.setattr(td3_module, "frozen_critic_value",
                        lambda critic, obs, action: seen.append(action.detach()) or real(critic, obs, action))
    with torch.no_grad():
        mean = agent.actor(batch["observation"])
    agent.update(batch, MemberStreams([3], CPU))
    generator = torch.Generator().manual_seed(3)
    torch.randn((8, 2), generator=generator)  # the critic's target-smoothing noise
    eps = torch.randn((8, 2), generator=generator)[None]
    expected = (mean + (0.2 * eps).clamp(-0.3, 0.3)).clamp(-1, 1) if noisy else mean
    torch.testing.assert_close(seen[0], expected)


@pytest.mark.parametrize("per_dimension", [True, False])
def test_cql_entropy_terms_are_per_action_dimension(monkeypatch, per_dimension):
    """With the actor's head zeroed, mu = 0 and sigma = 1, so an action a = tanh(eps) has
    log-density sum_d [-eps_d^2 / 2 - log(2 pi) / 2 - log(1 - a_d^2)]; ExORL's CQL uses it
    divided by |A| (the mean of the per-dimension log-densities)."""
    agent = CQL(2, 3, [0], CQLConfig(hidden_dim=16, log_prob_per_dimension=per_dimension))
    with torch.no_grad():
        for param in agent.actor.net[-1].parameters():
            param.zero_()
    samples = []
    real = cql.tanh_gaussian_sample
    monkeypatch.setattr(cql, "tanh_gaussian_sample",
                        lambda *args: samples.append(real(*args)) or samples[-1])
    batch = bandit_batch()
    batch["action"] = torch.cat([batch["action"], batch["action"][..., :1]], dim=-1)  # |A| = 3
    metrics = agent.update(batch, MemberStreams([1], CPU))
    action = samples[-1][0].detach().double()  # the actor's own sample, last drawn
    eps = torch.atanh(action)
    log_density = (-eps.pow(2) / 2 - 0.5 * math.log(2 * math.pi) - torch.log1p(-action.pow(2))).sum(-1)
    expected = -log_density.mean() / (3 if per_dimension else 1)
    torch.testing.assert_close(metrics["entropy"].double(), expected.reshape(1), rtol=1e-4, atol=1e-4)
