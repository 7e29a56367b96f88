"""Cal-QL: the bound on the policy's proposals, calibrated values on a known-answer
problem, the Monte-Carlo returns it trains on, and its failure modes."""

import numpy as np
import pytest
import torch
from test_offline import CPU, contextual_bandit, run

from berl.core.nets import MemberStreams
from berl.datasets import storage
from berl.offline.calql import CalQL, CalQLConfig
from berl.offline.common import repeat
from berl.offline.cql import CQL, CQLConfig
from berl.offline.registry import load_agent


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
    penalty, metrics = calql.conservative_penalty(batch, proposals, q)
    expected, below = penalty_by_hand(calql.critic, batch, proposals, n, bounded=True)
    torch.testing.assert_close(penalty.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics["bound_rate"], below)
    assert ((below > 0.2) & (below < 0.8)).all(), below

    plain, _ = penalty_by_hand(calql.critic, batch, proposals, n, bounded=False)
    assert (expected - plain > 1e-3).all()  # the bound raises the logsumexp
    off_penalty, off_metrics = unbounded.conservative_penalty(batch, proposals, q)
    torch.testing.assert_close(off_penalty.double(), plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(off_metrics["bound_rate"], below)
    cql_penalty, cql_metrics = cql.conservative_penalty(batch, proposals, q)
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
        run(algorithm, {"bandit": path}, tmp_path / f"{algorithm}.pt", [0, 1, 2, 3], 800,
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
    end) and rows 2-4 terminated (discount 0 at its end). Row i's observation is (i, 0)."""
    obs = np.stack([np.arange(5), np.zeros(5)], axis=1).astype(np.float32)
    discount = np.array([[1], [1], [1], [1], [0]], np.float32)
    episode_end = np.array([False, True, False, False, True])
    return {task: storage.Transitions(obs, np.zeros((5, 2), np.float32), np.array(r, np.float32)[:, None],
                                      discount, obs + 1, episode_end=episode_end)
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
    run("calql", paths, tmp_path / "agents.pt", [0, 1], 3, hidden_dim=8, batch_size=16, discount=0.5)
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
        run("calql", {"bandit": path}, tmp_path / "calql.pt", [0], 5, hidden_dim=8, batch_size=16)
    assert not (tmp_path / "calql.pt").exists()
    run("cql", {"bandit": path}, tmp_path / "cql.pt", [0], 5, hidden_dim=8, batch_size=16)
    assert (tmp_path / "cql.pt").exists()
