"""Behaviour distillation: exact gradients through the unrolled inner loop, and distilled
data that beats the same number of real pairs."""

from __future__ import annotations

import pytest
import torch

from berl.distill import (DistillConfig, Distiller, RealData, cloning_loss, init_policy,
                          train_on_pairs)


def test_unrolled_gradient_matches_finite_differences():
    torch.set_default_dtype(torch.float64)
    try:
        g = torch.Generator().manual_seed(0)
        config = DistillConfig(synthetic=4, layers=3, width=6, inner_steps=5, inner_lr=0.3)
        distiller = Distiller(torch.randn(4, 3, generator=g), torch.rand(4, 2, generator=g) * 2 - 1, config)
        real = RealData(torch.randn(50, 3, generator=g), torch.rand(50, 2, generator=g) * 2 - 1,
                        torch.rand(50, generator=g))
        init = init_policy(3, 2, 3, 6, g)
        index = torch.arange(50)
        distiller.outer_loss(real, init, index).backward()
        analytic = torch.cat([distiller.obs.grad.flatten(), distiller.actions.grad.flatten()])

        numeric = []
        for parameter in (distiller.obs, distiller.actions):
            for i in range(parameter.numel()):
                values = []
                for sign in (1, -1):
                    with torch.no_grad():
                        parameter.view(-1)[i] += sign * 1e-6
                    with torch.no_grad(), torch.enable_grad():
                        values.append(distiller.outer_loss(real, init, index).item())
                    with torch.no_grad():
                        parameter.view(-1)[i] -= sign * 1e-6
                numeric.append((values[0] - values[1]) / 2e-6)
        assert torch.allclose(analytic, torch.tensor(numeric), rtol=1e-5, atol=1e-8)
        assert analytic.abs().max() > 1e-3  # the check is not vacuous
    finally:
        torch.set_default_dtype(torch.float32)


def _policy_error(obs, actions, teacher_obs, teacher_actions, config, seeds=8):
    """Mean squared error to the teacher of policies trained on (obs, actions) from
    ``seeds`` fresh initialisations."""
    errors = []
    for seed in range(seeds):
        init = init_policy(obs.shape[1], actions.shape[1], config.layers, config.width,
                           torch.Generator().manual_seed(1000 + seed))
        trained = train_on_pairs(init, obs, actions, config.inner_steps, config.inner_lr,
                                 differentiable=False)
        errors.append(cloning_loss(trained, teacher_obs, teacher_actions).item())
    return sum(errors) / len(errors)


def test_av_pbc_distilled_pairs_train_a_better_policy_than_random_pairs():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    obs_dim, act_dim, size = 4, 2, 4000
    weights = torch.randn(obs_dim, act_dim, generator=g)
    obs = torch.randn(size, obs_dim, generator=g)
    expert = torch.tanh(obs @ weights)
    # Noisy behaviour data, a teacher that knows the expert, and a critic that values
    # states by how much is at stake there (|first state feature|).
    behaviour = (expert + 0.6 * torch.randn(size, act_dim, generator=g)).clamp(-1, 1)
    value = 1.0 + obs[:, 0].abs()
    config = DistillConfig(synthetic=8, layers=3, width=32, inner_steps=20, inner_lr=0.3,
                           outer_lr=0.1, minibatches=2, batch_size=256, q_scale=0.5)
    real = RealData(obs, expert, config.q_scale * value)
    start = torch.randperm(size, generator=g)[: config.synthetic]
    random_error = _policy_error(obs[start], behaviour[start], obs, expert, config)

    distiller = Distiller(obs[start], behaviour[start], config)
    losses = [distiller.step(real, g).item() for _ in range(150)]
    distilled_error = _policy_error(distiller.obs.detach(), distiller.actions.detach(), obs, expert, config)

    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])
    assert distilled_error < 0.6 * random_error, (distilled_error, random_error)


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="unknown objective 'bc'"):
        Distiller(torch.zeros(2, 3), torch.zeros(2, 1), DistillConfig(objective="bc"))


