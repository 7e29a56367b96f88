#!/usr/bin/env bash
# What the `paper` preset costs on the hardware it targets: one command on a machine with one
# NVIDIA GPU, at most 8 minutes (each step has its own time limit below).
#
#   bash bench/gpu_check.sh                # paper sizes on the GPU, fp32 / TF32 / bf16
#   bash bench/gpu_check.sh --device cpu   # the same path on a CPU, sizes cut down (~5 min on
#                                          # 2 cores), results in a temporary folder
#
# On the GPU it measures, each in fp32 and with TF32 and bf16 autocast (a precision counts as
# usable where training in it ends within 5 % of fp32's parameter change, bench/_common.py):
#   - offline TD3, CQL and CRR, steps per second per agent at K = 1, 5, 25 and 75 agents per
#     job at paper sizes (1, 5, 15 at quick sizes), with each job's peak GPU memory;
#   - a distillation outer step at quick and paper sizes, with its peak memory;
#   - an APT explorer group (K = 5 against K = 1) at quick and paper sizes, fp32;
# and writes bench/results/{offline,distill}_cuda.json, explore_cuda_batching.json and
# paper_projection_cuda.json: the paper preset's GPU-hours on one GPU and its wall hours with
# `--resources gpu=2`.
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda
if [[ "${1:-}" == "--device" ]]; then device="${2:?--device needs a value}"; fi
export MUJOCO_GL=disable

if [[ "$device" == cuda ]]; then
    offline=(--paper-members 1 5 25 75 --quick-members 1 5 15 --precisions fp32 tf32 bf16 --rounds 3)
    distill=(--precisions fp32 tf32 bf16 --rounds 3)
    explore=(--rounds 2)
    threads=$(nproc)
    slack=1
else
    offline=(--sizes quick --quick-members 1 5 --precisions fp32 bf16 --rounds 1)
    distill=(--presets quick --precisions fp32 bf16 --rounds 1)
    explore=(--rounds 1)
    threads=2
    slack=3  # a 2-core CPU is slower: the limits below stretch, the check is not the 8-minute run
    BERL_BENCH_RESULTS=$(mktemp -d)
    export BERL_BENCH_RESULTS
    echo "CPU check: results in $BERL_BENCH_RESULTS"
fi

start=$SECONDS
timeout $((240 * slack)) python bench/bench_offline.py --device "$device" --threads "$threads" \
    --algorithms td3 cql crr "${offline[@]}"
timeout $((60 * slack)) python bench/bench_distill.py --device "$device" --threads "$threads" "${distill[@]}"
timeout $((120 * slack)) python bench/bench_explore.py --device "$device" --threads "$threads" --batching-only \
    "${explore[@]}"
timeout $((20 * slack)) python bench/bench_pipeline.py --project-only --device "$device"
echo "gpu_check: $device done in $((SECONDS - start)) s"
