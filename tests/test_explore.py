"""Encoder pretraining, the n-step replay and the APT explorer."""

import numpy as np
import pytest
import torch

from berl.core.validate import InputError
from berl.datasets import envs, storage
from berl.datasets.relabel import relabel
from berl.explore.agents import make_agent
from berl.explore.collect import Member, collect, collect_group
from berl.explore.encoder import ICMEncoder, load_encoder, pretrain
from berl.explore.settings import EncoderConfig, PretrainSettings
from berl.core.nets import MemberStreams, member_equality
from berl.explore.replay import NStepReplay


def _replay(steps: int, members: int = 2, **options) -> NStepReplay:
    """A replay of episodes of 10 steps, n-step 3, holding ``steps`` steps; member m's state
    at step t is t + 100 m."""
    replay = NStepReplay(members=members, capacity=steps, obs_dim=1, action_dim=1, nstep=3, episode_length=10,
                         device=torch.device("cpu"), **options)
    offset = 100 * np.arange(members, dtype=np.float32)[:, None]
    for t in range(steps):
        replay.extend((t + offset)[:, None], np.zeros((members, 1, 1), np.float32), (t + 1 + offset)[:, None])
    return replay


# 2.5 episodes of 10 steps: the windows of 3 steps start at 0..7 and 10..17 in the finished
# episodes, and at 20..22 in the running one (steps 20..24 so far).
@pytest.mark.parametrize("running_episode, starts", [
    (False, {*range(0, 8), *range(10, 18)}),
    (True, {*range(0, 8), *range(10, 18), *range(20, 23)}),
], ids=["finished-only", "running"])
def test_replay_samples_only_nstep_windows_inside_one_episode_of_each_member(running_episode, starts):
    replay = _replay(25, running_episode=running_episode)
    assert replay.valid_starts() == len(starts)
    batch = replay.sample(5000, MemberStreams([0, 1], torch.device("cpu")))
    start = batch["index"]
    assert batch["observation"].shape == (2, 5000, 1)
    assert set(start[0].tolist()) == set(start[1].tolist()) == starts
    assert not torch.equal(start[0], start[1])  # each member draws from its own stream
    offset = torch.tensor([[0.0], [100.0]])
    np.testing.assert_array_equal(batch["observation"][..., 0], start + offset)
    np.testing.assert_array_equal(batch["nstep_observation"][..., 0], start + 3 + offset)
    np.testing.assert_array_equal(batch["next_observation"][..., 0], start + 1 + offset)
    if not running_episode:  # URLB's: the last transition a sample reads lies before the running episode's first
        assert int(start.max()) + 3 - 1 < 20


def test_replay_without_a_finished_episode_draws_no_batch():
    replay = _replay(9)
    assert replay.valid_starts() == 0 and replay.sample(4, MemberStreams([0, 1], torch.device("cpu"))) is None
    assert _replay(9, running_episode=True).valid_starts() == 7


def test_replay_partitions_serve_batches_in_turn_from_every_partitions_th_episode():
    """URLB's loader workers: with 2 partitions and 4.5 episodes, batch t draws from episodes
    t mod 2, t mod 2 + 2; the running episode 4, where sampled, belongs to partition 0."""
    streams = MemberStreams([0, 1], torch.device("cpu"))
    windows = [set(range(10 * episode, 10 * episode + 8)) for episode in range(4)]
    finished = _replay(45, partitions=2)
    assert [finished.valid_starts(partition) for partition in (0, 1)] == [16, 16]
    for t in range(4):
        start = finished.sample(2000, streams)["index"]
        assert set(start[0].tolist()) == set(start[1].tolist()) == windows[t % 2] | windows[t % 2 + 2]
    running = _replay(45, partitions=2, running_episode=True)
    assert [running.valid_starts(partition) for partition in (0, 1)] == [16 + 3, 16]
    assert set(running.sample(2000, streams)["index"][0].tolist()) == windows[0] | windows[2] | {40, 41, 42}


