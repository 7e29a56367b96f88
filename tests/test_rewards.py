import math

import pytest
import torch

from berl.core.validate import InputError
from berl.core.constants import prelec_beta
from berl.explore.rewards import (
    ParticleReward,
    behavioral_entropy_reward,
    knn_distance,
    renyi_reward,
    shannon_reward,
)

FLOAT32_MAX = torch.finfo(torch.float32).max


def random_features(n: int, d: int, seed: int = 0, offset: float = 0.0) -> torch.Tensor:
    return offset + torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def be_by_hand(r: float, alpha: float, beta: float, c: float) -> float:
    x = math.log(c + r)
    return r * beta * x**alpha * math.exp(-beta * x**alpha)


def test_knn_distance_counts_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])

    def knn(k: int, average: bool) -> list[float]:
        return knn_distance(points, k, average).tolist()

    # k = 2: the zero self-distance and the nearest other point.
    assert knn(2, average=False) == [1.0, 1.0, 2.0, 4.0]
    assert knn(2, average=True) == [0.5, 0.5, 1.0, 2.0]
    # k = 3: self, nearest and second nearest.
    assert knn(3, average=False) == [3.0, 2.0, 3.0, 6.0]
    assert knn(3, average=True) == pytest.approx([4.0 / 3, 1.0, 5.0 / 3, 10.0 / 3])
    assert knn(1, average=True) == [0.0] * 4
    for k in (0, 5):
        with pytest.raises(ValueError, match=f"k = {k}"):
            knn_distance(points, k, average=True)


def test_knn_distance_matches_brute_force_on_an_offset_batch():
    # More than 25 rows sends cdist down its matrix-product path, where a shared offset
    # would otherwise cost precision and leave non-zero self-distances.
    features = random_features(64, 32, offset=100.0)
    exact = (features.double()[:, None] - features.double()[None]).norm(dim=-1)
    nearest = exact.sort(dim=1).values[:, :5]
    torch.testing.assert_close(knn_distance(features, 5, average=True), nearest.mean(1).float())
    torch.testing.assert_close(knn_distance(features, 5, average=False), nearest[:, -1].float())
    assert (knn_distance(features, 1, average=False) == 0).all()


@pytest.mark.parametrize("alpha,beta", [
    (0.2, 4.3257), (0.5, 2.4977), (0.7, 1.7319), (0.9, 1.2009), (1.5, 0.4004),
    (2.0, 0.1603), (3.0, 0.0257), (5.0, 6.6e-4),
])
def test_prelec_beta_matches_the_table(alpha, beta):
    assert prelec_beta(alpha) == pytest.approx(beta, rel=2e-2 if alpha == 5.0 else 2e-4)


def test_prelec_beta_is_one_at_alpha_one():
    assert prelec_beta(1.0) == 1.0
    assert prelec_beta(0.5, representation_size=64) == pytest.approx(math.sqrt(math.log(64)))


@pytest.mark.parametrize("c", [1.0, 0.5, 3.0])
def test_rewards_against_hand_computed_values(c):
    distances = [2.0, 0.5, 7.0]
    R = torch.tensor(distances)
    for alpha, beta in [(0.5, 2.4977), (3.0, 0.0257)]:
        expected = [be_by_hand(r, alpha, beta, c) for r in distances]
        torch.testing.assert_close(
            behavioral_entropy_reward(R, alpha, beta, c), torch.tensor(expected)
        )
    expected_shannon = [math.log(c + r) for r in distances]
    torch.testing.assert_close(shannon_reward(R, c), torch.tensor(expected_shannon))
    for q in (0.5, 2.0):
        expected = [((c + r) ** (1 - q) - 1) / (1 - q) for r in distances]
        torch.testing.assert_close(renyi_reward(R, q, c), torch.tensor(expected))


def test_be_with_alpha_and_beta_one_orders_states_like_shannon():
    features = random_features(256, 16)
    be = ParticleReward("be", alpha=1.0, beta=1.0, knn_rms=False)(features)
    shannon = ParticleReward("shannon", knn_rms=False)(features)
    assert torch.equal(be.argsort(), shannon.argsort())
    R = knn_distance(features, 12, average=True)
    torch.testing.assert_close(be, R * torch.log1p(R) / (1 + R))


def test_renyi_tends_to_shannon_and_increases_in_distance():
    R = torch.linspace(0, 50, 201)
    torch.testing.assert_close(renyi_reward(R, 1.0), shannon_reward(R))
    for q in (1 - 1e-6, 1 + 1e-6):
        torch.testing.assert_close(renyi_reward(R, q), shannon_reward(R), rtol=1e-4, atol=1e-4)
    near = torch.linspace(0, 3, 61)  # steps float32 resolves for every q below
    for q in (0.5, 1.1, 2.0, 5.0):
        assert (renyi_reward(near, q).diff() > 0).all(), q
        assert (renyi_reward(R, q).diff() >= 0).all(), q


