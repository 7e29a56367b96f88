"""Evaluation inside offline training: reused environments against freshly built ones.

A training job evaluates its K members at every curve point: K x E dm_control episodes in
lockstep, one batched policy forward per control step. Building a dm_control environment
(model compilation) costs about a quarter of a 1000-step episode, so evaluations reuse the
environments of the process's earlier ones, reseeded (``berl.offline.evaluate``). Side by
side, in alternation: one evaluation point of the quick preset's training job (TD3 at its
width, 2 walker tasks x its seeds, its evaluation episodes) with reused environments, and
the same point building every environment anew, as each point did before. Also timed: the
physics alone (the same episodes with zero actions in reused environments, no policy).

    python bench/bench_evaluate.py [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import os

import numpy as np
import torch
from _common import interleaved, preset_benchmark_arguments, write_results

os.environ.setdefault("MUJOCO_GL", "disable")

from berl.datasets import envs  # noqa: E402
from berl.offline import evaluate  # noqa: E402
from berl.offline.registry import build_agent  # noqa: E402

TASKS = ["walker_stand", "walker_walk"]


def physics_only(member_tasks: list[str], episodes: int) -> None:
    """The evaluation's episodes stepped with zero actions: its floor without a policy."""
    for row in evaluate.evaluation_envs(member_tasks, episodes):
        for env in row:
            env.reset()
            over = False
            while not over:
                _, _, over = env.step(np.zeros(env.action_dim, dtype=np.float32))


def main() -> None:
    args, device, presets = preset_benchmark_arguments(__doc__)
    quick = presets["quick"]
    seeds, episodes = quick["offline"]["seeds"], quick["evaluate"]["episodes"]
    member_tasks = [task for task in TASKS for _ in range(seeds)]
    agent = build_agent("td3", *envs.sizes_of(TASKS[0]), list(range(len(member_tasks))),
                        {"hidden_dim": quick["offline"]["hidden_dim"]}).to(device).eval()

    def reused():
        evaluate.rollout_returns(agent, member_tasks, episodes)

    def fresh():
        evaluate._BUILT.clear()
        evaluate.rollout_returns(agent, member_tasks, episodes)

    reused()  # builds the environments that `reused` keeps
    seconds = interleaved({"reused": reused, "fresh": fresh,
                           "physics": lambda: physics_only(member_tasks, episodes)}, args.rounds)
    steps = len(member_tasks) * episodes * 1000
    results = {
        "job": {"members": len(member_tasks), "episodes": episodes, "hidden_dim": quick["offline"]["hidden_dim"],
                "threads": args.threads},
        "seconds_per_point": {name: round(value, 2) for name, value in seconds.items()},
        "env_steps_per_second": {name: round(steps / value) for name, value in seconds.items()},
        "fresh_over_reused": round(seconds["fresh"] / seconds["reused"], 2),
        "reused_over_physics": round(seconds["reused"] / seconds["physics"], 2),
    }
    write_results(f"evaluate_{device.type}", results)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
