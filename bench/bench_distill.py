"""Behaviour distillation: outer steps per second and memory per outer step.

For the quick and paper presets' sizes (N_syn pairs, policy width, unrolled inner steps,
real states per outer step), Av-PBC outer steps on walker-shaped data run side by side,
in alternation. Memory per outer step is the size of every tensor autograd keeps for the
backward pass through the unrolled inner loop (counted with saved-tensor hooks, so the
same figure on any device), plus the peak allocated memory on a GPU. The projection
multiplies the step time by the paper grid's outer steps (datasets x tasks x objectives
and sweep sizes x outer steps).

    python bench/bench_distill.py [--threads 2] [--rounds 3] [--device cpu|cuda]
                                  [--presets quick paper] [--precisions fp32 tf32 bf16]

Precisions other than fp32 are timed the same way, each with its drift: the synthetic set
after DRIFT_STEPS outer steps against the same steps in fp32 (``_common.relative_drift``),
usable within PRECISION_TOLERANCE.
"""

from __future__ import annotations

from dataclasses import fields

import torch
from _common import (
    PRECISION_TOLERANCE, flat_parameters, interleaved, peak_memory_mb, precision, preset_benchmark_arguments,
    relative_drift, usable_precisions, write_results,
)

from berl.distill.obd import Distiller, RealData
from berl.distill.settings import DistillConfig

OBS_DIM, ACT_DIM, REAL = 24, 6, 20_000  # walker's sizes
DRIFT_STEPS = 5  # outer steps compared across precisions


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


def stepper(config: DistillConfig, device: torch.device, steps: int, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM,
            numerics: str = "fp32"):
    """A callable running ``steps`` outer steps in precision ``numerics``, and its distiller."""
    distiller, real, g = setup(config, device, obs_dim, act_dim)

    def run():
        with precision(numerics, device):
            for _ in range(steps):
                distiller.step(real, g)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run.distiller = distiller
    return run


def precision_drift(config: DistillConfig, device: torch.device, numerics: str) -> float:
    """The synthetic set after DRIFT_STEPS outer steps in ``numerics`` against fp32's."""
    runs = {name: stepper(config, device, DRIFT_STEPS, numerics=name) for name in ("fp32", numerics)}
    start = flat_parameters(runs["fp32"].distiller)
    for run in runs.values():
        run()
    return relative_drift(start, flat_parameters(runs["fp32"].distiller), flat_parameters(runs[numerics].distiller))


def main() -> None:
    args, device, presets = preset_benchmark_arguments(__doc__, precisions=True)
    configs = {name: preset_config(presets[name]) for name in args.presets}
    steps = {"quick": 5, "paper": 1}
    results = {"threads": args.threads, "rounds": args.rounds, "device": str(device), "drift_steps": DRIFT_STEPS,
               "tolerance": PRECISION_TOLERANCE}
    for numerics in usable_precisions(args.precisions, device):
        runners = {}
        for name, cfg in configs.items():
            runners[name] = stepper(cfg, device, steps.get(name, 1), numerics=numerics)
            runners[name]()  # warm-up
        seconds = interleaved(runners, rounds=args.rounds)
        for name, cfg in configs.items():
            per_step = seconds[name] / steps.get(name, 1)
            row = {"outer_steps_per_second": round(1 / per_step, 3)}
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
                stepper(cfg, device, 1, numerics=numerics)()
                row["peak_allocated_mb"] = peak_memory_mb(device)
            if numerics != "fp32":
                drift = precision_drift(cfg, device, numerics)
                results[name].setdefault("precisions", {})[numerics] = {
                    **row, "drift_vs_fp32": round(drift, 4), "within_tolerance": drift <= PRECISION_TOLERANCE}
                print(name, numerics, results[name]["precisions"][numerics], flush=True)
                continue
            row.update({"config": cfg.__dict__, "saved_for_backward_mb": round(saved_bytes(cfg, device) / 2**20, 1)})
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
