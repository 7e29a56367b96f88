"""Cal-QL: CORL's recipe (the D4RL teacher) by hand, the ExORL-based variant's bound on the
policy's proposals, calibrated values on a known-answer problem, the Monte-Carlo returns
both train on, and their failure modes."""

import math

import numpy as np
import pytest
import torch
import test_offline
from test_offline import CPU, contextual_bandit, run, saved_bandits

from berl.core.nets import EnsembleLinear, MemberStreams, member_equality
from berl.datasets import storage
from berl.distill.settings import D4RLSettings
from berl.offline import registry
from berl.offline.calql import CalQL, CORLCalQL, importance_weighted_logsumexp
from berl.offline.common import repeat
from berl.offline.cql import CQL
from berl.offline.registry import load_agent
from berl.offline.settings import CalQLConfig, CORLCalQLConfig, CQLConfig

# --------------------------------------------------------------- CORL's Cal-QL (corl_calql)


def test_the_d4rl_teacher_defaults_to_corls_recipe_and_the_exorl_variant_stays_selectable():
    """``d4rl.teacher`` is CORL's Cal-QL at CORL's settings for 1M steps; ``calql`` still
    builds today's Cal-QL on ExORL's CQL."""
    settings = D4RLSettings()
    assert settings.teacher == "corl_calql" and settings.steps == 1_000_000 and settings.corl_calql == {}
    assert registry.ALGORITHMS["corl_calql"] == (CORLCalQL, CORLCalQLConfig)
    config = CORLCalQLConfig()
    assert (config.cql_alpha, config.action_samples, config.cql_temperature) == (10.0, 10, 1.0)
    assert (config.actor_lr, config.critic_lr, config.batch_size, config.tau) == (3e-5, 3e-4, 256, 5e-3)
    assert (config.hidden_dim, config.discount) == (256, 0.99)
    teacher = registry.build_agent(settings.teacher, 17, 6, [0], {})
    assert isinstance(teacher, CORLCalQL) and teacher.config == config
    exorl = registry.build_agent(D4RLSettings(teacher="calql").teacher, 17, 6, [0], {})
    assert type(exorl) is CalQL and exorl.config == CalQLConfig()


def test_corl_networks_sizes_initialisation_and_learning_rates():
    """Actor 3 x 256 ReLU to a mean and a log-std head per dimension, critics 2 x 256 ReLU
    (twice per member), orthogonal weights of gain sqrt(2) (W^T W = 2 I) and zero biases;
    Adam at 3e-5 for the actor (its log-std scale and offset included, from 1 and -1) and
    the temperature, 3e-4 for the critics."""
    agent = CORLCalQL(17, 6, [0, 1], CORLCalQLConfig())

    def layers(net):
        return [tuple(layer.weight.shape) for layer in net if isinstance(layer, EnsembleLinear)]

    assert layers(agent.actor.net) == [(2, 17, 256), (2, 256, 256), (2, 256, 256), (2, 256, 12)]
    assert layers(agent.critic.net) == [(4, 23, 256), (4, 256, 256), (4, 256, 1)]
    assert [type(m) for m in agent.actor.net].count(torch.nn.ReLU) == 3
    assert [type(m) for m in agent.critic.net].count(torch.nn.ReLU) == 2
    weight = agent.actor.net[2].weight[1].double()
    torch.testing.assert_close(weight.T @ weight, 2 * torch.eye(256, dtype=torch.float64), atol=1e-5, rtol=0)
    assert all(not layer.bias.any() for layer in agent.critic.net if isinstance(layer, EnsembleLinear))
    assert agent.actor.log_std_scale.flatten().tolist() == [1.0, 1.0]
    assert agent.actor.log_std_offset.flatten().tolist() == [-1.0, -1.0]
    learning_rates = {name: optimizer.lr for name, optimizer in agent.optimizers.items()}
    assert learning_rates == {"actor": 3e-5, "critic": 3e-4, "temperature": 3e-5}
    actor_parameters = {id(p) for p in agent.optimizers["actor"].parameters}
    assert {id(agent.actor.log_std_scale), id(agent.actor.log_std_offset)} <= actor_parameters
    q = agent.critic(torch.zeros(2, 5, 17), torch.zeros(2, 5, 6))
    assert q.shape == (2, 2, 5, 1)