def test_replay_partition_without_an_episode_draws_no_batch_and_passes_the_turn():
    replay, streams = _replay(15, partitions=4), MemberStreams([0, 1], torch.device("cpu"))
    drawn = [replay.sample(8, streams) is not None for _ in range(6)]
    assert drawn == [True, False, False, False, True, False]  # only partition 0 holds an episode
    resumed = _replay(15, partitions=4)
    resumed.load_state_dict(replay.state_dict())
    assert resumed.batches_drawn == 6 and resumed.sample(8, streams) is None  # partition 2's turn


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_replay_members_draws_are_those_of_its_own_seed(partitions):
    """Member 1 of a two-member replay draws exactly what a replay of that member alone draws."""
    pair, alone = _replay(45, partitions=partitions), _replay(45, members=1, partitions=partitions)
    pair_streams, alone_streams = MemberStreams([5, 6], torch.device("cpu")), MemberStreams([6], torch.device("cpu"))
    for _ in range(5):
        torch.testing.assert_close(pair.sample(64, pair_streams)["index"][1],
                                   alone.sample(64, alone_streams)["index"][0], rtol=0, atol=0)


# Episodes of 10 steps, n-step 3, 30 steps, updates every step from step 5 on. Finished
# episodes only: none before step 10, then one per step (21). With the running episode:
# every step from 5 (26). Two partitions, finished only: attempt t at step 5 + t asks
# partition t mod 2; until step 20 only partition 0 holds an episode, served at steps
# 11, 13, ..., 19 (5), then every step (11): 16.
@pytest.mark.parametrize("options, updates", [
    ({"replay_partitions": 1}, 21),
    ({"replay_partitions": 1, "replay_running_episode": True}, 26),
    ({"replay_partitions": 2}, 16),
], ids=["finished-only", "running", "two-partitions"])
def test_an_explorer_skips_an_update_whose_partition_holds_no_finished_episode(options, updates):
    settings = {"hidden_dim": 16, "batch_size": 8, "seed_frames": 5, "update_every": 1, "rep_dim": 8} | options
    agent = make_agent([{"agent": "rnd"}], 4, 2, [0], settings=settings, capacity=30, episode_length=10)
    calls = []
    learner_update = agent.learner.update
    agent.learner.update = lambda batch, streams: calls.append(agent.steps) or learner_update(batch, streams)
    rng = np.random.default_rng(0)
    for step in range(1, 31):
        observation = rng.normal(size=(1, 4)).astype(np.float32)
        agent.observe(observation, agent.act(observation), observation + 0.1, step % 10 == 0)
    assert len(calls) == updates, calls


def test_encoder_pretraining_reduces_its_dynamics_losses(walker_random, tmp_path):
    _, paths = storage.read_manifest(walker_random)
    episode = storage.load_episode(paths[0])
    obs = torch.as_tensor(episode["observation"][:-1])
    action = torch.as_tensor(episode["action"][1:])
    next_obs = torch.as_tensor(episode["observation"][1:])
    torch.manual_seed(0)
    obs, action, next_obs = obs[None], action[None], next_obs[None]
    before = ICMEncoder(24, 6, EncoderConfig(hidden_dim=128), [0]).losses(obs, action, next_obs)
    pretrain(walker_random, tmp_path / "encoder.pt",
             PretrainSettings(steps=300, batch_size=256, hidden_dim=128, log_every=100), torch.device("cpu"))
    encoder = load_encoder(tmp_path / "encoder.pt", torch.device("cpu"))
    after = encoder.losses(obs, action, next_obs)
    assert encoder.encode(obs).shape == (1, obs.shape[1], 512)
    assert after[0] < 0.7 * before[0] and after[1] < 0.9 * before[1], (before, after)


def test_a_missing_encoder_is_named(tmp_path):
    with pytest.raises(InputError, match="nowhere.pt"):
        load_encoder(tmp_path / "nowhere.pt", torch.device("cpu"))


