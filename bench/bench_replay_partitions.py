"""Replay partitions (URLB's replay loader workers) against one shared replay: what they
change in a short real APT collection.

URLB's loader runs 4 workers; worker w holds the episodes whose index is w mod 4 and the
loader takes its batches from the workers in turn, so each minibatch, and so APT's particle
set, comes from a quarter of the finished episodes (``explore.replay_partitions: 4``). This
runs the same APT-BE (alpha 0.5) explorers on walker at the `smoke` preset's sizes (hidden
64, batch 128, 1000 seed frames) with a fresh encoder (URLB's ``encoder_init: scratch``)
for a few episodes, once with 4 partitions and once with 1, the K seeds of each as one
batched job, through the collection loop itself (``run_episodes``, without storage). It
reports, per setting:

- collection speed: environment steps per second per explorer over the last two episodes
  (where both settings update at every turn), and the sampler's own time per minibatch;
- how many updates ran (with 4 partitions an update is skipped while the partition whose
  turn it is holds no finished episode: the smoke preset starts learning after one
  episode, URLB after four);
- over the last two episodes (every partition then holds an episode): the intrinsic
  reward's mean and its spread within a batch, the particle set's mean k-NN distance
  (k 12, averaged, as the reward's) in the encoder's space and in raw state space, and how
  many distinct episodes a batch holds;
- the sampler alone: on each run's final replay and encoder, batches drawn with 1 and with
  4 partitions, and the same statistics of their particle sets.

    python bench/bench_replay_partitions.py [--threads 2] [--episodes 6] [--members 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import yaml
from _common import interleaved, write_results

os.environ.setdefault("MUJOCO_GL", "disable")

from berl.core.nets import MemberStreams  # noqa: E402
from berl.datasets import envs  # noqa: E402
from berl.explore.agents import make_agent  # noqa: E402
from berl.explore.collect import run_episodes  # noqa: E402
from berl.explore.rewards import knn_distance  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
SPEC = {"agent": "apt", "reward": "be", "alpha": 0.5}
K_NEIGHBOURS = 12  # the particle reward's k (URLB's knn_k)
SAMPLER_BATCHES = 64


@torch.no_grad()
def particle_statistics(agent, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per member (K,): mean k-NN distance of the batch's particles in the encoder's space
    and in state space, and the number of distinct episodes the batch draws from."""
    observation = batch["observation"]
    episodes = batch["index"] // agent.episode_length
    return {
        "knn_distance_encoder": knn_distance(agent.encoder.encode(observation), K_NEIGHBOURS, True).mean(dim=1),
        "knn_distance_state": knn_distance(observation, K_NEIGHBOURS, True).mean(dim=1),
        "episodes_per_batch": torch.tensor([float(len(set(row.tolist()))) for row in episodes]),
    }


def collection(partitions: int, explore: dict, episodes: int, members: int) -> dict:
    """A short APT collection with ``partitions``; its speed and per-update statistics."""
    seeds = list(range(members))
    environments = [envs.Env(envs.COLLECTION_TASK["walker"], seed) for seed in seeds]
    env = environments[0]
    settings = explore | {"replay_partitions": partitions, "encoder_init": "scratch"}
    agent = make_agent([SPEC] * members, env.observation_dim, env.action_dim, seeds, settings=settings,
                       capacity=episodes * envs.EPISODE_LENGTH, episode_length=envs.EPISODE_LENGTH)
    records = []
    reward_of = agent.intrinsic_reward

    def recorded(batch):  # the same bookkeeping in both settings, so the speeds compare
        reward, metrics = reward_of(batch)
        records.append({"step": agent.steps, "reward_mean": reward.mean(dim=1), "reward_std": reward.std(dim=1),
                        **particle_statistics(agent, batch)})
        return reward, metrics

    agent.intrinsic_reward = recorded
    seconds = []
    for _ in range(episodes):
        start = time.perf_counter()
        run_episodes(environments, agent)
        seconds.append(time.perf_counter() - start)

    late = [r for r in records if r["step"] > (episodes - 2) * envs.EPISODE_LENGTH]
    late_means = {key: torch.stack([r[key] for r in late]).mean(dim=0)
                  for key in ("reward_mean", "reward_std", "knn_distance_encoder", "knn_distance_state",
                              "episodes_per_batch")}
    per_episode = [sum(1 for r in records if e * envs.EPISODE_LENGTH < r["step"] <= (e + 1) * envs.EPISODE_LENGTH)
                   for e in range(episodes)]
    return {
        "agent": agent,
        "results": {
            "seconds_per_episode": [round(value, 1) for value in seconds],
            "env_steps_per_second_per_explorer_last_two_episodes": round(2 * envs.EPISODE_LENGTH / sum(seconds[-2:]), 1),
            "updates_per_episode": per_episode,
            "update_attempts": agent.replay.batches_drawn,
            "last_two_episodes": {key: summary(values) for key, values in late_means.items()},
        },
    }


def summary(per_member: torch.Tensor) -> dict:
    values = [round(float(v), 4) for v in per_member]
    return {"mean_over_members": round(statistics.fmean(values), 4),
            "std_over_members": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "members": values}


def sampler_alone(agent) -> dict:
    """Particle statistics of batches drawn from one run's final replay with 1 and with 4
    partitions (the same data and encoder, only the sampler differs), and the time to draw
    one minibatch with each."""
    replay, results = agent.replay, {}

    def draws(partitions):
        def run():
            replay.partitions = partitions
            for _ in range(100):
                replay.sample(agent.config.batch_size, agent.streams)
        return run

    seconds = interleaved({partitions: draws(partitions) for partitions in (1, 4)}, rounds=5)
    results["milliseconds_per_minibatch"] = {f"partitions={p}": round(10 * value, 3) for p, value in seconds.items()}
    for partitions in (1, 4):
        replay.partitions, replay.batches_drawn = partitions, 0
        streams = MemberStreams(agent.seeds, agent.device)
        drawn = (replay.sample(agent.config.batch_size, streams) for _ in range(SAMPLER_BATCHES))
        batches = [particle_statistics(agent, batch) for batch in drawn if batch is not None]
        results[f"partitions={partitions}"] = {
            key: summary(torch.stack([b[key] for b in batches]).mean(dim=0)) for key in batches[0]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=6, help="collection length, in 1000-step episodes")
    parser.add_argument("--members", type=int, default=3, help="seeds, run as one batched job per setting")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    explore = yaml.safe_load(CONFIG.read_text())["presets"]["smoke"]["explore"]
    results: dict = {"threads": args.threads, "episodes": args.episodes, "members": args.members,
                     "explore": explore, "dataset": SPEC, "domain": "walker"}
    for partitions in (4, 1):
        run = collection(partitions, explore, args.episodes, args.members)
        results[f"partitions={partitions}"] = run["results"] | {"sampler_alone": sampler_alone(run["agent"])}
    write_results("replay_partitions_cpu", results)


if __name__ == "__main__":
    main()