def test_teacher_labels_come_from_the_chosen_member(tmp_path):
    from berl.distill import best_member, teacher_labels
    from berl.offline.train import build_agent

    agent = build_agent("td3", 3, 2, [0, 1, 2], {"hidden_dim": 16, "batch_size": 8})
    saved = {"members": [{"task": "walker_walk", "seed": s} for s in (0, 1)] + [{"task": "walker_run", "seed": 0}],
             "evaluation": {"final_return": [10.0, 30.0, 99.0]}}
    assert best_member(saved, "walker_walk") == 1  # the best of the task's own members
    obs = torch.randn(10, 3)
    actions, values = teacher_labels(agent, 1, obs, chunk=4)
    alone = agent.act(obs.expand(3, -1, -1))[1]
    assert torch.allclose(actions, alone)
    assert torch.allclose(values, agent.critic(obs.expand(3, -1, -1), alone.expand(3, -1, -1)).amin(0)[1, :, 0])
    with pytest.raises(ValueError, match="no member for task 'quadruped_run'"):
        best_member(saved, "quadruped_run")


SMALL = DistillConfig(synthetic=16, layers=3, width=16, inner_steps=5, minibatches=2, batch_size=64)


def test_distillation_run_scores_and_resumes_to_the_same_set(walker_teacher, tmp_path, monkeypatch):
    import berl.distill as distill_module

    data, agents = walker_teacher
    kwargs = dict(config=SMALL, outer_steps=8, device=torch.device("cpu"), log_every=4,
                  checkpoint_every=3, eval_every=4, eval_seeds=2, eval_episodes=1)
    reference = distill_module.distill(data, agents, "walker_walk", out_path=tmp_path / "ref.pt", **kwargs)
    assert reference["teacher"]["task"] == "walker_walk" and reference["observation"].shape == (16, 24)
    assert [point["step"] for point in reference["curve"]] == [4, 8]
    assert len(reference["random_pairs"]) == 2 and len(reference["final"]) == 2
    assert all(r >= 0 for r in reference["final"])  # dm_control rewards are in [0, 1]
    assert reference["action"].abs().max() <= 1

    real_step, calls = Distiller.step, {"n": 0}

    def dies_at_step_7(self, real, generator):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt("killed")
        return real_step(self, real, generator)

    monkeypatch.setattr(distill_module.Distiller, "step", dies_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        distill_module.distill(data, agents, "walker_walk", out_path=tmp_path / "resumed.pt", **kwargs)
    assert (tmp_path / "resumed.pt.ckpt").exists() and not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(distill_module.Distiller, "step", real_step)
    resumed = distill_module.distill(data, agents, "walker_walk", out_path=tmp_path / "resumed.pt", **kwargs)
    torch.testing.assert_close(resumed["observation"], reference["observation"], rtol=0, atol=0)
    torch.testing.assert_close(resumed["action"], reference["action"], rtol=0, atol=0)
    assert resumed["curve"] == reference["curve"] and resumed["losses"] == reference["losses"]
    assert not (tmp_path / "resumed.pt.ckpt").exists()


def test_whole_data_bc_clones_a_deterministic_behaviour():
    from berl.distill import whole_data_bc

    g = torch.Generator().manual_seed(0)
    obs = torch.randn(2000, 3, generator=g)
    actions = torch.tanh(obs @ torch.randn(3, 2, generator=g))
    config = DistillConfig(layers=3, width=32, batch_size=128)
    params = whole_data_bc(obs, actions, config, steps=400, seed=0)
    untrained = init_policy(3, 2, 3, 32, torch.Generator().manual_seed(5))
    assert cloning_loss(params, obs, actions) < 0.05 * cloning_loss(untrained, obs, actions)


def test_baselines_report_whole_data_bc_and_the_teacher(walker_teacher):
    from berl.distill import baselines

    data, agents = walker_teacher
    result = baselines(data, agents, "walker_walk", SMALL, bc_steps=20, device=torch.device("cpu"),
                       eval_seeds=2, eval_episodes=1)
    saved = torch.load(agents, weights_only=False)
    assert result["teacher"] == max(saved["evaluation"]["final_return"])
    assert len(result["whole_data_bc"]) == 2 and result["teacher_algorithm"] == "td3"


def test_table2_gathers_every_method_once(walker_teacher, tmp_path):
    import pandas as pd

    from berl.distill import baselines, distill
    from berl.distill_report import write_table2
    from berl.io import write_json

    data, agents = walker_teacher
    folder = tmp_path / "random" / "walker_walk"
    distilled = []
    for objective in ("dbc", "av_pbc"):
        config = DistillConfig(**{**SMALL.__dict__, "objective": objective})
        distill(data, agents, "walker_walk", config, 2, folder / f"{objective}.pt", torch.device("cpu"),
                eval_seeds=2, eval_episodes=1)
        distilled.append(folder / f"{objective}.pt")
    reference = baselines(data, agents, "walker_walk", SMALL, 10, torch.device("cpu"), eval_seeds=2,
                          eval_episodes=1)
    write_json(folder / "baselines.json", reference)
    stats = write_table2(distilled, [folder / "baselines.json"], [{"name": "random", "agent": "random"}],
                         tmp_path / "table2", {"preset": "test"})
    written = pd.read_csv(tmp_path / "table2.csv", comment="#")
    assert list(written.method) == ["dbc", "random", "av_pbc", "whole_data_bc", "teacher"]
    assert list(written.seeds) == [2, 2, 2, 2, 1]
    bc = written[written.method == "whole_data_bc"]
    assert bc["mean"].item() == pytest.approx(sum(reference["whole_data_bc"]) / 2, abs=1e-3)
    assert (written.family == "random").all() and len(stats) == 5
    assert (tmp_path / "table2.pdf").stat().st_size > 0 and "Av-PBC" in (tmp_path / "table2.tex").read_text()

    from berl.distill_report import write_convergence_figure, write_size_figure

    datasets = [{"name": "random", "agent": "random"}]
    write_size_figure(distilled[1:], datasets, tmp_path / "size.pdf", {"preset": "test"})
    write_convergence_figure(distilled, tmp_path / "convergence.pdf", {"preset": "test"})
    assert (tmp_path / "size.pdf").stat().st_size > 0 and (tmp_path / "convergence.pdf").stat().st_size > 0


def test_ensembles_average_their_members_and_adam_learns_the_pairs():
    from berl.distill import PolicyMembers, adam_cloning

    g = torch.Generator().manual_seed(3)
    a, b = init_policy(3, 2, 3, 8, g), init_policy(3, 2, 3, 8, g)
    agent = PolicyMembers([[a, b]], torch.zeros(3), torch.ones(3))
    obs = torch.randn(1, 5, 3, generator=g)
    from berl.distill import policy

    assert torch.allclose(agent.act(obs)[0], (policy(a, obs[0]) + policy(b, obs[0])) / 2)
    pairs_obs, pairs_actions = torch.randn(16, 3, generator=g), torch.rand(16, 2, generator=g) * 1.6 - 0.8
    trained = adam_cloning(a, pairs_obs, pairs_actions, 300, lr=1e-2)
    assert cloning_loss(trained, pairs_obs, pairs_actions) < 0.1 * cloning_loss(a, pairs_obs, pairs_actions)


def test_generalisation_scores_every_learner(walker_teacher, tmp_path):
    from berl.distill import GENERALISATION, distill

    data, agents = walker_teacher
    result = distill(data, agents, "walker_walk", SMALL, 2, tmp_path / "set.pt", torch.device("cpu"),
                     eval_seeds=2, eval_episodes=1, generalisation=True)
    assert set(result["generalisation"]) == set(GENERALISATION)
    assert all(len(returns) == 2 for returns in result["generalisation"].values())
