"""Device choice: each concurrent GPU job gets its own device, claims die with their process."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from berl.core import device


@pytest.fixture
def locks(tmp_path, monkeypatch):
    monkeypatch.setenv(device.LOCK_DIR_VARIABLE, str(tmp_path / "locks"))
    yield tmp_path / "locks"
    while device._claimed:
        device._claimed.pop().close()


def simulate_gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)


def test_without_gpus_every_job_runs_on_the_cpu(locks, monkeypatch):
    simulate_gpus(monkeypatch, 0)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [device.pick_device() for _ in range(3)] == [torch.device("cpu")] * 3
    assert not locks.exists()


def test_concurrent_jobs_get_different_gpus(locks, monkeypatch):
    simulate_gpus(monkeypatch, 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    first, second = device.pick_device(), device.pick_device()
    assert {first, second} == {torch.device("cuda", 0), torch.device("cuda", 1)}
    with pytest.raises(TimeoutError, match="no free GPU"):
        device.claim_gpu(["0", "1"], locks, poll_seconds=0.01, timeout=0.05)
    device._claimed.pop(0).close()  # the job on the first device ends
    index, handle = device.claim_gpu(["0", "1"], locks, timeout=0)
    assert torch.device("cuda", index) == first
    handle.close()


def test_a_scheduler_assignment_is_honoured(locks, monkeypatch):
    # SLURM gave this job physical GPU 3: torch sees it as cuda:0, the lock names it 3.
    simulate_gpus(monkeypatch, 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert device.pick_device() == torch.device("cuda", 0)
    assert (locks / "gpu-3.lock").read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("listed, count, names", [
    (None, 2, ["0", "1"]), ("2,5", 2, ["2", "5"]), ("2, 5", 1, ["2"]), ("", 0, []),
    ("GPU-8f3c", 1, ["GPU-8f3c"]),
])
def test_visible_gpu_names(monkeypatch, listed, count, names):
    if listed is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert device.visible_gpu_names(count) == names


def test_a_killed_job_frees_its_gpu(locks):
    # Two separate processes hold both devices; SIGKILL one and its device becomes free.
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from berl.core.device import claim_gpu
        index, handle = claim_gpu(["0", "1"], Path({str(locks)!r}), poll_seconds=0.01)
        print(index, flush=True)
        time.sleep(600)
    """)
    jobs = [subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    try:
        claimed = [int(job.stdout.readline()) for job in jobs]
        assert sorted(claimed) == [0, 1]
        with pytest.raises(TimeoutError):
            device.claim_gpu(["0", "1"], locks, poll_seconds=0.01, timeout=0.05)
        jobs[0].send_signal(signal.SIGKILL)
        jobs[0].wait()
        index, handle = device.claim_gpu(["0", "1"], locks, poll_seconds=0.01, timeout=10)
        assert index == claimed[0]
        handle.close()
    finally:
        for job in jobs:
            job.kill()
            job.wait()
