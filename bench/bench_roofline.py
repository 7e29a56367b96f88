"""Offline updates against this machine's own matrix-multiply limit.

One training step of TD3, CQL and CRR (one agent, paper sizes: width 1024, batch 1024,
walker's shapes) is run once under a dispatch hook that records every matrix product it
executes (mm, addmm, bmm, baddbmm: forward and backward). The same products, on tensors of
the same shapes, are then timed alone, in alternation with the whole step. Their time is
what the step would take if nothing but its matrix products cost anything, at the speed
this machine multiplies these shapes; the fraction `gemm_seconds / step_seconds` says how
close the step comes to that limit (1 = all of its time in matrix products), and the GEMMs'
GFLOP/s what that limit is. Where the rest goes: one more step under torch's profiler, its
operators' own time summed by kind (matrix products, the optimiser, element-wise and
normalisation passes over activations, and everything else), with the costliest operators.

    python bench/bench_roofline.py [--threads 2] [--rounds 5] [--algorithms td3 cql crr]
"""

from __future__ import annotations

import argparse

import torch
from _common import interleaved, write_results
from bench_offline import SIZES, random_data, stepper
from torch.utils._python_dispatch import TorchDispatchMode

PRODUCTS = ("mm", "addmm", "bmm", "baddbmm")


class MatrixProducts(TorchDispatchMode):
    """Records (op, shapes of its tensor arguments) of every matrix product dispatched."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, list[tuple[int, ...]]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in PRODUCTS:
            self.calls.append((name, [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]))
        return func(*args, **(kwargs or {}))


def flops(name: str, shapes: list[tuple[int, ...]]) -> int:
    """Multiply-adds x 2 of one product (the operands' last two dimensions, batched for bmm)."""
    a, b = shapes[-2], shapes[-1]
    batch = a[0] if name in ("bmm", "baddbmm") else 1
    m, k, n = a[-2], a[-1], b[-1]
    return 2 * batch * m * k * n


def replay(calls: list[tuple[str, list[tuple[int, ...]]]], device: torch.device):
    """A callable running the recorded products on fresh tensors of the same shapes."""
    operands = [(getattr(torch, name), [torch.randn(shape, device=device) for shape in shapes]) for name, shapes in calls]

    def run():
        for op, tensors in operands:
            op(*tensors)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return run


def time_by_kind(step) -> tuple[dict[str, float], dict[str, float]]:
    """Shares of one profiled step's operator time by kind, and the five costliest operators'."""
    from torch.profiler import profile

    with profile() as profiler:
        step()
    own = {event.key: event.self_cpu_time_total for event in profiler.key_averages()}
    total = sum(own.values())

    def kind(name: str) -> str:
        if name.removeprefix("aten::") in PRODUCTS:
            return "matrix products"
        if "Adam" in name or "adam" in name:
            return "optimiser"
        if name.startswith("aten::") and any(word in name for word in (
                "mul", "add", "sub", "div", "tanh", "relu", "clamp", "threshold", "layer_norm", "copy",
                "exp", "log", "pow", "sum", "mean", "amin", "where", "cat", "normal", "uniform")):
            return "element-wise and normalisation"
        return "other"

    kinds: dict[str, float] = {}
    for name, seconds in own.items():
        kinds[kind(name)] = kinds.get(kind(name), 0.0) + seconds / total
    costliest = dict(sorted(own.items(), key=lambda item: -item[1])[:5])
    return ({name: round(share, 3) for name, share in sorted(kinds.items(), key=lambda item: -item[1])},
            {name: round(seconds / total, 3) for name, seconds in costliest.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--algorithms", nargs="+", default=["td3", "cql", "crr"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    hidden, batch = SIZES["paper"]
    data = random_data(100_000, device)
    results: dict = {"threads": args.threads, "rounds": args.rounds, "hidden_dim": hidden, "batch_size": batch}
    for algorithm in args.algorithms:
        step = stepper(algorithm, hidden, batch, 1, 1, device, data)
        step()  # warm-up
        recorder = MatrixProducts()
        with recorder:
            step()
        gemms = replay(recorder.calls, device)
        seconds = interleaved({"step": step, "gemms": gemms}, rounds=args.rounds)
        total = sum(flops(name, shapes) for name, shapes in recorder.calls)
        results[algorithm] = {
            "matrix_products": len(recorder.calls),
            "gflop_per_step": round(total / 1e9, 2),
            "step_seconds": round(seconds["step"], 4),
            "gemm_seconds": round(seconds["gemms"], 4),
            "gemm_gflops": round(total / seconds["gemms"] / 1e9, 1),
            "fraction_of_gemm_limit": round(seconds["gemms"] / seconds["step"], 3),
        }
        results[algorithm]["profiled_time_share_by_kind"], results[algorithm]["costliest_operators"] = \
            time_by_kind(step)
        print(algorithm, results[algorithm], flush=True)
    write_results(f"roofline_{device.type}", results)


if __name__ == "__main__":
    main()
