"""Where a job runs: the GPU the job can see, else the CPU."""

from __future__ import annotations

import torch


def pick_device() -> torch.device:
    # A scheduler that assigns GPUs sets CUDA_VISIBLE_DEVICES, so "cuda" is the job's GPU.
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(threads: int) -> None:
    """Use exactly the cores the rule declared (torch defaults to every core)."""
    torch.set_num_threads(max(1, threads))
