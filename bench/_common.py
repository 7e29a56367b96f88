"""Shared helpers for the benchmarks: interleaved timing and result files."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from berl.core.device import keep_freed_memory

# Benchmarks time what the pipeline's jobs run, with its allocator setting;
# BERL_BENCH_MALLOC=default keeps glibc's own (bench_allocator.py compares the two).
if os.environ.get("BERL_BENCH_MALLOC") != "default":
    keep_freed_memory()

# Where result files go: bench/results/, or BERL_BENCH_RESULTS (a cut-down check that must
# not overwrite the committed figures).
RESULTS = Path(os.environ.get("BERL_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def interleaved(candidates: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each callable, run in alternation so machine noise hits all alike."""
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    return path


def preset_benchmark_arguments(description: str, *, precisions: bool = False,
                               ) -> tuple[argparse.Namespace, torch.device, dict]:
    """The flags of a benchmark that times a preset's sizes (threads, alternation rounds,
    device, configuration file, and with ``precisions`` the PRECISIONS to time); sets
    torch's threads and returns the device and presets."""
    import yaml

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", default="config.yaml")
    if precisions:
        parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32"],
                            help="fp32 first; tf32 is skipped on a CPU")
        parser.add_argument("--presets", nargs="+", default=["quick", "paper"], help="the presets whose sizes to time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args, torch.device(args.device), yaml.safe_load(open(args.config))["presets"]


# fp32; tf32: float32 matmuls on TF32 tensor cores (CUDA only: a CPU has none, so it is
# skipped there); bf16: autocast to bfloat16 (matmuls and convolutions in bf16, reductions
# and losses in fp32).
PRECISIONS = ("fp32", "tf32", "bf16")
# A precision is usable where a job trained in it ends within this share of how far fp32
# training moved the parameters (same start, data and random streams): ‖θ_p − θ_fp32‖ /
# ‖θ_fp32 − θ_0‖.
PRECISION_TOLERANCE = 0.05


def usable_precisions(requested: list[str], device: torch.device) -> list[str]:
    return [p for p in requested if p != "tf32" or device.type == "cuda"]


@contextlib.contextmanager
def precision(name: str, device: torch.device):
    """Run the block in ``name`` (one of PRECISIONS) on ``device``."""
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not one of {PRECISIONS}")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = name == "tf32"
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16) if name == "bf16" else contextlib.nullcontext():
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def flat_parameters(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().float().reshape(-1) for p in module.parameters()])


def relative_drift(start: torch.Tensor, reference: torch.Tensor, other: torch.Tensor) -> float:
    """‖other − reference‖ / ‖reference − start‖: how far a run in another precision ends
    from the fp32 run, relative to how far the fp32 run moved."""
    return float((other - reference).norm() / (reference - start).norm().clamp_min(1e-12))


def peak_memory_mb(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None