@pytest.mark.parametrize("spec", [
    {"agent": "apt", "reward": "be", "alpha": 0.5},
    {"agent": "apt", "reward": "renyi", "q": 1.1},
    {"agent": "apt", "reward": "shannon"},
    {"agent": "smm"},
    {"agent": "rnd"},
], ids=lambda spec: "-".join(map(str, spec.values())))
def test_explorer_collection_learns_and_writes_episodes_that_relabel(walker_random, tmp_path, spec):
    pretrain(walker_random, tmp_path / "encoder.pt", PretrainSettings(steps=20, batch_size=64, hidden_dim=64),
             torch.device("cpu"))
    settings = {"hidden_dim": 32, "batch_size": 64, "seed_frames": 1000}
    manifest_path = collect("walker", spec, 2000, seed=1, dataset_dir=tmp_path / "data",
                            settings=settings, encoder_path=tmp_path / "encoder.pt")
    manifest, paths = storage.read_manifest(manifest_path)
    assert manifest["transitions"] == 2000 and manifest["agent"] == spec["agent"]
    assert manifest.get("reward") == spec.get("reward")
    stored = np.concatenate([storage.load_episode(p)["reward"][1:] for p in paths])
    transitions = relabel(manifest_path, "walker_stand", tmp_path / "stand.npz")
    np.testing.assert_allclose(transitions.reward, stored, atol=1e-6)
    second = storage.load_episode(paths[1])["action"][1:]
    first = storage.load_episode(paths[0])["action"][1:]
    # Episode 1 is uniform; episode 2 comes from the learnt policy plus N(0, 0.2) noise,
    # which clips at the action bounds far more often than uniform actions do.
    assert np.isfinite(second).all() and np.abs(second).max() <= 1.0
    assert not np.allclose(second.std(0), first.std(0), atol=0.02)


@pytest.fixture(scope="module")
def walker_encoder(walker_random, tmp_path_factory):
    path = tmp_path_factory.mktemp("encoder") / "encoder.pt"
    pretrain(walker_random, path, PretrainSettings(steps=10, batch_size=64, hidden_dim=64), torch.device("cpu"))
    return path


def _filled_agent(spec, walker_random, walker_encoder, **settings):
    """An explorer whose replay holds one random episode, with learning not yet started."""
    agent = make_agent([spec], 24, 6, [0],
                       settings={"hidden_dim": 64, "batch_size": 256, "seed_frames": 10**9} | settings,
                       encoder_path=walker_encoder, capacity=2000,
                       episode_length=envs.EPISODE_LENGTH)
    _, paths = storage.read_manifest(walker_random)
    agent.remember([storage.load_episode(paths[0])])
    agent.steps = envs.EPISODE_LENGTH
    return agent


# SMM's rewards are sums of squared reconstruction errors of raw states (hundreds), so its
# bootstrapped critic target keeps growing for thousands of updates: only its models'
# losses must fall within a short test.
@pytest.mark.parametrize("spec, losses", [
    ({"agent": "apt", "reward": "be", "alpha": 0.5},
     ["critic_loss", "forward_error", "inverse_error"]),
    ({"agent": "smm"}, ["vae_loss", "discriminator_loss"]),
    ({"agent": "rnd"}, ["critic_loss", "predictor_loss"]),
], ids=["apt", "smm", "rnd"])
def test_explorer_update_reduces_its_losses_on_a_fixed_batch(
    walker_random, walker_encoder, spec, losses
):
    agent = _filled_agent(spec, walker_random, walker_encoder)
    batch = agent.replay.sample(256, MemberStreams([0], torch.device("cpu")))
    agent.replay.sample = lambda *args: batch  # the same batch at every update
    history = {key: [] for key in losses}
    for _ in range(300):
        agent.update()
        for key, values in history.items():
            values.append(float(agent.metrics[key]))
    for key, values in history.items():
        assert np.mean(values[-20:]) < 0.7 * np.mean(values[:5]), (key, values[:5], values[-5:])


