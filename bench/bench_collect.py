"""Collection throughput against raw dm_control stepping with the same random actions.

Three variants run side by side, in alternation, for each domain:
  raw      dm_control's own environment stepped with pre-scaled actions (the ceiling);
  episode  our environment wrapper and episode recorder (observations, physics states);
  collect  the full collection stage, including compressed, atomic episode files.
Ratios are steps per second relative to `raw`.

    python bench/bench_collect.py [--episodes 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from _common import interleaved, write_results

os.environ.setdefault("MUJOCO_GL", "disable")

from berl.datasets import envs  # noqa: E402
from berl.explore.agents import UniformRandomAgent  # noqa: E402
from berl.explore.collect import collect, run_episodes  # noqa: E402


def raw_stepping(task: str, episodes: int, seed: int):
    from dm_control import suite

    domain, name = envs.TASKS[task]
    env = suite.load(domain, name, task_kwargs={"random": seed})
    spec = env.action_spec()
    rng = np.random.default_rng(seed)

    def run():
        for _ in range(episodes):
            time_step = env.reset()
            while not time_step.last():
                unit = rng.uniform(-1.0, 1.0, spec.shape).astype(np.float32)
                time_step = env.step(spec.minimum + (unit + 1) * 0.5 * (spec.maximum - spec.minimum))

    return run


def recorded_episodes(task: str, episodes: int, seed: int):
    env = envs.Env(task, seed)
    agent = UniformRandomAgent(env.action_dim, [seed])

    def run():
        for _ in range(episodes):
            run_episodes([env], agent)

    return run


def full_collection(domain: str, episodes: int, seed: int, folder: Path):
    def run():
        collect(domain, {"agent": "random"}, episodes * envs.EPISODE_LENGTH, seed, folder)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    steps = args.episodes * envs.EPISODE_LENGTH
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for domain, task in envs.COLLECTION_TASK.items():
            seconds = interleaved({
                "raw": raw_stepping(task, args.episodes, seed=0),
                "episode": recorded_episodes(task, args.episodes, seed=0),
                "collect": full_collection(domain, args.episodes, 0, Path(scratch) / domain),
            }, rounds=args.rounds)
            rates = {name: steps / s for name, s in seconds.items()}
            results[domain] = {
                "steps_per_second": {k: round(v) for k, v in rates.items()},
                "ratio_to_raw": {k: round(v / rates["raw"], 3) for k, v in rates.items()},
            }
    write_results("collect_cpu", {"episodes_per_round": args.episodes, "rounds": args.rounds, **results})


if __name__ == "__main__":
    main()
