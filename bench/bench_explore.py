"""APT collection throughput and where its time goes, at the `quick` and `paper` sizes.

Per environment step an explorer pays for physics, one policy forward pass (`act`) and half
an update (updates run every 2 steps); an update is the online encoder step, the k-NN
particle reward and the actor-critic step. Each part is timed on its own, in alternation
with the others, and the figures combine them into steps per second, the share of each
part, and the ratio to raw dm_control stepping.

    python bench/bench_explore.py [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from _common import interleaved, write_results

os.environ.setdefault("MUJOCO_GL", "disable")

from berl import envs  # noqa: E402
from berl.agents import make_agent  # noqa: E402
from berl.encoder import EncoderConfig, ICMEncoder, save_encoder  # noqa: E402

# (explorer hidden width, batch, encoder hidden width) of config.yaml's presets.
SIZES = {"quick": (256, 256, 256), "paper": (1024, 1024, 1024)}
REPEATS = {"quick": 20, "paper": 2}


def build(task: str, hidden: int, batch: int, encoder_hidden: int, folder: Path):
    env = envs.Env(task, seed=0)
    encoder_path = folder / f"encoder_{encoder_hidden}.pt"
    save_encoder(encoder_path, ICMEncoder(env.observation_dim, env.action_dim,
                                          EncoderConfig(hidden_dim=encoder_hidden)),
                 env.observation_dim, env.action_dim)
    agent = make_agent({"agent": "apt", "reward": "be", "alpha": 0.5}, env.observation_dim,
                       env.action_dim, seed=0, sizes={"hidden_dim": hidden, "batch_size": batch,
                                                      "seed_frames": 10**9},
                       encoder_path=encoder_path, capacity=2 * envs.EPISODE_LENGTH)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(2 * envs.EPISODE_LENGTH):
        action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        next_obs, _, done = env.step(action)
        agent.observe(obs, action, next_obs, done)
        obs = env.reset() if done else next_obs
    agent.config.seed_frames = 0  # from now on act with the policy
    return env, agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for preset, (hidden, batch, encoder_hidden) in SIZES.items():
            env, agent = build("walker_stand", hidden, batch, encoder_hidden, Path(scratch))
            n = REPEATS[preset]
            obs = env.reset()
            sample = agent.replay.sample(batch, agent.generator)
            action = np.zeros(env.action_dim, np.float32)

            def physics():
                for _ in range(n):
                    env.step(action)

            def act():
                for _ in range(n):
                    agent.act(obs)

            def encoder_step():
                for _ in range(n):
                    agent.encoder.update(sample["observation"], sample["action"],
                                         sample["next_observation"])

            def particle_reward():
                for _ in range(n):
                    agent.intrinsic_reward(sample["nstep_observation"])

            def full_update():
                for _ in range(n):
                    agent.update()

            seconds = {k: v / n for k, v in interleaved({
                "physics": physics, "act": act, "encoder_update": encoder_step,
                "knn_reward": particle_reward, "update": full_update,
            }, rounds=args.rounds).items()}
            per_step = seconds["physics"] + seconds["act"] + seconds["update"] / agent.config.update_every
            actor_critic = seconds["update"] - seconds["encoder_update"] - seconds["knn_reward"]
            shares = {
                "physics": seconds["physics"], "act": seconds["act"],
                "encoder_update": seconds["encoder_update"] / 2, "knn_reward": seconds["knn_reward"] / 2,
                "actor_critic_update": actor_critic / 2,
            }
            results[preset] = {
                "hidden_dim": hidden, "batch_size": batch,
                "milliseconds": {k: round(1e3 * v, 3) for k, v in seconds.items()},
                "env_steps_per_second": round(1 / per_step, 1),
                "ratio_to_raw_physics": round(seconds["physics"] / per_step, 4),
                "share_of_step_time": {k: round(v / per_step, 3) for k, v in shares.items()},
                "paper_dataset_hours": round(500_000 * per_step / 3600, 2),
            }
    write_results("explore", {"threads": args.threads, "rounds": args.rounds, **results})


if __name__ == "__main__":
    main()