def test_smm_keeps_one_skill_per_episode_and_shows_it_to_the_policy(walker_random, walker_encoder):
    agent = _filled_agent({"agent": "smm"}, walker_random, walker_encoder, skills=4)
    for episode in range(1, 2):
        agent.episode_started(episode)
    skills = agent.schedule.skill[0].clone()
    index = torch.tensor([[0, 999, 1000, 1999]])
    inputs = agent.policy_input(torch.zeros(1, 4, 24), index)[0]
    assert inputs.shape == (4, 28)
    np.testing.assert_array_equal(inputs[:, 24:].argmax(1), skills[[0, 0, 1, 1]])
    np.testing.assert_array_equal(inputs[:, 24:].sum(1), 1.0)
    batch = agent.replay.sample(64, agent.streams)
    reward, _ = agent.intrinsic_reward(batch)
    # reconstruction error >= 0 and cross-entropy >= 0, so the reward is at least log(skills).
    assert reward.shape == (1, 64) and (reward >= np.log(4)).all()


def test_running_moments_match_the_whole_stream():
    from berl.explore.rnd import RunningMoments

    stream = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3 + 2
    moments = RunningMoments(members=2)
    for chunk in stream.split(128):
        moments.update(torch.stack([chunk, 2 * chunk]))
    # The (0, 1) prior has weight 1e-4: after 1000 values the moments are the stream's own.
    torch.testing.assert_close(moments.mean, torch.stack([stream.mean(), 2 * stream.mean()]), atol=1e-5, rtol=0)
    torch.testing.assert_close(moments.variance, stream.var(unbiased=False) * torch.tensor([1.0, 4.0]),
                               rtol=1e-4, atol=0)


def test_rnd_reward_is_the_prediction_error_over_its_running_std(walker_random, walker_encoder):
    agent = _filled_agent({"agent": "rnd"}, walker_random, walker_encoder)
    batch = agent.replay.sample(256, agent.streams)
    reward, _ = agent.intrinsic_reward(batch)
    error = agent.prediction_error(batch["observation"]).detach()
    expected = error / agent.error_moments.variance.sqrt()[:, None]
    np.testing.assert_allclose(reward, expected, rtol=1e-5)
    # Normalised by its own scale, the first batch's rewards have a standard deviation near 1.
    assert 0.5 < float(reward.std()) < 2.0


def _episodes(manifests):
    return [[storage.load_episode(path) for path in storage.read_manifest(manifest)[1]] for manifest in manifests]


def _assert_same_episodes(actual, expected):
    assert [len(episodes) for episodes in actual] == [len(episodes) for episodes in expected]
    for member_actual, member_expected in zip(actual, expected):
        for episode_actual, episode_expected in zip(member_actual, member_expected):
            for key in storage.EPISODE_KEYS:
                np.testing.assert_array_equal(episode_actual[key], episode_expected[key], err_msg=key)


GROUPS = {
    "random": [{"agent": "random"}] * 2,
    "apt": [{"agent": "apt", "reward": "be", "alpha": 0.5}, {"agent": "apt", "reward": "renyi", "q": 0.5},
            {"agent": "apt", "reward": "shannon"}],
    "smm": [{"agent": "smm"}] * 2,
    "rnd": [{"agent": "rnd"}] * 2,
}
# Learning starts in episode 1, so the networks and checkpoints carry something learnt.
SMALL = {"hidden_dim": 32, "batch_size": 64, "seed_frames": 500, "update_every": 10}


