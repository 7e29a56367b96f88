import numpy as np
import pytest
import torch

from berl.datasets import envs
from berl.offline.evaluate import EVAL_SEED_OFFSET, rollout_returns


class ConstantPolicies(torch.nn.Module):
    """K fixed policies: member m always outputs action value m / K."""

    def __init__(self, members: int, action_dim: int):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.arange(members, dtype=torch.float32) / members)
        self.action_dim = action_dim

    def act(self, obs):
        return self.scale[:, None, None].expand(obs.shape[0], obs.shape[1], self.action_dim)


def test_lockstep_rollouts_match_one_episode_at_a_time():
    returns = rollout_returns(ConstantPolicies(2, 6), ["walker_walk", "walker_walk"], episodes=2)
    assert returns.shape == (2, 2)
    for member in range(2):
        assert returns[member].tolist() == fresh_returns("walker_walk", member / 2, episodes=2)
    assert returns[0, 0] != returns[1, 0]


def test_each_member_acts_in_its_own_task():
    both = rollout_returns(ConstantPolicies(2, 6), ["walker_stand", "walker_run"], episodes=1)
    stand = rollout_returns(ConstantPolicies(2, 6), ["walker_stand", "walker_stand"], episodes=1)
    run = rollout_returns(ConstantPolicies(2, 6), ["walker_run", "walker_run"], episodes=1)
    assert both[0, 0] == stand[0, 0] and both[1, 0] == run[1, 0]
    assert stand[1, 0] != run[1, 0]


def fresh_returns(task: str, action_value: float, episodes: int) -> list[float]:
    """Returns of a constant action from freshly built evaluation environments."""
    totals = []
    for episode in range(episodes):
        env = envs.make_env(task, seed=EVAL_SEED_OFFSET + episode)
        env.reset()
        total, done = 0.0, False
        while not done:
            _, reward, done = env.step(np.full(env.action_dim, action_value, dtype=np.float32))
            total += reward
        totals.append(total)
    return totals


@pytest.mark.parametrize("task, action_dim", [("walker_walk", 6), ("Hopper-v4", 3)])
def test_reused_evaluation_environments_start_where_fresh_ones_do(task, action_dim):
    """Environments left mid-episode or after a termination by an earlier evaluation are
    reseeded, so a later evaluation scores exactly what fresh environments would."""
    rollout_returns(ConstantPolicies(3, action_dim), [task] * 3, episodes=3)
    again = rollout_returns(ConstantPolicies(2, action_dim), [task] * 2, episodes=2)
    for member in range(2):
        assert again[member].tolist() == fresh_returns(task, member / 2, episodes=2)
