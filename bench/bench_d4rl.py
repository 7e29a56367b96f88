"""The D4RL branch: Gymnasium evaluation throughput, and what paper-size distillation costs.

1. Evaluation. Environment steps per second of ``rollout_returns`` (K members x E episodes
   in lockstep, one batched forward pass of the policies per step) against raw stepping of
   one Gymnasium environment with precomputed random actions, run in alternation in one
   process; HalfCheetah never terminates early, so every episode is 1000 steps. The ratio
   is the share of raw physics speed that evaluation keeps.
2. Distillation. Seconds per outer step at OBD's sizes (N_syn 256, 100 unrolled inner
   steps, width 256, 10 minibatches of 256 states), for halfcheetah/walker2d's (17, 6) and
   hopper's (11, 3) states and actions, in alternation; projected onto the paper preset's
   D4RL grid (nine datasets x three objectives at ``d4rl.outer_steps``), outer steps only.

    python bench/bench_d4rl.py [--threads 2] [--rounds 3] [--device cpu|cuda]
"""

from __future__ import annotations

import numpy as np
import torch
from _common import interleaved, preset_benchmark_arguments, write_results
from bench_distill import preset_config, stepper

from berl.datasets import d4rl
from berl.datasets.envs import GymEnv
from berl.distill.settings import D4RLSettings
from berl.offline.evaluate import rollout_returns

TASK, MEMBERS, EPISODES, RAW_STEPS = "HalfCheetah-v4", 2, 3, 2000
SHAPES = {"halfcheetah/walker2d (17, 6)": (17, 6), "hopper (11, 3)": (11, 3)}


class MLPPolicy(torch.nn.Module):
    """K independent tanh MLP policies (width 256, as OBD's), for timing only."""

    def __init__(self, members: int, obs_dim: int, act_dim: int, width: int = 256):
        super().__init__()
        sizes = [obs_dim, width, width, width, act_dim]
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(members, a, b) / a**0.5) for a, b in zip(sizes, sizes[1:]))

    @torch.no_grad()
    def act(self, obs):
        x = obs
        for i, weight in enumerate(self.weights):
            x = x @ weight
            x = torch.relu(x) if i < len(self.weights) - 1 else torch.tanh(x)
        return x


def raw_stepping():
    env = GymEnv(TASK, seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (RAW_STEPS, env.action_dim)).astype(np.float32)

    def run():
        env.reset()
        for action in actions:
            if env.step(action)[2]:
                env.reset()

    return run


def evaluation():
    agent = MLPPolicy(MEMBERS, 17, 6)
    return lambda: rollout_returns(agent, [TASK] * MEMBERS, EPISODES)


def distillation_projection(config, paper: dict, device, rounds: int) -> dict:
    seconds = interleaved({name: stepper(config, device, 1, *shape) for name, shape in SHAPES.items()}, rounds)
    settings = D4RLSettings(**paper.get("d4rl", {}))
    default = paper["distill"]["outer_steps"]
    hours = 0.0
    for name in settings.datasets:
        shape = "hopper (11, 3)" if d4rl.environment(name) == "hopper" else "halfcheetah/walker2d (17, 6)"
        hours += sum(settings.outer_steps_of(name, objective, default) * seconds[shape]
                     for objective in ("dbc", "pbc", "av_pbc")) / 3600
    return {"seconds_per_outer_step": {name: round(value, 3) for name, value in seconds.items()},
            "datasets": len(settings.datasets), "outer_steps": {"default": settings.outer_steps,
                                                                "hopper": settings.hopper_outer_steps},
            "paper_grid_hours_outer_steps_only": round(hours, 1)}


def main() -> None:
    args, device, presets = preset_benchmark_arguments(__doc__)

    seconds = interleaved({"raw": raw_stepping(), "evaluation": evaluation()}, args.rounds)
    raw_rate = RAW_STEPS / seconds["raw"]
    evaluation_rate = MEMBERS * EPISODES * 1000 / seconds["evaluation"]
    results = {"threads": args.threads, "rounds": args.rounds, "device": str(device), "evaluation": {
        "task": TASK, "members": MEMBERS, "episodes": EPISODES,
        "raw_steps_per_second": round(raw_rate), "evaluation_steps_per_second": round(evaluation_rate),
        "evaluation_over_raw": round(evaluation_rate / raw_rate, 3)}}
    print(results["evaluation"], flush=True)
    paper = presets["paper"]
    results["distillation"] = distillation_projection(preset_config(paper), paper, device, args.rounds)
    write_results(f"d4rl_{device.type}", results)


if __name__ == "__main__":
    main()
