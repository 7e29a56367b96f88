"""The explorers' critic: URLB's DDPG critic, whose Q1 and Q2 heads share one trunk."""

import numpy as np
import pytest
import torch
from torch import nn

from berl.core.nets import EnsembleLayerNorm, EnsembleLinear
from berl.explore.agents import make_agent
from berl.offline.common import SharedTrunkTwinCritic, TwinCritic

OBS, ACT, HIDDEN = 5, 3, 16


def test_the_critic_is_one_trunk_and_two_heads_of_urlbs_shapes():
    critic = SharedTrunkTwinCritic(OBS, ACT, HIDDEN, member_seeds=[0, 1])
    assert [type(layer) for layer in critic.trunk] == [EnsembleLinear, EnsembleLayerNorm, nn.Tanh]
    assert critic.trunk[0].weight.shape == (2, OBS + ACT, HIDDEN)
    for head in (critic.q1, critic.q2):
        assert [type(layer) for layer in head] == [EnsembleLinear, nn.ReLU, EnsembleLinear]
        assert (head[0].weight.shape, head[2].weight.shape) == ((2, HIDDEN, HIDDEN), (2, HIDDEN, 1))
    # Per member: trunk 8 * 16 + 16 and LayerNorm 2 * 16; each head 16 * 16 + 16 + 16 * 1 + 1.
    per_member = (8 * 16 + 16) + 2 * 16 + 2 * (16 * 16 + 16 + 16 + 1)
    assert per_member == 754
    assert sum(p.numel() for p in critic.parameters()) == 2 * per_member
    # ExORL's separate nets have a trunk each: one trunk and LayerNorm more.
    assert sum(p.numel() for p in TwinCritic(OBS, ACT, HIDDEN, [0, 1]).parameters()) == 2 * (754 + 8 * 16 + 16 + 32)
    values = critic(torch.randn(2, 7, OBS), torch.randn(2, 7, ACT))
    assert values.shape == (2, 2, 7, 1)  # (twin, member, batch, 1), as TwinCritic's


def test_q1_and_q2_share_the_trunk_and_have_heads_of_their_own():
    critic = SharedTrunkTwinCritic(OBS, ACT, HIDDEN, member_seeds=[0])
    obs, action = torch.randn(1, 32, OBS), torch.randn(1, 32, ACT)
    critic(obs, action)[0].sum().backward()  # Q1 alone
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.trunk.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.q1.parameters())
    assert all(p.grad is None or not p.grad.any() for p in critic.q2.parameters())
    assert not torch.equal(critic.q1[0].weight, critic.q2[0].weight)
    q1, q2 = critic(obs, action).detach()
    assert not torch.allclose(q1, q2)


def test_the_critics_members_are_independent_and_initialised_from_their_own_seed():
    critic = SharedTrunkTwinCritic(OBS, ACT, HIDDEN, member_seeds=[3, 7])
    alone = SharedTrunkTwinCritic(OBS, ACT, HIDDEN, member_seeds=[7])
    for (name, pair), single in zip(critic.state_dict().items(), alone.state_dict().values()):
        torch.testing.assert_close(pair[1], single[0], rtol=0, atol=0, msg=name)
    # URLB's orthogonal initialisation, zero biases.
    weight = critic.trunk[0].weight[0]
    torch.testing.assert_close(weight @ weight.T, torch.eye(OBS + ACT), atol=1e-5, rtol=0)
    assert not critic.q1[2].bias.any()

    obs, action = torch.randn(2, 32, OBS), torch.randn(2, 32, ACT)
    with torch.no_grad():
        before = critic(obs, action)
        for parameter in critic.parameters():
            parameter[0] += 0.1 * torch.randn_like(parameter[0])
        after = critic(obs, action)
    assert torch.equal(after[:, 1], before[:, 1])
    assert not torch.allclose(after[:, 0], before[:, 0])


SETTINGS = {"hidden_dim": 16, "batch_size": 8, "seed_frames": 10, "update_every": 1, "rep_dim": 8}


def _explorer(**settings):
    return make_agent([{"agent": "rnd"}, {"agent": "rnd"}], 4, 2, [0, 1], settings=SETTINGS | settings,
                      capacity=40, episode_length=10)


@pytest.mark.parametrize("critic, kind", [("shared_trunk", SharedTrunkTwinCritic), ("separate", TwinCritic)])
def test_the_explorers_critic_is_a_switch_and_its_checkpoint_round_trips(critic, kind):
    agent = _explorer(critic=critic)
    assert type(agent.learner.critic) is kind and type(agent.learner.target_critic) is kind
    rng = np.random.default_rng(0)
    for step in range(1, 31):  # learning from step 10 on
        observation = rng.normal(size=(2, 4)).astype(np.float32)
        agent.observe(observation, agent.act(observation), observation + 0.1, step % 10 == 0)
    resumed = _explorer(critic=critic)
    resumed.load_state_dict(agent.state_dict())
    probe = torch.randn(2, 16, 4), torch.rand(2, 16, 2) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(resumed.learner.critic(*probe), agent.learner.critic(*probe), rtol=0, atol=0)
        torch.testing.assert_close(resumed.learner.target_critic(*probe), agent.learner.target_critic(*probe),
                                   rtol=0, atol=0)
    assert resumed.replay.batches_drawn == agent.replay.batches_drawn == 21
    assert not torch.equal(_explorer(critic=critic).learner.critic(*probe), agent.learner.critic(*probe))
