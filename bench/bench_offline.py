"""Offline TD3, CQL and CRR: gradient steps per second per agent, K agents batched.

For each algorithm and network size, jobs of K = 1, 5 and 15 members (15 = the paper's 3
walker tasks x 5 seeds) run side by side, in alternation, on the same kind of minibatches
as training (indices drawn per member on the device, one random stream each). Figures:
whole-job steps per second, agent-steps per second (job rate x K), and the per-agent
throughput of each K as a ratio to K = 1.

    python bench/bench_offline.py [--threads 2] [--rounds 3] [--device cpu|cuda]
                                  [--sizes quick paper] [--precisions fp32 tf32 bf16]

On a CPU the paper sizes are measured for K = 1 and 5 only (one K = 15 CQL step would
take minutes); pass --paper-members 1 5 25 75 on a GPU (bench/gpu_check.sh does).

Precisions other than fp32 (``_common.PRECISIONS``) are timed the same way, each with its
drift: a job trained DRIFT_STEPS steps in it against the same job in fp32 (same start, data
and streams), ‖θ_p − θ_fp32‖ / ‖θ_fp32 − θ_0‖, usable within PRECISION_TOLERANCE. On a GPU
each K's peak allocated memory is recorded.
"""

from __future__ import annotations

import argparse

import torch
from _common import (
    PRECISION_TOLERANCE, PRECISIONS, flat_parameters, interleaved, peak_memory_mb, precision, relative_drift,
    usable_precisions, write_results,
)

from berl.core.nets import MemberStreams
from berl.offline.registry import ALGORITHMS, build_agent

OBS_DIM, ACT_DIM, TRANSITIONS = 24, 6, 100_000  # walker's sizes
SIZES = {"quick": (128, 128), "paper": (1024, 1024)}  # (hidden, batch) of config.yaml
STEPS = {"quick": 10, "paper": 1}
DRIFT_STEPS = 30  # training steps compared across precisions


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
            device: torch.device = torch.device("cpu"), data: dict | None = None, numerics: str = "fp32"):
    """A callable running ``steps`` training steps of a K-member job on ``data``
    (random walker-shaped transitions unless given) in precision ``numerics``, and the agent."""
    data = random_data(TRANSITIONS, device) if data is None else data
    size, obs_dim, act_dim = len(data["observation"]), data["observation"].shape[1], data["action"].shape[1]
    torch.manual_seed(0)
    agent = build_agent(algorithm, obs_dim, act_dim, list(range(members)),
                        {"hidden_dim": hidden, "batch_size": batch}).to(device)
    streams = MemberStreams(list(range(members)), device)

    def run():
        with precision(numerics, device):
            for _ in range(steps):
                index = streams.randint(size, (batch,))
                agent.update({key: value[index] for key, value in data.items()}, streams)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run.agent = agent
    return run


def precision_drift(algorithm: str, hidden: int, batch: int, numerics: str, device: torch.device,
                    data: dict) -> float:
    """A one-member job trained DRIFT_STEPS steps in ``numerics`` against the same job in fp32."""
    runs = {name: stepper(algorithm, hidden, batch, 1, DRIFT_STEPS, device, data, name) for name in ("fp32", numerics)}
    start = flat_parameters(runs["fp32"].agent)
    assert torch.equal(start, flat_parameters(runs[numerics].agent)), "the two jobs must start alike"
    for run in runs.values():
        run()
    return relative_drift(start, flat_parameters(runs["fp32"].agent), flat_parameters(runs[numerics].agent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--quick-members", type=int, nargs="+", default=[1, 5, 15])
    parser.add_argument("--paper-members", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32"],
                        help="fp32 first; tf32 is skipped on a CPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    members_of = {"quick": args.quick_members, "paper": args.paper_members}
    results: dict = {}
    data = random_data(TRANSITIONS, device)
    for size in args.sizes:
        hidden, batch = SIZES[size]
        for algorithm in args.algorithms:
            row = {"hidden_dim": hidden, "batch_size": batch}
            for numerics in usable_precisions(args.precisions, device):
                steps = STEPS[size]
                runners, memory = {}, {}
                for k in members_of[size]:
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    runners[k] = stepper(algorithm, hidden, batch, k, steps, device, data, numerics)
                    runners[k]()  # warm-up: allocator and kernel selection
                    memory[k] = peak_memory_mb(device)
                seconds = interleaved(runners, rounds=args.rounds)
                job_rate = {k: steps / seconds[k] for k in runners}
                per_agent = {k: job_rate[k] * k for k in runners}
                figures = {
                    "job_steps_per_second": {k: round(v, 2) for k, v in job_rate.items()},
                    "agent_steps_per_second": {k: round(v, 2) for k, v in per_agent.items()},
                    "per_agent_speedup_vs_k1": {k: round(v / per_agent[min(per_agent)], 2)
                                                for k, v in per_agent.items()},
                }
                if device.type == "cuda":
                    figures["peak_allocated_mb"] = memory
                if numerics == "fp32":
                    row.update(figures)
                else:
                    drift = precision_drift(algorithm, hidden, batch, numerics, device, data)
                    row.setdefault("precisions", {})[numerics] = {
                        **figures, "drift_vs_fp32": round(drift, 4), "within_tolerance": drift <= PRECISION_TOLERANCE}
                print(size, algorithm, numerics, figures["agent_steps_per_second"], flush=True)
            results.setdefault(size, {})[algorithm] = row
    write_results(f"offline_{device.type}", {"threads": args.threads, "rounds": args.rounds, "device": str(device),
                                             "drift_steps": DRIFT_STEPS, "tolerance": PRECISION_TOLERANCE, **results})


if __name__ == "__main__":
    main()
