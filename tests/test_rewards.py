import math

import pytest
import torch

from berl.rewards import (
    ParticleReward, behavioral_entropy_reward, default_beta, knn_distance, renyi_reward,
    shannon_reward,
)


def test_knn_distance_counts_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # k = 2: the zero self-distance and the nearest other point.
    torch.testing.assert_close(knn_distance(points, 2, average=False), torch.tensor([1.0, 1.0, 2.0, 4.0]))
    torch.testing.assert_close(knn_distance(points, 2, average=True), torch.tensor([0.5, 0.5, 1.0, 2.0]))
    torch.testing.assert_close(knn_distance(points, 3, average=False), torch.tensor([3.0, 2.0, 3.0, 6.0]))
    with pytest.raises(ValueError, match="k = 5"):
        knn_distance(points, 5, average=True)


@pytest.mark.parametrize("alpha,beta", [
    (0.2, 4.3257), (0.5, 2.4977), (0.7, 1.7319), (0.9, 1.2009), (1.5, 0.4004),
    (2.0, 0.1603), (3.0, 0.0257), (5.0, 6.6e-4),
])
def test_default_beta_matches_the_paper_table(alpha, beta):
    assert default_beta(alpha) == pytest.approx(beta, rel=2e-2 if alpha == 5.0 else 2e-4)
    assert default_beta(1.0) == 1.0


def test_rewards_against_hand_computed_values():
    R = torch.tensor([2.0, 0.5])
    x = [math.log(1 + 2.0), math.log(1 + 0.5)]
    expected_be = [r * 2.4977 * xi**0.5 * math.exp(-2.4977 * xi**0.5) for r, xi in zip([2.0, 0.5], x)]
    torch.testing.assert_close(behavioral_entropy_reward(R, 0.5, 2.4977, 1.0), torch.tensor(expected_be))
    torch.testing.assert_close(shannon_reward(R, 1.0), torch.tensor(x))
    expected_renyi = [((1 + r) ** 0.5 - 1) / 0.5 for r in (2.0, 0.5)]
    torch.testing.assert_close(renyi_reward(R, 0.5, 1.0), torch.tensor(expected_renyi))
    expected_renyi2 = [((1 + r) ** -1 - 1) / -1 for r in (2.0, 0.5)]
    torch.testing.assert_close(renyi_reward(R, 2.0, 1.0), torch.tensor(expected_renyi2))


def test_be_with_alpha_and_beta_one_orders_states_like_shannon():
    features = torch.randn(256, 16)
    be = ParticleReward("be", alpha=1.0, beta=1.0)(features)
    shannon = ParticleReward("shannon")(features)
    assert torch.equal(be.argsort(), shannon.argsort())
    R = knn_distance(features, 12, average=True)
    torch.testing.assert_close(be, R * torch.log1p(R) / (1 + R))


def test_renyi_tends_to_shannon_and_increases_in_distance():
    R = torch.linspace(0, 50, 201)
    for q in (1 - 1e-6, 1 + 1e-6):
        torch.testing.assert_close(renyi_reward(R, q), shannon_reward(R), rtol=1e-4, atol=1e-4)
    near = torch.linspace(0, 3, 61)  # strictly increasing where float32 can resolve it
    for q in (0.5, 1.1, 2.0, 5.0):
        assert (renyi_reward(near, q).diff() > 0).all(), q
        assert (renyi_reward(R, q).diff() >= 0).all(), q


def test_rewards_stay_finite_at_extremes():
    R = torch.tensor([0.0, 1e-30, 1e30, torch.finfo(torch.float32).max])
    for alpha in (0.01, 0.2, 5.0, 10.0):
        reward = behavioral_entropy_reward(R, alpha, default_beta(alpha))
        assert torch.isfinite(reward).all() and reward[0] == 0, alpha
    for q in (0.01, 0.5, 1.1, 5.0, 10.0):
        assert torch.isfinite(renyi_reward(R, q)).all(), q
    assert torch.isfinite(shannon_reward(R)).all()


def test_particle_reward_composes_the_pieces_and_checks_its_fields():
    features = torch.randn(64, 8)
    R = knn_distance(features, 12, average=True)
    torch.testing.assert_close(
        ParticleReward("be", alpha=0.5)(features), behavioral_entropy_reward(R, 0.5, default_beta(0.5))
    )
    torch.testing.assert_close(ParticleReward("renyi", q=0.3)(features), renyi_reward(R, 0.3))
    for fields, name in [({"kind": "tsallis"}, "kind"), ({"kind": "be", "alpha": 0}, "alpha"),
                         ({"kind": "renyi", "q": -1}, "q"), ({"kind": "be", "beta": 0}, "beta"),
                         ({"kind": "shannon", "k": 0}, "k")]:
        with pytest.raises(ValueError, match=name):
            ParticleReward(**fields)
