"""Behaviour distillation: outer steps per second and memory per outer step.

For the quick and paper presets' sizes (N_syn pairs, policy width, unrolled inner steps,
real states per outer step), Av-PBC outer steps on walker-shaped data run side by side,
in alternation. Memory per outer step is the size of every tensor autograd keeps for the
backward pass through the unrolled inner loop (counted with saved-tensor hooks, so the
same figure on any device), plus the peak allocated memory on a GPU. The projection
multiplies the step time by the paper grid's outer steps (datasets x tasks x objectives
and sweep sizes x outer steps).

    python bench/bench_distill.py [--threads 2] [--rounds 3] [--device cpu|cuda]
"""

from __future__ import annotations

from dataclasses import fields

import torch
from _common import interleaved, preset_benchmark_arguments, write_results

from berl.distill.obd import DistillConfig, Distiller, RealData

OBS_DIM, ACT_DIM, REAL = 24, 6, 20_000  # walker's sizes


def preset_config(preset: dict) -> DistillConfig:
    """The preset's distillation settings; DistillConfig's defaults for those it leaves out."""
    distill = preset["distill"]
    return DistillConfig(**{f.name: distill[f.name] for f in fields(DistillConfig) if f.name in distill})


def setup(config: DistillConfig, device: torch.device, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM):
    g = torch.Generator(device).manual_seed(0)
    obs = torch.randn(REAL, obs_dim, generator=g, device=device)
    real = RealData(obs, torch.rand(REAL, act_dim, generator=g, device=device) * 2 - 1,
                    torch.rand(REAL, generator=g, device=device))
    distiller = Distiller(obs[: config.synthetic], real.targets[: config.synthetic], config)
    return distiller, real, g


def saved_bytes(config: DistillConfig, device: torch.device) -> int:
    """Bytes autograd keeps for one outer step's backward pass."""
    distiller, real, g = setup(config, device)
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        distiller.step(real, g)
    return total


def stepper(config: DistillConfig, device: torch.device, steps: int, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM):
    distiller, real, g = setup(config, device, obs_dim, act_dim)

    def run():
        for _ in range(steps):
            distiller.step(real, g)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run()  # warm-up
    return run


def main() -> None:
    args, device, presets = preset_benchmark_arguments(__doc__)
    configs = {name: preset_config(presets[name]) for name in ("quick", "paper")}
    steps = {"quick": 5, "paper": 1}
    seconds = interleaved({name: stepper(cfg, device, steps[name]) for name, cfg in configs.items()},
                          rounds=args.rounds)
    results = {"threads": args.threads, "rounds": args.rounds, "device": str(device)}
    for name, cfg in configs.items():
        per_step = seconds[name] / steps[name]
        row = {"config": cfg.__dict__, "outer_steps_per_second": round(1 / per_step, 3),
               "saved_for_backward_mb": round(saved_bytes(cfg, device) / 2**20, 1)}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            stepper(cfg, device, 1)()
            row["peak_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        preset = presets[name]
        distill = preset["distill"]
        datasets, tasks = len(preset["datasets"]), len(distill.get("tasks", preset["tasks"]))
        runs = datasets * tasks * (len(distill.get("objectives", [0, 0, 0])) + len(distill["sizes"]))
        row["grid_jobs"] = runs
        row["grid_hours_outer_steps_only"] = round(runs * distill["outer_steps"] * per_step / 3600, 1)
        results[name] = row
        print(name, row, flush=True)
    write_results(f"distill_{device.type}", results)


if __name__ == "__main__":
    main()