def constant_actor(means, heads) -> CORLCalQL:
    """A one-member agent (2 state, 2 action dimensions) whose actor ignores the state: its
    last layer gives the pre-tanh means ``means`` and log-std heads ``heads``."""
    agent = CORLCalQL(2, 2, [0], CORLCalQLConfig(hidden_dim=8))
    with torch.no_grad():
        last = agent.actor.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([*means, *heads]).view(1, 1, 4))
    return agent


def tanh_gaussian_log_pi(mean, std, noise) -> float:
    """By hand: sum over dimensions of the Gaussian log-density of mean + std * noise minus
    log(1 - tanh^2) of it, the density of its tanh."""
    total = 0.0
    for m, s, z in zip(mean, std, noise):
        x = m + s * z
        total += -z * z / 2 - math.log(s) - math.log(2 * math.pi) / 2 - math.log(1 - math.tanh(x) ** 2)
    return total


def test_corl_log_pi_is_summed_over_dimensions_and_the_temperature_targets_minus_the_action_size():
    """Means (0, 0.5), heads 1: log sigma = 1 * 1 - 1 = 0. Noise (0, 1): actions tanh(0),
    tanh(1.5) and log pi = (-log(2 pi) / 2) + (-1/2 - log(2 pi) / 2 - log(1 - tanh(1.5)^2)),
    summed, not averaged. One update's temperature gradient is -(mean log pi - |A|) (SAC's
    target entropy -|A| on the summed log pi), from the update's own first noise draw, and
    its first Adam step moves log(temperature) by the actor's learning rate."""
    agent = constant_actor([0.0, 0.5], [1.0, 1.0])
    action, log_pi = agent.actor.sample(torch.zeros(1, 1, 2), torch.tensor([[[0.0, 1.0]]]))
    torch.testing.assert_close(action, torch.tanh(torch.tensor([[[0.0, 1.5]]])))
    assert log_pi.shape == (1, 1, 1)
    assert log_pi.item() == pytest.approx(tanh_gaussian_log_pi([0, 0.5], [1, 1], [0, 1]), abs=1e-5)
    assert agent.target_entropy == -2.0

    batch = bandit_batch_of(2, members=1)
    noise = torch.randn((8, 2), generator=torch.Generator().manual_seed(3))  # the update's first draw
    expected_log_pi = float(np.mean([tanh_gaussian_log_pi([0, 0.5], [1, 1], row.tolist()) for row in noise]))
    agent.update(batch, MemberStreams([3], CPU))
    temperature = agent.optimizers["temperature"]
    assert temperature.parameters == [agent.log_temperature]
    gradient = temperature.exp_avg[0] / (1 - 0.9)  # Adam's first moment
    torch.testing.assert_close(gradient, torch.tensor([-(expected_log_pi - 2.0)]), rtol=1e-5, atol=1e-5)
    step = agent.log_temperature.detach()
    torch.testing.assert_close(step, torch.sign(torch.tensor([expected_log_pi - 2.0])) * 3e-5, rtol=1e-3, atol=0)


def bandit_batch_of(act_dim: int, members: int, rows: int = 8, mc_return: float = 0.0) -> dict[str, torch.Tensor]:
    """A minibatch (members, rows, ·) of the contextual bandit with ``act_dim`` action
    columns and the given Monte-Carlo return on every row."""
    data = contextual_bandit(rows)
    batch = {key: torch.as_tensor(getattr(data, key))[None].expand(members, -1, -1).clone()
             for key in ("observation", "action", "reward", "discount", "next_observation")}
    batch["action"] = batch["action"][..., :1].expand(-1, -1, act_dim).clone()
    batch["mc_return"] = torch.full((members, rows, 1), mc_return)
    return batch