@pytest.mark.parametrize("kind", GROUPS)
def test_a_member_of_a_batched_job_explores_exactly_as_it_does_alone(walker_encoder, tmp_path, monkeypatch, kind):
    """K explorers in lockstep: each member's episodes are identical to those of a job of
    its own, and its networks compute the same values (within 1e-5)."""
    import berl.explore.collect as collection

    built = []
    monkeypatch.setattr(collection, "make_agent", lambda *a, **k: built.append(make_agent(*a, **k)) or built[-1])
    members = [Member(spec, 10 + m, tmp_path / f"group{m}") for m, spec in enumerate(GROUPS[kind])]
    with member_equality():
        group = collect_group("walker", members, 2000, settings=SMALL, encoder_path=walker_encoder)
        alone = [collect("walker", m.spec, 2000, m.seed, tmp_path / f"alone{i}", settings=SMALL,
                         encoder_path=walker_encoder) for i, m in enumerate(members)]
    _assert_same_episodes(_episodes(group), _episodes(alone))

    batched, solos = built[0], built[1:]
    if kind == "random":
        return
    probe = torch.randn(len(members), 50, 24, generator=torch.Generator().manual_seed(0))
    context = torch.zeros(len(members), 50, batched.learner.actor.net[0].weight.shape[1] - 24)
    inputs, actions = torch.cat([probe, context], -1), torch.rand(len(members), 50, 6) * 2 - 1
    with torch.no_grad():
        for m, solo in enumerate(solos):
            torch.testing.assert_close(batched.learner.act(inputs)[m], solo.learner.act(inputs[m:m + 1])[0],
                                       atol=1e-5, rtol=0)
            torch.testing.assert_close(batched.learner.critic(inputs, actions)[:, m],
                                       solo.learner.critic(inputs[m:m + 1], actions[m:m + 1])[:, 0], atol=1e-5, rtol=0)
            if kind == "apt":
                torch.testing.assert_close(batched.encoder.encode(probe)[m], solo.encoder.encode(probe[m:m + 1])[0],
                                           atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def uninterrupted() -> dict:
    """Manifests of uninterrupted runs, by group, shared by the kill points."""
    return {}


@pytest.mark.parametrize("specs", [
    [{"agent": "random"}],
    [{"agent": "apt", "reward": "be", "alpha": 0.5}],
    [{"agent": "smm"}],
    [{"agent": "rnd"}],
    GROUPS["apt"][:2],
], ids=["random", "apt", "smm", "rnd", "apt-group"])
@pytest.mark.parametrize("killed", ["storing_episode", "checkpointing", "writing_manifest"])
def test_a_killed_collection_resumes_to_the_same_datasets(
    walker_encoder, uninterrupted, tmp_path, monkeypatch, specs, killed
):
    """A run killed at each point of its second (last) episode's bookkeeping is resumed."""
    import berl.explore.collect as collection

    def members(folder):
        return [Member(spec, 3 + m, tmp_path / folder / str(m)) for m, spec in enumerate(specs)]

    kwargs = dict(settings=SMALL, encoder_path=walker_encoder)
    key = repr(specs)
    if key not in uninterrupted:
        uninterrupted[key] = _episodes(collect_group("walker", members("whole"), 2000, **kwargs))

    class Killed(Exception):
        pass

    save_episode, save_checkpoint = storage.save_episode, collection.save_checkpoint

    def storing(directory, index, episode):
        if killed == "storing_episode" and index == 1 and directory.parent.name == str(len(specs) - 1):
            raise Killed  # the last member's second episode: the others' are already stored
        return save_episode(directory, index, episode)

    def checkpointing(path, run, state):
        if killed == "checkpointing" and state["episodes"] == 2:
            raise Killed
        save_checkpoint(path, run, state)
        if killed == "writing_manifest" and state["episodes"] == 2:
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(storage, "save_episode", storing)
        patch.setattr(collection, "save_checkpoint", checkpointing)
        with pytest.raises(Killed):
            collect_group("walker", members("resumed"), 2000, **kwargs)
    checkpoint = tmp_path / "resumed" / "0" / collection.CHECKPOINT
    assert checkpoint.exists()
    resumed = collect_group("walker", members("resumed"), 2000, **kwargs)

    assert not checkpoint.exists()
    _assert_same_episodes(_episodes(resumed), uninterrupted[key])


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, monkeypatch):
    import berl.explore.collect as collection

    first = collect("walker", {"agent": "random"}, 1000, seed=1, dataset_dir=tmp_path / "a")
    state = {"episodes": 1, "agent": {}, "environment": None}
    collection.save_checkpoint(tmp_path / "b" / collection.CHECKPOINT, {"seed": 99}, state)
    second = collect("walker", {"agent": "random"}, 1000, seed=1, dataset_dir=tmp_path / "b")
    a = storage.load_episode(storage.read_manifest(first)[1][0])
    b = storage.load_episode(storage.read_manifest(second)[1][0])
    np.testing.assert_array_equal(a["observation"], b["observation"])


