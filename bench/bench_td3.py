"""Offline TD3 gradient steps per second at the `quick` and `paper` network sizes.

For each size, a job of K agents (the preset's seed count) and a single agent run side by
side, in alternation; the figures are whole-job steps per second, agent-steps per second
(job rate times K), and that per-agent throughput as a ratio to the single agent.

    python bench/bench_td3.py [--threads 2] [--steps 5] [--rounds 3]
"""

from __future__ import annotations

import argparse

import torch

from _common import interleaved, write_results
from berl.offline.td3 import TD3, TD3Config

# (hidden, batch, agents) of config.yaml's presets; walker's observation and action sizes.
SIZES = {"quick": (256, 256, 3), "paper": (1024, 1024, 5)}
OBS_DIM, ACT_DIM = 24, 6


def stepper(hidden: int, batch: int, agents: int, steps: int):
    agent = TD3(OBS_DIM, ACT_DIM, list(range(agents)), TD3Config(hidden_dim=hidden, batch_size=batch))
    generator = torch.Generator().manual_seed(0)
    data = {
        "observation": torch.randn(agents, batch, OBS_DIM),
        "action": torch.rand(agents, batch, ACT_DIM) * 2 - 1,
        "reward": torch.rand(agents, batch, 1),
        "discount": torch.ones(agents, batch, 1),
        "next_observation": torch.randn(agents, batch, OBS_DIM),
    }

    def run():
        for _ in range(steps):
            agent.update(data, generator)

    run()  # warm-up: allocator and kernel selection
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for preset, (hidden, batch, agents) in SIZES.items():
        seconds = interleaved({
            "batched": stepper(hidden, batch, agents, args.steps),
            "single": stepper(hidden, batch, 1, args.steps),
        }, rounds=args.rounds)
        batched_rate = args.steps / seconds["batched"]
        single_rate = args.steps / seconds["single"]
        results[preset] = {
            "hidden_dim": hidden, "batch_size": batch, "agents": agents,
            "job_steps_per_second": round(batched_rate, 2),
            "agent_steps_per_second": round(batched_rate * agents, 2),
            "single_agent_steps_per_second": round(single_rate, 2),
            "per_agent_speedup_from_batching": round(batched_rate * agents / single_rate, 2),
        }
    write_results("td3", {"threads": args.threads, "steps": args.steps, **results})


if __name__ == "__main__":
    main()