@pytest.mark.parametrize("c", [1.0, 0.5])
def test_rewards_stay_finite_at_extremes(c):
    R = torch.tensor([0.0, 1e-30, 0.25, 1e30, FLOAT32_MAX])
    for alpha in (0.01, 0.2, 5.0, 10.0):
        reward = behavioral_entropy_reward(R, alpha, prelec_beta(alpha), c)
        assert torch.isfinite(reward).all() and reward[0] == 0, alpha
        assert (reward >= 0).all(), alpha
    for q in (0.01, 0.5, 1.1, 5.0, 10.0):
        assert torch.isfinite(renyi_reward(R, q, c)).all(), q
    assert torch.isfinite(shannon_reward(R, c)).all()


def test_tiny_distances_are_not_rounded_away():
    R = torch.tensor([1e-30])
    # log(1 + R) ~ R: compare relatively, as any absolute tolerance would swallow 1e-30.
    torch.testing.assert_close(shannon_reward(R), R, rtol=1e-6, atol=0)
    torch.testing.assert_close(renyi_reward(R, 0.5), R, rtol=1e-6, atol=0)


def test_particle_reward_composes_the_pieces():
    features = random_features(64, 8)
    R = knn_distance(features, 12, average=True)
    torch.testing.assert_close(
        ParticleReward("be", alpha=0.5, knn_rms=False)(features),
        behavioral_entropy_reward(R, 0.5, prelec_beta(0.5)),
    )
    torch.testing.assert_close(
        ParticleReward("be", alpha=2.0, beta=0.3, c=2.0, knn_rms=False)(features),
        behavioral_entropy_reward(R, 2.0, 0.3, 2.0),
    )
    torch.testing.assert_close(ParticleReward("renyi", q=0.3, knn_rms=False)(features), renyi_reward(R, 0.3))
    torch.testing.assert_close(ParticleReward("shannon", knn_rms=False)(features), shannon_reward(R))
    R3 = knn_distance(features, 3, average=False)
    torch.testing.assert_close(
        ParticleReward("shannon", k=3, average=False, knn_rms=False)(features), shannon_reward(R3)
    )


def test_knn_rms_divides_distances_by_urlbs_running_mean():
    """Hand-computed: points 0, 1, 3 on a line with k = 2 (self included) have neighbour
    distances {0, 1}, {0, 1}, {0, 2}: R = (0.5, 0.5, 1) and six distances of mean 2/3. URLB's
    running mean starts at 0 with a count of 1e-4, so after the batch it is
    2/3 * 6 / (6 + 1e-4); the reward is log(1 + R / mean)."""
    reward = ParticleReward("shannon", k=2)
    points = torch.tensor([[0.0], [1.0], [3.0]])
    mean = 2 / 3 * 6 / (6 + 1e-4)
    expected = [math.log(1 + r / mean) for r in (0.5, 0.5, 1.0)]
    torch.testing.assert_close(reward(points), torch.tensor(expected))
    # Twice the spread: batch mean 4/3 moves the running mean by 6 / (6 + 6 + 1e-4) of the gap.
    mean += (4 / 3 - mean) * 6 / (12 + 1e-4)
    expected = [math.log(1 + r / mean) for r in (1.0, 1.0, 2.0)]
    torch.testing.assert_close(reward(2 * points), torch.tensor(expected))
    assert reward.running.count == pytest.approx(12 + 1e-4)
    # The k-th distance alone (knn_avg off) counts one distance per row: mean 4/3 of (1, 1, 2).
    kth = ParticleReward("be", alpha=0.5, k=2, average=False)
    mean = 4 / 3 * 3 / (3 + 1e-4)
    R = torch.tensor([1.0, 1.0, 2.0]) / mean
    torch.testing.assert_close(kth(points), behavioral_entropy_reward(R, 0.5, prelec_beta(0.5)))


def test_knn_rms_makes_rewards_independent_of_the_representation_scale():
    features = random_features(128, 16)
    for kind in ("be", "renyi", "shannon"):
        small, large = ParticleReward(kind, alpha=0.5), ParticleReward(kind, alpha=0.5)
        torch.testing.assert_close(small(features), large(1000 * features))


@pytest.mark.parametrize("fields,name", [
    ({"kind": "tsallis"}, "kind"), ({"kind": "be", "alpha": 0}, "alpha"),
    ({"kind": "be", "alpha": math.nan}, "alpha"), ({"kind": "renyi", "q": -1}, "q"),
    ({"kind": "be", "beta": 0}, "beta"), ({"kind": "shannon", "k": 0}, "k"),
    ({"kind": "shannon", "c": 0}, "c"),
])
def test_invalid_fields_are_named(fields, name):
    with pytest.raises(InputError, match=f"^{name}: "):
        ParticleReward(**fields)
