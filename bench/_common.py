"""Shared helpers for the benchmarks: interleaved timing and result files."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


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


def preset_benchmark_arguments(description: str) -> tuple[argparse.Namespace, torch.device, dict]:
    """The flags of a benchmark that times a preset's sizes (threads, alternation rounds,
    device, configuration file); sets torch's threads and returns the device and presets."""
    import yaml

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args, torch.device(args.device), yaml.safe_load(open(args.config))["presets"]
