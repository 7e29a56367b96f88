"""Offline TD3, CQL and CRR: gradient steps per second per agent, K agents batched.

For each algorithm and network size, jobs of K = 1, 5 and 15 members (15 = the paper's 3
walker tasks x 5 seeds) run side by side, in alternation, on the same kind of minibatches
as training (indices drawn per member on the device, one random stream each). Figures:
whole-job steps per second, agent-steps per second (job rate x K), and the per-agent
throughput of each K as a ratio to K = 1.

    python bench/bench_offline.py [--threads 2] [--rounds 3] [--device cpu|cuda]

On a CPU the paper sizes are measured for K = 1 and 5 only (one K = 15 CQL step would
take minutes); pass --paper-members 1 5 15 on a GPU.
"""

from __future__ import annotations

import argparse

import torch
from _common import interleaved, write_results

from berl.core.nets import MemberStreams
from berl.offline.registry import ALGORITHMS, build_agent

OBS_DIM, ACT_DIM, TRANSITIONS = 24, 6, 100_000  # walker's sizes
SIZES = {"quick": (128, 128), "paper": (1024, 1024)}  # (hidden, batch) of config.yaml
STEPS = {"quick": 10, "paper": 1}


def random_data(transitions: int, device: torch.device) -> dict[str, torch.Tensor]:
    return {
        "observation": torch.randn(transitions, OBS_DIM, device=device),
        "action": torch.rand(transitions, ACT_DIM, device=device) * 2 - 1,
        "reward": torch.rand(transitions, 1, device=device),
        "discount": torch.ones(transitions, 1, device=device),
        "next_observation": torch.randn(transitions, OBS_DIM, device=device),
        "mc_return": torch.rand(transitions, 1, device=device) * 50,  # Cal-QL's lower bounds
    }


def stepper(algorithm: str, hidden: int, batch: int, members: int, steps: int,
            device: torch.device = torch.device("cpu"), data: dict | None = None):
    """A callable running ``steps`` training steps of a K-member job on ``data``
    (random walker-shaped transitions unless given)."""
    data = random_data(TRANSITIONS, device) if data is None else data
    size, obs_dim, act_dim = len(data["observation"]), data["observation"].shape[1], data["action"].shape[1]
    agent = build_agent(algorithm, obs_dim, act_dim, list(range(members)),
                        {"hidden_dim": hidden, "batch_size": batch}).to(device)
    streams = MemberStreams(list(range(members)), device)

    def run():
        for _ in range(steps):
            index = streams.randint(size, (batch,))
            agent.update({key: value[index] for key, value in data.items()}, streams)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run()  # warm-up: allocator and kernel selection
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    parser.add_argument("--quick-members", type=int, nargs="+", default=[1, 5, 15])
    parser.add_argument("--paper-members", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    members_of = {"quick": args.quick_members, "paper": args.paper_members}
    results: dict = {}
    for size, (hidden, batch) in SIZES.items():
        for algorithm in args.algorithms:
            steps = STEPS[size]
            runners = {k: stepper(algorithm, hidden, batch, k, steps, device) for k in members_of[size]}
            seconds = interleaved(runners, rounds=args.rounds)
            job_rate = {k: steps / seconds[k] for k in runners}
            per_agent = {k: job_rate[k] * k for k in runners}
            results.setdefault(size, {})[algorithm] = {
                "hidden_dim": hidden, "batch_size": batch,
                "job_steps_per_second": {k: round(v, 2) for k, v in job_rate.items()},
                "agent_steps_per_second": {k: round(v, 2) for k, v in per_agent.items()},
                "per_agent_speedup_vs_k1": {k: round(v / per_agent[1], 2) for k, v in per_agent.items()},
            }
            print(size, algorithm, results[size][algorithm]["agent_steps_per_second"], flush=True)
    write_results(f"offline_{device.type}", {"threads": args.threads, "rounds": args.rounds,
                                             "device": str(device), **results})


if __name__ == "__main__":
    main()
