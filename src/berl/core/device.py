"""Where a job runs: a GPU no other job on this machine holds, else the CPU.

Snakemake's `--resources gpu=N` only counts jobs; it assigns no device. So a GPU job claims
one itself, by an exclusive lock on a file per device in a directory that every job on the
machine shares. The lock lives as long as the process (the kernel drops it when the process
ends, even by SIGKILL), so a crashed job never leaves a device claimed. The devices considered
are the ones the job can see: a scheduler that set CUDA_VISIBLE_DEVICES (SLURM does) narrows
them, and its entries name the lock files, so jobs with different views of the same machine
still agree on which physical device is which.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import IO

import torch

log = logging.getLogger(__name__)

LOCK_DIR_VARIABLE = "BERL_GPU_LOCK_DIR"
# Held open for the life of the process: closing the file would release the device.
_claimed: list[IO] = []


def lock_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"berl-gpu-locks-{os.getuid()}"
    return Path(os.environ.get(LOCK_DIR_VARIABLE, default))


def visible_gpu_names(count: int) -> list[str]:
    """A stable name per visible device: its CUDA_VISIBLE_DEVICES entry, else its index."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(index) for index in range(count)]
    return [entry.strip() for entry in listed.split(",") if entry.strip()][:count]


def claim_gpu(names: list[str], directory: Path, poll_seconds: float = 1.0,
              timeout: float | None = None) -> tuple[int, IO] | None:
    """Lock the first free device of `names`; wait while all are held. None when there are none.

    Returns the device's index among the visible ones and the open lock file (the claim).
    """
    if not names:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    start, warned = time.monotonic(), False
    while True:
        for index, name in enumerate(names):
            handle = open(directory / f"gpu-{name}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            return index, handle
        if timeout is not None and time.monotonic() - start >= timeout:
            raise TimeoutError(f"no free GPU among {names} after {timeout:.0f} s (locks in {directory})")
        if not warned:
            log.warning("all %d GPUs are held by other jobs; waiting (run with --resources gpu=%d "
                        "to keep Snakemake from starting more GPU jobs than devices)", len(names), len(names))
            warned = True
        time.sleep(poll_seconds)


def pick_device() -> torch.device:
    """This job's device: a GPU claimed for the rest of the process, or the CPU."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    claim = claim_gpu(visible_gpu_names(count), lock_dir())
    if claim is None:
        return torch.device("cpu")
    index, handle = claim
    _claimed.append(handle)
    torch.cuda.set_device(index)  # so that code asking for "cuda" gets this device too
    log.info("running on cuda:%d (lock %s)", index, handle.name)
    return torch.device("cuda", index)


def set_threads(threads: int) -> None:
    """Use exactly the cores the rule declared (torch defaults to every core)."""
    torch.set_num_threads(max(1, threads))


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for the next allocation instead of handing it
    back to the kernel.

    By default a block over a dynamic threshold (a few MB) is mapped afresh and the heap's
    free top is trimmed, so every training step's activations are page-faulted in anew, 4 KB
    at a time, on first touch: up to two fifths of a batched CRR job's step at the `quick`
    sizes on a quiet machine, more where jobs share it (bench/results/allocator_cpu.json).
    Every block now comes from the heap (no mapping per block) and up to 1 GB of freed heap
    is kept for reuse. False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