def test_importance_weighted_logsumexp_by_hand():
    """One member, row and sample per source, |A| = 2 (uniform density 0.5^2, log -2 log 2):
    Q1 of the uniform, pi(s) and pi(s') actions 1, 2, -1 with log pi 0.5 (pi(s)) and -1
    (pi(s')) gives log(e^(1 + 2 log 2) + e^(2 - 0.5) + e^(-1 + 1)) = log(4e + e^1.5 + 1);
    Q2's 0, 3, 0.5 gives log(4 + e^2.5 + e^1.5). At temperature 2: 2 log of the sum of
    exp(x / 2) of the same terms."""
    uniform_q = torch.tensor([1.0, 0.0]).view(2, 1, 1, 1, 1)
    policy_q = torch.tensor([[2.0, -1.0], [3.0, 0.5]]).view(2, 1, 2, 1, 1)
    log_pi = torch.tensor([0.5, -1.0]).view(1, 2, 1, 1)
    result = importance_weighted_logsumexp(uniform_q, policy_q, log_pi, act_dim=2, temperature=1.0)
    assert result.shape == (2, 1, 1, 1)
    expected = [math.log(4 * math.e + math.exp(1.5) + 1), math.log(4 + math.exp(2.5) + math.exp(1.5))]
    torch.testing.assert_close(result.flatten(), torch.tensor(expected))
    terms = [[1 + 2 * math.log(2), 1.5, 0.0], [2 * math.log(2), 2.5, 1.5]]
    at_two = importance_weighted_logsumexp(uniform_q, policy_q, log_pi, act_dim=2, temperature=2.0)
    torch.testing.assert_close(at_two.flatten(),
                               torch.tensor([2 * math.log(sum(math.exp(x / 2) for x in row)) for row in terms]))


def test_calibration_raises_only_the_policy_proposals_to_the_monte_carlo_return():
    """|A| = 1, n = 1, mc_return 0, log pi 0. Q1: data 0, uniform -2, pi(s) -3, pi(s') 0.5;
    Q2: data 1, uniform 1, pi(s) 2, pi(s') -1. The bound lifts pi(s)'s -3 (Q1) and pi(s')'s
    -1 (Q2) to 0, not the uniform -2: penalty log(2 e^-2 + e^0 + e^0.5) - 0 +
    log(2 e + e^2 + e^0) - 1, and half of the policy values were below the bound. Without
    the clamp the penalty would be lower: log(2 e^-2 + e^-3 + e^0.5) + log(2e + e^2 + e^-1) - 1."""
    agent = CORLCalQL(1, 1, [0], CORLCalQLConfig(hidden_dim=4, action_samples=1))
    q = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)
    proposal_q = torch.tensor([[-2.0, -3.0, 0.5], [1.0, 2.0, -1.0]]).view(2, 1, 3, 1, 1)
    penalty, bound_rate = agent.conservative_penalty(q, proposal_q, torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1))
    expected = (math.log(2 * math.exp(-2) + 1 + math.exp(0.5))
                + math.log(2 * math.e + math.exp(2) + 1) - 1)
    unclamped = (math.log(2 * math.exp(-2) + math.exp(-3) + math.exp(0.5))
                 + math.log(2 * math.e + math.exp(2) + math.exp(-1)) - 1)
    assert penalty.item() == pytest.approx(expected, abs=1e-5) and expected > unclamped + 0.1
    assert bound_rate.tolist() == [0.5]


