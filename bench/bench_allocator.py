"""The jobs' allocator setting (``berl.core.device.keep_freed_memory``) against glibc's
default: milliseconds per training step of offline TD3, CQL and CRR jobs of K agents.

With glibc's default, a freed block of more than a few MB goes back to the kernel and the
next step's activations are page-faulted in anew; a batched job's activations are that big
at the `quick` sizes already. Each (algorithm, K, setting) runs in a process of its own
(mallopt applies to a whole process), kept alive across rounds, and the rounds alternate
between the processes so machine noise hits both settings alike.

    python bench/bench_allocator.py [--threads 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import write_results

HERE = Path(__file__).resolve().parent
SETTINGS = ("default", "kept")
# A child: builds one job, warms it up, then times `steps` steps each time it reads a line.
CHILD = """
import sys, time, torch
torch.set_num_threads({threads})
from bench_offline import stepper
run = stepper({algorithm!r}, {hidden}, {batch}, {members}, {steps})
run()
for _ in sys.stdin:
    start = time.perf_counter(); run(); print(time.perf_counter() - start, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--algorithms", nargs="+", default=["td3", "cql", "crr"])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 5, 15])
    parser.add_argument("--hidden", type=int, default=128, help="the quick preset's width")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    results = {"threads": args.threads, "rounds": args.rounds, "hidden": args.hidden, "batch": args.batch,
               "steps_timed": args.steps, "ms_per_step": {}, "speedup_of_kept": {}}
    for algorithm in args.algorithms:
        for members in args.members:
            code = CHILD.format(threads=args.threads, algorithm=algorithm, hidden=args.hidden, batch=args.batch,
                                members=members, steps=args.steps)
            children = {
                setting: subprocess.Popen(
                    [sys.executable, "-c", code], cwd=HERE, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    env=os.environ | {"BERL_BENCH_MALLOC": setting})
                for setting in SETTINGS
            }
            seconds = {setting: [] for setting in SETTINGS}
            for _ in range(args.rounds):
                for setting, child in children.items():
                    child.stdin.write("go\n")
                    child.stdin.flush()
                    seconds[setting].append(float(child.stdout.readline()))
            for child in children.values():
                child.stdin.close()
                child.wait()
            ms = {setting: round(statistics.median(values) / args.steps * 1e3, 2) for setting, values in seconds.items()}
            key = f"{algorithm}_k{members}"
            results["ms_per_step"][key] = ms
            results["speedup_of_kept"][key] = round(ms["default"] / ms["kept"], 2)
            print(key, ms, results["speedup_of_kept"][key], flush=True)
    write_results("allocator_cpu", results)


if __name__ == "__main__":
    main()