def test_apt_rewards_the_current_observations_representation(walker_random, walker_encoder):
    """URLB's ICM-APT: the particle reward is of trunk(obs), not of the n-step successor's.
    With an identity encoder, observations 0, 1, 3 (successors far away) and k = 2, the
    distances (self included) average to 0.5, 0.5, 1 and the reward is log(1 + R)."""
    from berl.explore.rewards import ParticleReward

    agent = _filled_agent({"agent": "apt", "reward": "shannon"}, walker_random, walker_encoder,
                          encoder_online=False)
    agent.rewards = [ParticleReward("shannon", k=2, knn_rms=False)]
    agent.encoder.encode = lambda obs: obs
    batch = {"observation": torch.tensor([[[0.0], [1.0], [3.0]]]),
             "nstep_observation": torch.tensor([[[0.0], [10.0], [30.0]]])}
    reward, _ = agent.intrinsic_reward(batch)
    torch.testing.assert_close(reward, torch.log1p(torch.tensor([[0.5, 0.5, 1.0]])))


def test_apt_encoder_starts_pretrained_or_from_scratch(walker_random, walker_encoder):
    pretrained = _filled_agent({"agent": "apt", "reward": "be", "alpha": 0.5}, walker_random,
                               walker_encoder)
    torch.testing.assert_close(pretrained.encoder.state_dict(),
                               load_encoder(walker_encoder, torch.device("cpu")).state_dict())
    scratch = [_filled_agent({"agent": "apt", "reward": "be", "alpha": 0.5}, walker_random, None,
                             encoder_init="scratch") for _ in range(2)]
    # URLB's: a fresh encoder as wide as the explorer, from the explorer's seed alone.
    torch.testing.assert_close(scratch[0].encoder.state_dict(), scratch[1].encoder.state_dict())
    assert scratch[0].encoder.config.hidden_dim == 64
    trunk = "trunk.0.weight"
    assert not torch.allclose(scratch[0].encoder.state_dict()[trunk], pretrained.encoder.state_dict()[trunk])
    with pytest.raises(InputError, match="encoder_init"):
        _filled_agent({"agent": "apt", "reward": "shannon"}, walker_random, None, encoder_init="imagenet")
    with pytest.raises(InputError, match="pretrained encoder"):
        _filled_agent({"agent": "apt", "reward": "shannon"}, walker_random, None)


def test_apt_resumes_its_distance_scale(walker_random, walker_encoder):
    """knn_rms's running mean is part of the explorer's state, so a resumed run divides by
    the same scale."""
    spec = {"agent": "apt", "reward": "be", "alpha": 0.5}
    agent = _filled_agent(spec, walker_random, walker_encoder)
    agent.update()
    resumed = _filled_agent(spec, walker_random, walker_encoder)
    resumed.load_state_dict(agent.state_dict())
    assert resumed.rewards[0].running.count == agent.rewards[0].running.count > 1
    torch.testing.assert_close(resumed.rewards[0].running.mean, agent.rewards[0].running.mean)


@pytest.mark.parametrize("nstep_successor", [True, False])
def test_apt_trains_its_encoder_on_the_successor_urlb_pairs_with_the_state(
    walker_random, walker_encoder, nstep_successor
):
    """URLB's replay hands its ICM (s_t, a_t, s_{t+n}); the switch gives s_{t+1}."""
    agent = _filled_agent({"agent": "apt", "reward": "shannon"}, walker_random, walker_encoder,
                          encoder_nstep_successor=nstep_successor)
    seen = []
    agent.encoder.update = lambda obs, action, successor: seen.append(successor) or {}
    batch = agent.replay.sample(16, agent.streams)  # k = 12 needs 12 particles
    agent.intrinsic_reward(batch)
    expected = batch["nstep_observation" if nstep_successor else "next_observation"]
    assert torch.equal(seen[0], expected) and not torch.equal(batch["nstep_observation"], batch["next_observation"])