def test_corl_states_are_standardised_with_the_datas_statistics_everywhere():
    """After ``fit_to_data`` the actor, the critics and the target critics all read (s -
    mean) / (population std + 1e-3) of the training states, and a saved agent keeps them."""
    agent = CORLCalQL(2, 2, [0], CORLCalQLConfig(hidden_dim=8))
    states = torch.tensor([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    agent.fit_to_data({"observation": states})
    for net in (agent.actor, agent.critic, agent.target_critic):
        standardised = net.states(states)
        torch.testing.assert_close(standardised[:, 0], torch.tensor([-2.0, 0.0, 2.0]) / (math.sqrt(8 / 3) + 1e-3))
        assert not standardised[:, 1].any()  # a constant feature: 0 / 1e-3
    rebuilt = CORLCalQL(2, 2, [0], CORLCalQLConfig(hidden_dim=8))
    rebuilt.load_state_dict(agent.state_dict())
    torch.testing.assert_close(rebuilt.target_critic.states(states), agent.critic.states(states))
    obs = torch.randn(1, 4, 2)
    torch.testing.assert_close(rebuilt.act(obs), agent.act(obs))


def test_a_corl_member_trained_in_a_batch_follows_its_trajectory_alone(tmp_path):
    """Member (task b, seed 0) of a 2-task x 3-seed job == the same agent trained alone."""
    data = saved_bandits(tmp_path, a=0.5, b=-0.3)
    config = dict(hidden_dim=32, batch_size=64, actor_lr=1e-3, critic_lr=1e-3, action_samples=3)
    with member_equality():
        run("corl_calql", data, tmp_path / "batch.pt", 3, 20, **config)
        run("corl_calql", {"b": data["b"]}, tmp_path / "alone.pt", 1, 20, **config)
    batch, _ = load_agent(tmp_path / "batch.pt", CPU)
    alone, _ = load_agent(tmp_path / "alone.pt", CPU)
    obs = torch.rand(1, 200, 2) * 2 - 1
    actions = batch.act(obs.expand(6, -1, -1))
    np.testing.assert_allclose(actions[3], alone.act(obs)[0], rtol=0, atol=1e-5)
    assert not torch.allclose(actions[0], actions[3], atol=1e-4)


@pytest.mark.slow
def test_corl_calql_learns_a_contextual_bandit_valuing_its_policy_above_the_data(tmp_path):
    """The bandit of the ExORL-based variant's test below (behaviour a*(s) + U(-0.5, 0.5),
    mean return -1/6): CORL's recipe, at learning rates fit for 600 steps, picks a good
    action (regret well under the behaviour's 1/6) and values it no lower than the data."""
    path = tmp_path / "bandit.npz"
    storage.save_transitions(path, contextual_bandit(1024, action_noise=0.5))
    run("corl_calql", {"bandit": path}, tmp_path / "agents.pt", 2, 600, hidden_dim=32, batch_size=256,
        actor_lr=1e-3, critic_lr=1e-3)
    agent, _ = load_agent(tmp_path / "agents.pt", CPU)
    obs = (torch.rand(1, 1000, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1).expand(2, -1, -1)
    with torch.no_grad():
        action = agent.act(obs)
        values = agent.critic(obs, action).amin(dim=0).mean(dim=(1, 2))
    assert (((action - 0.5 * obs) ** 2).sum(-1).mean(-1) < 0.03).all()
    assert (values > -1 / 6).all(), values


def test_a_killed_corl_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    test_offline.test_a_killed_training_run_resumes_to_the_same_result(tmp_path, monkeypatch, "corl_calql")


# --------------------------------------------------------- ExORL-based Cal-QL (calql)


def hand_built_penalty_inputs(n=2, rows=4, members=2):
    """A batch of ``members`` x ``rows`` states, data actions and 3n proposals per row (n
    uniform, n from pi(s), n from pi(s'), sample j of row b at j * rows + b), all drawn at
    random; the Monte-Carlo returns are filled in by the test."""
    generator = torch.Generator().manual_seed(5)
    batch = {"observation": torch.rand(members, rows, 2, generator=generator) * 2 - 1,
             "action": torch.rand(members, rows, 2, generator=generator) * 2 - 1}
    proposals = torch.rand(members, 3 * n * rows, 2, generator=generator) * 2 - 1
    return batch, proposals


def penalty_by_hand(critic, batch, proposals, n, bounded):
    """The penalty of every member (and the fraction of policy values below the bound),
    one critic, member and row at a time: logsumexp over the row's 3n proposal values and
    its data value, minus the data value, with max(Q, mc_return) on the 2n policy
    proposals when ``bounded``; averaged over rows, summed over the two critics."""
    obs, action = batch["observation"], batch["action"]
    members, rows = action.shape[:2]
    penalty, below = torch.zeros(members, dtype=torch.float64), torch.zeros(members)
    with torch.no_grad():
        for k in range(members):
            for b in range(rows):
                mc = float(batch["mc_return"][k, b, 0])
                for i in range(2):  # Q1, Q2
                    def value(a, i=i, k=k, b=b):
                        member_obs = obs[:, b:b + 1].clone()
                        member_action = a.expand(obs.shape[0], 1, 2).clone()
                        return float(critic(member_obs, member_action)[i, k, 0, 0])

                    values = []
                    for j in range(3 * n):
                        q = value(proposals[k, j * rows + b])
                        if j >= n:  # from pi(s) or pi(s'): bounded
                            below[k] += q < mc
                            q = max(q, mc) if bounded else q
                        values.append(q)
                    data_q = value(action[k, b])
                    values.append(data_q)
                    penalty[k] += (torch.tensor(values, dtype=torch.float64).logsumexp(0) - data_q) / rows
    return penalty, below / (2 * 2 * n * rows)  # critics x policy proposals x rows


def test_the_bound_lifts_only_the_policy_proposals():
    """With mc_return set between the policy proposals' values (some below, some above),
    Cal-QL's penalty is the hand-computed one with max(Q, mc_return) on the 2n policy
    proposals and the uniform proposals and data action left as they are; switched off,
    or as CQL, it is the unbounded one. Both report the fraction bounded."""
    n = 2
    config = {"hidden_dim": 16, "action_samples": n}
    calql = CalQL(2, 2, [3, 4], CalQLConfig(**config))
    unbounded = CalQL(2, 2, [3, 4], CalQLConfig(bound=False, **config))
    cql = CQL(2, 2, [3, 4], CQLConfig(**config))
    batch, proposals = hand_built_penalty_inputs(n)
    rows = batch["action"].shape[1]
    with torch.no_grad():
        proposal_q = calql.critic(repeat(batch["observation"], 3 * n), proposals).unflatten(2, (3 * n, rows))
        every_q = torch.cat([proposal_q, calql.critic(batch["observation"], batch["action"]).unsqueeze(2)], 2)
    # Each row's bound: the mean of its policy proposals' Q1 values, so that some of them
    # are lifted, and the uniform and data values straddle it too.
    batch["mc_return"] = proposal_q[0, :, n:].mean(dim=1)
    bound = batch["mc_return"][None, :, None]
    assert (proposal_q[:, :, n:] < bound).any() and (proposal_q[:, :, n:] > bound).any()
    assert (every_q[:, :, :n] < bound).any() and (every_q[:, :, -1:] < bound).any()

    q = calql.critic(batch["observation"], batch["action"])
    penalty, metrics = calql.conservative_penalty(batch, proposal_q, q)
    expected, below = penalty_by_hand(calql.critic, batch, proposals, n, bounded=True)
    torch.testing.assert_close(penalty.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics["bound_rate"], below)
    assert ((below > 0.2) & (below < 0.8)).all(), below

    plain, _ = penalty_by_hand(calql.critic, batch, proposals, n, bounded=False)
    assert (expected - plain > 1e-3).all()  # the bound raises the logsumexp
    off_penalty, off_metrics = unbounded.conservative_penalty(batch, proposal_q, q)
    torch.testing.assert_close(off_penalty.double(), plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(off_metrics["bound_rate"], below)
    cql_penalty, cql_metrics = cql.conservative_penalty(batch, proposal_q, q)
    assert torch.equal(cql_penalty, off_penalty) and cql_metrics == {}


def test_without_the_bound_calql_updates_are_cqls_bit_for_bit():
    """Same seeds and batches: Cal-QL with ``bound=False`` trains exactly as CQL (the hook
    changes nothing else), while the bound, active on this batch, changes the critics."""
    data = contextual_bandit(64)
    batch = {key: torch.as_tensor(value)[None].expand(2, -1, -1).clone()
             for key, value in data.arrays().items() if key != "episode_end"}
    batch["mc_return"] = batch["reward"].clone()
    agents = {name: cls(2, 2, [0, 1], config(hidden_dim=16))
              for name, cls, config in [("cql", CQL, CQLConfig), ("calql", CalQL, CalQLConfig)]}
    agents["off"] = CalQL(2, 2, [0, 1], CalQLConfig(hidden_dim=16, bound=False))
    metrics = {}
    for name, agent in agents.items():
        streams = MemberStreams([7, 8], CPU)
        for _ in range(20):
            metrics[name] = agent.update(batch, streams)
    states = {name: agent.state_dict() for name, agent in agents.items()}
    for key, value in states["cql"].items():
        assert torch.equal(states["off"][key], value), key
    assert not torch.equal(states["calql"]["critic.net.0.weight"], states["cql"]["critic.net.0.weight"])
    assert metrics["calql"]["bound_rate"].shape == (2,) and (metrics["calql"]["bound_rate"] > 0).all()
    assert "bound_rate" not in metrics["cql"]


@pytest.mark.slow
def test_calql_values_its_policy_no_lower_than_the_data_where_cql_falls_below(tmp_path):
    """A contextual bandit whose behaviour policy is decent: a*(s) + U(-0.5, 0.5), mean
    return -2 * 0.5^2 / 3 = -1/6 (each transition is its own episode, so the Monte-Carlo
    returns are the rewards, known exactly). With a strong penalty (alpha 5), CQL's value
    of its own policy, Q(s, pi(s)), sinks well below the data's returns though the policy
    is better than the data; Cal-QL's stays at or above them, and its policy still picks
    a good action (its regret well under the behaviour's 1/6)."""
    path = tmp_path / "bandit.npz"
    storage.save_transitions(path, contextual_bandit(1024, action_noise=0.5))
    data_return = float(storage.returns_to_go(storage.load_transitions(path), 0.99, path).mean())
    assert abs(data_return + 1 / 6) < 0.01
    obs = (torch.rand(1, 1000, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1).expand(4, -1, -1)
    values, regrets = {}, {}
    for algorithm in ("cql", "calql"):
        run(algorithm, {"bandit": path}, tmp_path / f"{algorithm}.pt", 4, 800,
            hidden_dim=32, batch_size=256, lr=2e-3, cql_alpha=5.0)
        agent, _ = load_agent(tmp_path / f"{algorithm}.pt", CPU)
        with torch.no_grad():
            action = agent.act(obs)
            values[algorithm] = agent.critic(obs, action).amin(dim=0).mean(dim=(1, 2))  # per member
        regrets[algorithm] = ((action - 0.5 * obs) ** 2).sum(-1).mean(-1)
    assert values["cql"].mean() < data_return - 0.1, values
    assert (values["calql"] > data_return - 0.05).all(), values
    assert regrets["calql"].mean() < 0.06 and (regrets["calql"] < 0.1).all(), regrets

def two_episodes(rewards: dict[str, list[float]]) -> dict[str, storage.Transitions]:
    """Per task, a file of two episodes: rows 0-1 cut by the time limit (discount 1 at its
    end) and rows 2-4 terminated (discount 0 at its end). Row i's observation is (i, 0), its
    next state (i + 1, 0), row i + 1's observation."""
    obs = np.stack([np.arange(5), np.zeros(5)], axis=1).astype(np.float32)
    discount = np.array([[1], [1], [1], [1], [0]], np.float32)
    episode_end = np.array([False, True, False, False, True])
    return {task: storage.Transitions(obs, np.zeros((5, 2), np.float32), np.array(r, np.float32)[:, None],
                                      discount, obs + [1, 0], episode_end=episode_end)
            for task, r in rewards.items()}


def test_returns_to_go_restart_at_episode_ends_and_stop_at_terminations(tmp_path):
    """By hand, discount 0.5: the cut episode (r 1, 2) gives 2 and 1 + 0.5 * 2 = 2, its
    return not reaching into the next episode; the terminated one (r 3, 4, 5) gives 5,
    4 + 0.5 * 5 = 6.5, 3 + 0.5 * 6.5 = 6.25. The episode ends survive a save and load."""
    path = tmp_path / "toy.npz"
    storage.save_transitions(path, two_episodes({"toy": [1, 2, 3, 4, 5]})["toy"])
    returns = storage.returns_to_go(storage.load_transitions(path), 0.5, path)
    assert returns.shape == (5, 1) and returns.dtype == np.float32
    np.testing.assert_array_equal(returns[:, 0], [2, 2, 6.25, 6.5, 5])


def test_returns_to_go_also_split_where_the_next_state_jumps():
    """CORL's rule, by hand, discount 0.5: rewards 1, 2, 3, 4 in one marked episode (only the
    last row an episode end, no termination) whose row 2 does not start where row 1 ended
    (next_obs[1] = (9, 9), obs[2] = (2, 0)) split there: rows 2-3 give 3 + 0.5 * 4 = 5 and
    4, rows 0-1 give 1 + 0.5 * 2 = 2 and 2. A gap within the tolerance (1e-7) is one
    episode: 1 + 0.5 * (2 + 0.5 * 5) = 3.25, 4.5, 5, 4."""
    obs = np.stack([np.arange(4), np.zeros(4)], axis=1).astype(np.float32)
    next_obs = obs + np.array([1, 0], np.float32)
    next_obs[1] = [9, 9]
    data = storage.Transitions(obs, np.zeros((4, 1), np.float32), np.array([[1], [2], [3], [4]], np.float32),
                               np.ones((4, 1), np.float32), next_obs, episode_end=np.array([0, 0, 0, 1], bool))
    np.testing.assert_array_equal(storage.returns_to_go(data, 0.5)[:, 0], [2, 2, 5, 4])
    data.next_observation[1] = [2, 1e-7]
    np.testing.assert_array_equal(storage.returns_to_go(data, 0.5)[:, 0], [3.25, 4.5, 5, 4])


def test_each_member_trains_on_its_own_tasks_monte_carlo_returns(tmp_path, monkeypatch):
    """Two tasks of one dataset, different rewards: the minibatch of member (task, seed)
    holds its own task's returns to go at its own rows, computed with the agent's discount."""
    tasks = {"a": [1, 2, 3, 4, 5], "b": [-1, 0, 2, 0, -3]}
    paths = {}
    for task, part in two_episodes(tasks).items():
        paths[task] = tmp_path / f"{task}.npz"
        storage.save_transitions(paths[task], part)
    batches = []
    real_update = CalQL.update
    monkeypatch.setattr(CalQL, "update", lambda self, batch, streams: batches.append(batch)
                        or real_update(self, batch, streams))
    run("calql", paths, tmp_path / "agents.pt", 2, 3, hidden_dim=8, batch_size=16, discount=0.5)
    member_tasks = ["a", "a", "b", "b"]
    for batch in batches:
        rows = batch["observation"][..., 0].long()  # (K, B): each member's transitions
        for k, task in enumerate(member_tasks):
            expected = storage.returns_to_go(two_episodes(tasks)[task], 0.5)[rows[k].numpy()]
            np.testing.assert_array_equal(batch["mc_return"][k].numpy(), expected)
    assert len(batches) == 3


def test_training_without_episode_ends_names_the_file(tmp_path):
    """Monte-Carlo returns need the episode boundaries: a file without them stops Cal-QL
    before any step, naming the file, while the other algorithms train on it."""
    data = contextual_bandit(256)
    data.episode_end = None
    path = tmp_path / "no_ends.npz"
    storage.save_transitions(path, data)
    with pytest.raises(storage.InputError, match="no_ends.npz: no episode_end"):
        run("calql", {"bandit": path}, tmp_path / "calql.pt", 1, 5, hidden_dim=8, batch_size=16)
    assert not (tmp_path / "calql.pt").exists()
    run("cql", {"bandit": path}, tmp_path / "cql.pt", 1, 5, hidden_dim=8, batch_size=16)
    assert (tmp_path / "cql.pt").exists()
